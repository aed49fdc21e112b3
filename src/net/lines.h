// Streamed bodies cut into lines: Server-Sent Events (OpenAI, Anthropic) and
// NDJSON (Ollama) are both line-based. Plain values, one stream each.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kioku::net {

// Feed it the chunks of a body; it calls on_line with every complete,
// non-empty line (without "\n" or "\r\n"). finish() passes on a last line
// that had no newline.
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view line)> on_line) : on_line_(std::move(on_line)) {}
  void feed(std::string_view chunk);
  void finish();

 private:
  void emit(std::string_view line);
  std::function<void(std::string_view)> on_line_;
  std::string pending_;  // a partial line
};

// The payload of an SSE "data:" line, or nullopt for other lines.
std::optional<std::string_view> sse_data(std::string_view line);

}  // namespace kioku::net
