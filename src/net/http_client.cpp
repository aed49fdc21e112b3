#include "net/http_client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <random>

#include <nlohmann/json.hpp>

#include "core/text.h"

namespace kioku::net {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxErrorBody = 1 << 20;

std::pair<time_t, time_t> split_seconds(double s) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(std::max(0.0, s)));
  return {static_cast<time_t>(us.count() / 1000000), static_cast<time_t>(us.count() % 1000000)};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string seconds_text(double s) {
  if (s >= 10 || s == static_cast<int64_t>(s)) return std::to_string(std::llround(s)) + " s";
  std::string t = std::to_string(s);
  t.erase(t.find_last_not_of('0') + 1);
  if (t.back() == '.') t.pop_back();
  return t + " s";
}

std::string multipart_body(const std::vector<FormPart>& parts, const std::string& boundary) {
  std::string out;
  for (const auto& p : parts) {
    out += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) out += "; filename=\"" + p.filename + "\"";
    out += "\r\n";
    if (!p.content_type.empty()) out += "Content-Type: " + p.content_type + "\r\n";
    out += "\r\n" + p.content + "\r\n";
  }
  return out + "--" + boundary + "--\r\n";
}

std::string random_boundary() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string b = "----kioku-";
  for (int i = 0; i < 24; ++i) b.push_back(kChars[rng() % (sizeof(kChars) - 1)]);
  return b;
}

}  // namespace

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kUnreachable: return "unreachable";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kAuth: return "auth";
    case Outcome::kRateLimited: return "rate_limited";
    case Outcome::kBadRequest: return "bad_request";
    case Outcome::kServerError: return "server_error";
    case Outcome::kCancelled: return "cancelled";
  }
  return "unreachable";
}

Outcome outcome_of_status(int status) {
  if (status >= 200 && status < 300) return Outcome::kOk;
  if (status == 401 || status == 403) return Outcome::kAuth;
  if (status == 408) return Outcome::kTimeout;
  if (status == 429) return Outcome::kRateLimited;
  if (status >= 500) return Outcome::kServerError;
  return Outcome::kBadRequest;
}

bool is_retryable(Outcome outcome) {
  return outcome == Outcome::kUnreachable || outcome == Outcome::kTimeout || outcome == Outcome::kRateLimited ||
         outcome == Outcome::kServerError;
}

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

std::string redact(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t p; (p = text.find(secret)) != std::string::npos;) text.replace(p, secret.size(), "***");
  }
  return text;
}

std::string error_detail(std::string_view body) {
  std::string detail;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    const auto text_of = [&](const char* key) -> std::string {
      if (!j.contains(key)) return "";
      const auto& v = j[key];
      if (v.is_string()) return v.get<std::string>();
      if (v.is_object() && v.contains("message") && v["message"].is_string()) return v["message"].get<std::string>();
      return v.is_null() ? "" : v.dump();
    };
    const std::string error = text_of("error");
    const std::string message = text_of("message");
    // AT Protocol: {"error": "ExpiredToken", "message": "Token has expired"}.
    detail = !error.empty() && !message.empty() ? error + ": " + message : !error.empty() ? error : message;
    if (detail.empty()) detail = text_of("description");
    if (detail.empty()) detail = text_of("detail");
  }
  if (detail.empty() && !j.is_object()) {
    detail = std::string(body);
    // An HTML error page or binary noise says nothing useful on one line.
    if (detail.find('<') != std::string::npos || !is_valid_utf8(detail)) detail.clear();
    std::replace(detail.begin(), detail.end(), '\n', ' ');
  }
  while (!detail.empty() && std::isspace(static_cast<unsigned char>(detail.back()))) detail.pop_back();
  return truncate_utf8(detail, 300);
}

std::string query_string(const Headers& params) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto encode = [](std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else {
        out.push_back('%');
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
    }
    return out;
  };
  std::string out;
  for (const auto& [k, v] : params) out += (out.empty() ? "?" : "&") + encode(k) + "=" + encode(v);
  return out;
}

// --------------------------------------------------------------- client ---

struct HttpClient::Impl {
  explicit Impl(const std::string& origin) : client(origin) {}
  httplib::Client client;
  std::mt19937_64 rng{std::random_device{}()};
};

