// Kioku's one HTTP client, for every remote service (LLM providers,
// embedders, voice, model downloads, Telegram, Bluesky), on cpp-httplib.
//
//   net::HttpClient http({.base_url = "http://127.0.0.1:11434", .service = {"Ollama"}});
//   net::Response r = http.send({.method = "POST", .path = "/api/chat", .body = json,
//                                .content_type = "application/json"});
//   if (!r.ok()) throw http.error_for(r);  // the one mapping to kioku::Error
//
// send() never throws for what the network or the server did: every answer
// (or the lack of one) is a Response with a typed Outcome. Retries follow the
// client's RetryPolicy (net/retry.h): unreachable, timeout, rate-limited and
// server-error outcomes are tried again; auth and bad-request never are, and
// neither is a streamed request once any of its body reached the caller (so a
// caller never sees text twice). error_for() turns a failed Response into the
// kioku::Error the rest of Kioku understands, naming the service and never
// containing a secret: a 401/403 reads "the API key was refused by <service>".
//
// httplib.h stays inside src/net: nothing here exposes it.
// Thread safety: one request at a time per client (send() serialises on an
// internal mutex); cancel() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/url.h"
#include "net/retry.h"

namespace kioku::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

enum class Outcome {
  kOk,           // a 2xx answer
  kUnreachable,  // no HTTP answer: refused, reset, DNS, TLS, or the connection dropped mid-body
  kTimeout,      // no connection or no data within the timeout (or HTTP 408)
  kAuth,         // 401 / 403: the credentials were refused
  kRateLimited,  // 429
  kBadRequest,   // any other 4xx (and unexpected 1xx/3xx): this request will not work as it is
  kServerError,  // 5xx
  kCancelled,    // cancel() was called, or the caller's streaming callback stopped the body
};
std::string_view to_string(Outcome outcome);
// The outcome an HTTP status stands for.
Outcome outcome_of_status(int status);
// Whether the retry policy tries an outcome again.
bool is_retryable(Outcome outcome);

// One part of a multipart/form-data body. An empty filename makes it a plain field.
struct FormPart {
  std::string name;
  std::string content;
  std::string filename;
  std::string content_type;
};

struct Response;

struct Request {
  std::string method = "GET";
  std::string path;  // after the base URL's path; may carry a query string ("?a=1")
  Headers headers;
  std::string body;
  std::string content_type;     // of body
  std::vector<FormPart> parts;  // when not empty, a multipart/form-data body replaces body
  // Streaming: each piece of a 2xx body is passed on as it arrives (and not
  // kept in Response::body). Returning false stops reading (kCancelled). An
  // exception thrown here ends send() and reaches its caller.
  std::function<bool(std::string_view chunk)> on_body;
  // Called with the status and headers of a 2xx answer (after redirects)
  // before its body; returning false stops it (kCancelled). May throw, as on_body.
  std::function<bool(const Response& head)> on_head;
  std::optional<double> read_timeout_s;  // overrides the client's (e.g. a long poll)
  std::optional<RetryPolicy> retry;      // overrides the client's
};

struct Response {
  Outcome outcome = Outcome::kUnreachable;
  int status = 0;  // 0: no HTTP answer
  Headers headers;
  // The whole body; for a streamed request only the body of a non-2xx
  // answer (kept up to 1 MiB, enough for an error message).
  std::string body;
  std::string transport_error;          // httplib's words when there was no answer
  std::optional<double> retry_after_s;  // what the server asked for (Retry-After or the service's own hint)
  double timeout_s = 0;                 // the timeout that expired, for kTimeout
  int attempts = 0;
  bool streamed = false;  // some of the body reached on_body

  bool ok() const { return outcome == Outcome::kOk; }
  // A header's value (names compare case-insensitively); "" when absent.
  std::string header(std::string_view name) const;
};

// Who a client talks to, for error messages.
struct Service {
  std::string name = "the server";     // "Anthropic", "Telegram", "the speech server"
  std::string credential = "API key";  // what a 401/403 refused: "bot token", "app password"
  std::vector<std::string> secrets;    // replaced by "***" in every message (keys, tokens)
};

struct ClientOptions {
  std::string base_url;  // "https://host:port/prefix"; invalid_input when malformed
  Service service;
  double connect_timeout_s = 5;
  double read_timeout_s = 60;  // also the write timeout
  RetryPolicy retry;
  bool follow_redirects = false;
  bool keep_alive = false;  // keep one connection open between requests
  // A service that says how long to wait in its body (Telegram's
  // parameters.retry_after) rather than in a Retry-After header.
  std::function<std::optional<double>(const Response&)> retry_after_hint;
  // The randomness of the jitter, in [0, 1); tests pin it.
  std::function<double()> random;
};

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends request with the retry policy; see the notes at the top.
  Response send(const Request& request);
  // Interrupts the request in flight (it ends kCancelled, without retrying),
  // or, when none is, makes the next send() end kCancelled at once.
  void cancel();

  // The one mapping from a failed Response to kioku::Error:
  //   unreachable, timeout, rate-limited, server error, cancelled -> kUnavailable
  //   auth        -> kAuthFailed: "the API key was refused by <service> (HTTP 401 ...)"
  //   bad request -> kInvalidInput (404 kNotFound, 413 kTooLarge)
  // `what` names the operation ("sendMessage", "posting"). Never contains a secret.
  Error error_for(const Response& response, std::string_view what = "") const;
  // A protocol failure of an answer that arrived (malformed JSON, a cut
  // stream): kUnavailable, in the same words as error_for.
  Error protocol_error(const std::string& problem, std::string_view what = "") const;
  // Replaces every secret of the service by "***".
  std::string redact(std::string text) const;

  const BaseUrl& base() const { return base_; }
  const ClientOptions& options() const { return options_; }

 private:
  struct Impl;
  Response attempt(const Request& request);
  bool wait_unless_cancelled(double seconds);
  std::string where(std::string_view what) const;

  ClientOptions options_;
  BaseUrl base_;
  std::unique_ptr<Impl> impl_;
  std::mutex send_mutex_;  // one request at a time
  std::atomic<bool> cancel_requested_{false};
  std::mutex wait_mutex_;
  std::condition_variable wait_cv_;
};

// The error text in a JSON error body, whatever its shape: {"error": "..."},
// {"error": {"message": "..."}}, {"message"}, {"description"} (Telegram),
// {"detail"}, {"error": "Name", "message": "..."} (AT Protocol); else the
// start of the body. At most 300 bytes, cut between UTF-8 characters.
std::string error_detail(std::string_view body);

// Replaces every occurrence of each non-empty secret by "***".
std::string redact(std::string text, const std::vector<std::string>& secrets);

// "?a=1&b=x%20y" for a request path ("" without params); names and values
// percent-encoded (RFC 3986 unreserved characters stay as they are).
std::string query_string(const Headers& params);

}  // namespace kioku::net
