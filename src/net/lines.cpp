#include "net/lines.h"

namespace kioku::net {

void LineSplitter::emit(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty()) on_line_(line);
}

void LineSplitter::feed(std::string_view chunk) {
  pending_.append(chunk);
  size_t start = 0;
  for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1)
    emit(std::string_view(pending_).substr(start, nl - start));
  pending_.erase(0, start);
}

void LineSplitter::finish() {
  std::string last;
  last.swap(pending_);
  emit(last);
}

std::optional<std::string_view> sse_data(std::string_view line) {
  if (line.rfind("data:", 0) != 0) return std::nullopt;
  line.remove_prefix(5);
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  return line;
}

}  // namespace kioku::net