HttpClient::HttpClient(ClientOptions options) : options_(std::move(options)), base_(parse_base_url(options_.base_url)) {
  impl_ = std::make_unique<Impl>(base_.origin());
  auto& c = impl_->client;
  const auto [cs, cus] = split_seconds(options_.connect_timeout_s);
  c.set_connection_timeout(cs, cus);
  c.set_keep_alive(options_.keep_alive);
  c.set_follow_location(options_.follow_redirects);
}

HttpClient::~HttpClient() = default;

void HttpClient::cancel() {
  {
    std::lock_guard<std::mutex> lock(wait_mutex_);
    cancel_requested_ = true;
  }
  wait_cv_.notify_all();
  impl_->client.stop();
}

bool HttpClient::wait_unless_cancelled(double seconds) {
  std::unique_lock<std::mutex> lock(wait_mutex_);
  wait_cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return cancel_requested_.load(); });
  return !cancel_requested_.exchange(false);
}

Response HttpClient::send(const Request& request) {
  std::lock_guard<std::mutex> lock(send_mutex_);
  const RetryPolicy policy = request.retry.value_or(options_.retry);
  Response r;
  for (int n = 1;; ++n) {
    if (cancel_requested_.exchange(false)) {
      r = Response{};
      r.outcome = Outcome::kCancelled;
      r.transport_error = "cancelled";
      r.attempts = n - 1;
      return r;
    }
    r = attempt(request);
    r.attempts = n;
    if (!r.ok() && cancel_requested_.exchange(false)) {
      r.outcome = Outcome::kCancelled;
      return r;
    }
    if (!is_retryable(r.outcome) || r.streamed || n >= std::max(1, policy.max_attempts)) return r;
    if (r.retry_after_s && *r.retry_after_s > policy.max_retry_after_s) return r;
    const double unit =
        options_.random ? options_.random() : std::uniform_real_distribution<double>(0.0, 1.0)(impl_->rng);
    if (!wait_unless_cancelled(backoff_s(policy, n, r.retry_after_s, unit))) {
      r.outcome = Outcome::kCancelled;
      return r;
    }
  }
}

Response HttpClient::attempt(const Request& request) {
  auto& client = impl_->client;
  const double read_timeout = request.read_timeout_s.value_or(options_.read_timeout_s);
  const auto [rs, rus] = split_seconds(read_timeout);
  client.set_read_timeout(rs, rus);
  client.set_write_timeout(rs, rus);

  httplib::Request req;
  req.method = request.method;
  req.path = base_.path + request.path;
  for (const auto& [k, v] : request.headers) req.headers.emplace(k, v);
  if (!request.parts.empty()) {
    const std::string boundary = random_boundary();
    req.body = multipart_body(request.parts, boundary);
    req.headers.emplace("Content-Type", "multipart/form-data; boundary=" + boundary);
  } else if (!request.body.empty() || !request.content_type.empty()) {
    req.body = request.body;
    if (!request.content_type.empty()) req.headers.emplace("Content-Type", request.content_type);
  }

  Response out;
  auto last_activity = Clock::now();
  bool stopped_by_caller = false;
  std::exception_ptr caller_error;
  // The response handler sees the status and headers of the final answer
  // (redirects are followed inside httplib before it is called).
  req.response_handler = [&](const httplib::Response& head) {
    last_activity = Clock::now();
    out.status = head.status;
    out.headers.assign(head.headers.begin(), head.headers.end());
    if (outcome_of_status(head.status) != Outcome::kOk || !request.on_head) return true;
    try {
      out.outcome = Outcome::kOk;
      if (request.on_head(out)) return true;
    } catch (...) {
      caller_error = std::current_exception();
    }
    stopped_by_caller = true;
    return false;
  };
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    last_activity = Clock::now();
    if (outcome_of_status(out.status) != Outcome::kOk || !request.on_body) {
      if (out.body.size() + len > (request.on_body ? kMaxErrorBody : out.body.max_size())) return false;
      out.body.append(data, len);
      return true;
    }
    if (len == 0) return true;
    out.streamed = true;
    try {
      if (request.on_body(std::string_view(data, len))) return true;
    } catch (...) {
      caller_error = std::current_exception();
    }
    stopped_by_caller = true;
    return false;
  };

  auto res = client.send(req);
  if (caller_error) std::rethrow_exception(caller_error);
  if (stopped_by_caller) {
    out.outcome = Outcome::kCancelled;
    out.transport_error = "stopped by the reader";
    return out;
  }
  if (!res) {
    const auto error = res.error();
    out.transport_error = httplib::to_string(error);
    const double idle = std::chrono::duration<double>(Clock::now() - last_activity).count();
    if (error == httplib::Error::ConnectionTimeout) {
      out.outcome = Outcome::kTimeout;
      out.timeout_s = options_.connect_timeout_s;
    } else if ((error == httplib::Error::Read || error == httplib::Error::Write) && idle >= 0.9 * read_timeout) {
      // httplib reports an expired read timeout as a failed read: the idle
      // time tells the two apart.
      out.outcome = Outcome::kTimeout;
      out.timeout_s = read_timeout;
    } else if (error == httplib::Error::Canceled) {
      out.outcome = Outcome::kCancelled;
    } else {
      out.outcome = Outcome::kUnreachable;
    }
    return out;
  }
  out.status = res->status;
  if (out.headers.empty()) out.headers.assign(res->headers.begin(), res->headers.end());
  out.outcome = outcome_of_status(out.status);
  if (!out.ok()) {
    out.retry_after_s = parse_retry_after(out.header("Retry-After"));
    if (!out.retry_after_s && options_.retry_after_hint) out.retry_after_s = options_.retry_after_hint(out);
  }
  return out;
}

