// CSV (RFC 4180): one memory per row.
#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "core/text.h"
#include "ingest/formats.h"

namespace kioku {

std::vector<std::vector<std::string>> parse_csv(std::string_view text, std::string_view name) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;       // inside quotes
  bool field_started = false;
  int line = 1;
  int quote_line = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = true;
      field_started = true;
      quote_line = line;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      field_started = false;
      if (!(row.size() == 1 && row[0].empty())) rows.push_back(std::move(row));
      row.clear();
      ++line;
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  if (quoted) {
    throw invalid_input(std::string(name) + ": unterminated quoted field starting on line " +
                        std::to_string(quote_line));
  }
  if (field_started || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

ImportResult import_csv(std::string_view bytes, std::string_view name, const ImportOptions& options) {
  if (!is_valid_utf8(bytes)) throw invalid_input(std::string(name) + ": not valid UTF-8 text");
  auto rows = parse_csv(bytes, name);
  ImportResult r;
  r.format = "csv";
  if (rows.empty()) {
    r.warnings.push_back("the file is empty");
    return r;
  }
  const auto& header = rows[0];
  std::vector<std::string> lower(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    lower[i] = header[i];
    std::transform(lower[i].begin(), lower[i].end(), lower[i].begin(), [](unsigned char c) { return std::tolower(c); });
  }
  auto column = [&](std::initializer_list<const char*> names) -> int {
    for (const char* n : names)
      for (size_t i = 0; i < lower.size(); ++i)
        if (lower[i] == n) return static_cast<int>(i);
    return -1;
  };
  const int content_col = column({"content", "text", "body", "message", "note", "description"});
  const int time_col = column({"timestamp", "event_time", "created_at", "date", "time"});
  const int tags_col = column({"tags"});
  for (size_t r_i = 1; r_i < rows.size(); ++r_i) {
    const auto& row = rows[r_i];
    if (row.size() != header.size()) {
      throw invalid_input(std::string(name) + ": row " + std::to_string(r_i + 1) + " has " +
                          std::to_string(row.size()) + " fields, the header has " + std::to_string(header.size()));
    }
    std::string content;
    if (content_col >= 0) {
      content = row[static_cast<size_t>(content_col)];
      // The other columns give context ("name: Hana").
      for (size_t c = 0; c < row.size(); ++c) {
        if (static_cast<int>(c) == content_col || static_cast<int>(c) == time_col || static_cast<int>(c) == tags_col ||
            row[c].empty())
          continue;
        content += (content.empty() ? "" : "\n") + header[c] + ": " + row[c];
      }
    } else {
      for (size_t c = 0; c < row.size(); ++c)
        if (!row[c].empty()) content += (content.empty() ? "" : "; ") + header[c] + ": " + row[c];
    }
    if (content.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    Memory m = draft_memory(options, name, content);
    m.provenance.row = static_cast<int>(r_i + 1);
    if (time_col >= 0) {
      if (auto t = parse_iso8601(row[static_cast<size_t>(time_col)])) m.event_time = *t;
    }
    if (tags_col >= 0)
      for (const auto& t : split_tags(row[static_cast<size_t>(tags_col)]))
        if (std::find(m.tags.begin(), m.tags.end(), t) == m.tags.end()) m.tags.push_back(t);
    r.memories.push_back(std::move(m));
  }
  if (r.memories.empty()) r.warnings.push_back("the file has a header but no rows");
  return r;
}

}  // namespace kioku
