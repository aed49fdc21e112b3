#include "cli/format.h"

#include <ctime>

#include <ostream>

#include "core/text.h"

namespace kioku::cli {

std::string memory_line(const Memory& m, size_t max_content) {
  std::string content = m.content;
  for (char& c : content)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  std::string line = m.id + "  " + format_iso8601(m.event_time).substr(0, 10) + "  [" + m.type + "] " +
                     truncate_utf8(content, max_content);
  if (!m.tags.empty()) {
    line += "  #";
    for (size_t i = 0; i < m.tags.size(); ++i) line += (i ? " #" : "") + m.tags[i];
  }
  return line;
}

void print_memory_detail(std::ostream& out, const Memory& m) {
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("-") : s;
  };
  out << "id:          " << m.id << "\n"
      << "type:        " << m.type << "\n"
      << "when:        " << format_iso8601(m.event_time) << " (stored " << format_iso8601(m.created_at) << ")\n"
      << "tier:        " << to_string(m.tier) << ", " << to_string(m.truth_category) << ", "
      << to_string(m.memory_kind) << "\n"
      << "importance:  " << m.importance << "   confidence: " << m.confidence.overall << " (corroborated "
      << m.confidence.corroboration_count << "x)\n"
      << "source:      " << to_string(m.source) << (m.approved ? "" : " (pending approval)") << "\n"
      << "tags:        " << join(m.tags) << "\n";
  if (!m.entities.empty()) out << "entities:    " << join(m.entities) << "\n";
  if (!m.provenance.empty()) out << "provenance:  " << to_json(m.provenance).dump() << "\n";
  if (!m.media_path.empty()) out << "media:       " << m.media_path << "\n";
  for (const auto& r : m.relations) out << "relation:    " << to_string(r.kind) << " -> " << r.target_id << "\n";
  out << "accessed:    " << m.access_count << "x"
      << (m.last_accessed ? ", last " + format_iso8601(*m.last_accessed) : std::string()) << "\n\n"
      << m.content << "\n";
}

std::string local_clock_time() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

}  // namespace kioku::cli