std::string HttpClient::redact(std::string text) const {
  return net::redact(std::move(text), options_.service.secrets);
}

std::string HttpClient::where(std::string_view what) const {
  const std::string& name = options_.service.name;
  if (what.empty()) return name + " at " + base_.origin();
  return name + " (" + std::string(what) + " at " + base_.origin() + ")";
}

Error HttpClient::protocol_error(const std::string& problem, std::string_view what) const {
  return unavailable(redact(where(what) + ": " + problem));
}

Error HttpClient::error_for(const Response& r, std::string_view what) const {
  const std::string detail = redact(error_detail(r.body));
  const std::string http = "HTTP " + std::to_string(r.status) + (detail.empty() ? "" : ": " + detail);
  const std::string tries = r.attempts > 1 ? " (gave up after " + std::to_string(r.attempts) + " attempts)" : "";
  switch (r.outcome) {
    case Outcome::kOk: return Error(ErrorCode::kInternal, where(what) + ": error_for() called on a successful answer");
    case Outcome::kAuth: {
      const auto& s = options_.service;
      std::string m = "the " + s.credential + " was refused by " + s.name + " (" +
                      (what.empty() ? "" : std::string(what) + ": ") + http + ", at " + base_.origin() + ")";
      return Error(ErrorCode::kAuthFailed, redact(m));
    }
    case Outcome::kBadRequest: {
      const std::string m = redact(where(what) + ": " + http);
      if (r.status == 404) return not_found(m);
      if (r.status == 413) return too_large(m);
      return invalid_input(m);
    }
    case Outcome::kRateLimited: {
      std::string m = where(what) + ": rate limited (" + http + ")";
      if (r.retry_after_s) m += ", asked to wait " + seconds_text(*r.retry_after_s);
      return unavailable(redact(m + tries));
    }
    case Outcome::kServerError: return unavailable(redact(where(what) + ": " + http + tries));
    case Outcome::kTimeout: {
      const std::string m = r.status == 408 ? http : "no answer within " + seconds_text(r.timeout_s);
      return unavailable(redact(where(what) + ": " + m + tries));
    }
    case Outcome::kCancelled: return unavailable(redact(where(what) + ": the request was interrupted"));
    case Outcome::kUnreachable: {
      const std::string m =
          r.streamed ? "the connection dropped in the middle of the answer (" : "cannot reach the server (";
      return unavailable(redact(where(what) + ": " + m + r.transport_error + ")" + tries));
    }
  }
  return unavailable(redact(where(what) + ": " + http));
}

}  // namespace kioku::net
