// The HTTP part shared by the providers, on net::HttpClient: JSON POSTs and
// streaming bodies cut into lines (SSE and NDJSON are both line-based).
// Retries, timeouts and the mapping of failures to kioku::Error are the net
// layer's: auth failures (a wrong key) and bad requests are never retried.
// Private to src/llm. Thread safety: one request at a time.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "llm/llm_client.h"
#include "net/http_client.h"
#include "net/lines.h"

namespace kioku::llm {

using Headers = net::Headers;
using net::sse_data;

struct HttpReply {
  int status = 0;
  std::string body;  // empty when streamed line by line
};

class HttpTransport {
 public:
  HttpTransport(const LlmConfig& config, std::string provider_label);
  // POSTs json to path. Without on_line the body is returned whole; with
  // on_line every complete line of a 2xx body is passed on as it arrives.
  // Throws the net layer's error for a failed request.
  HttpReply post(const std::string& path, const Headers& headers, const std::string& body,
                 const std::function<void(std::string_view line)>& on_line = {});
  HttpReply get(const std::string& path, const Headers& headers);
  const BaseUrl& base() const { return http_.base(); }
  // A reply that arrived but makes no sense (malformed JSON, a cut stream): kUnavailable.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  HttpReply request(net::Request request, const std::function<void(std::string_view)>& on_line);
  net::HttpClient http_;
};

}  // namespace kioku::llm
