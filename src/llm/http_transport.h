// The HTTP part shared by the providers: JSON POSTs with retries, and
// streaming bodies cut into lines (SSE and NDJSON are both line-based).
// Private to src/llm.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/url.h"
#include "llm/llm_client.h"

namespace kioku::llm {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  int status = 0;
  std::string body;  // empty when streamed line by line
};

class HttpTransport {
 public:
  HttpTransport(const LlmConfig& config, std::string provider_label);
  // POSTs json to path. Without on_line the body is returned whole; with
  // on_line every complete line of a 200 body is passed on as it arrives.
  // Retries (connection errors, 429, 5xx) happen only before any line was
  // delivered, so a caller never sees text twice.
  HttpReply post(const std::string& path, const Headers& headers, const std::string& body,
                 const std::function<void(std::string_view line)>& on_line = {});
  HttpReply get(const std::string& path, const Headers& headers);
  const BaseUrl& base() const { return base_; }
  [[noreturn]] void fail(const std::string& what) const;

 private:
  HttpReply request(bool is_post, const std::string& path, const Headers& headers, const std::string& body,
                    const std::function<void(std::string_view)>& on_line);
  LlmConfig config_;
  std::string label_;
  BaseUrl base_;
};

// The payload of an SSE "data:" line, or nullopt for other lines.
std::optional<std::string_view> sse_data(std::string_view line);

}  // namespace kioku::llm
