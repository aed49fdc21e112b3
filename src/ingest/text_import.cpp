// Plain text and markdown chunking.
#include <algorithm>

#include "core/text.h"
#include "ingest/importer.h"

namespace kioku {

namespace {

struct Line {
  std::string_view text;
  int number;
};

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

// "## Setup" -> level 2, title "Setup"; 0 when not a heading.
int heading_level(std::string_view line, std::string& title) {
  size_t n = 0;
  while (n < line.size() && line[n] == '#') ++n;
  if (n == 0 || n > 6 || n >= line.size() || line[n] != ' ') return 0;
  title = std::string(line.substr(n + 1));
  while (!title.empty() && (title.back() == ' ' || title.back() == '\r' || title.back() == '#')) title.pop_back();
  return static_cast<int>(n);
}

// Cuts a long paragraph at sentence ends (". ", "! ", "? ", "。"), else at
// spaces, else at a UTF-8 boundary, into pieces of at most max_chars.
std::vector<std::string> split_long(const std::string& text, size_t max_chars) {
  std::vector<std::string> out;
  size_t start = 0;
  while (text.size() - start > max_chars) {
    size_t cut = std::string::npos;
    for (size_t i = start + max_chars; i > start + max_chars / 3; --i) {
      const char c = text[i - 1];
      if ((c == '.' || c == '!' || c == '?') && i < text.size() && (text[i] == ' ' || text[i] == '\n')) {
        cut = i;
        break;
      }
    }
    // Only the window of this piece is searched, never back to the start of
    // the text: a long run without spaces stays linear.
    for (size_t i = start + max_chars; cut == std::string::npos && i > start + max_chars / 3; --i) {
      if (text[i] == ' ') cut = i;
    }
    if (cut == std::string::npos) {
      cut = start + max_chars;
      while (cut > start && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      // Only continuation bytes (not UTF-8): no sequence to keep whole, and
      // cutting at start would never move on (found by tests/fuzz text_chunk).
      if (cut == start) cut = start + max_chars;
    }
    std::string piece = text.substr(start, cut - start);
    while (!piece.empty() && piece.back() == ' ') piece.pop_back();
    if (!piece.empty()) out.push_back(piece);
    start = cut;
    while (start < text.size() && (text[start] == ' ' || text[start] == '\n')) ++start;
  }
  std::string last = text.substr(std::min(start, text.size()));
  while (!last.empty() && (last.back() == ' ' || last.back() == '\n')) last.pop_back();
  if (!last.empty()) out.push_back(last);
  return out;
}

}  // namespace

std::vector<TextChunk> chunk_text(std::string_view text, size_t max_chars, bool markdown) {
  if (max_chars < 80) max_chars = 80;
  std::vector<Line> lines;
  int number = 1;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.push_back({l, number++});
    if (end == text.size()) break;
    pos = end + 1;
  }

  // 1. Paragraphs: blank-line separated blocks, headings on their own, code
  //    fences kept as one block.
  struct Block {
    std::string text;
    int first_line;
    std::string section;
    bool heading = false;
  };
  std::vector<Block> blocks;
  std::vector<std::string> heading_path;
  Block cur{"", 0, "", false};
  auto flush = [&] {
    if (!cur.text.empty()) blocks.push_back(cur);
    cur = Block{"", 0, "", false};
  };
  auto section_name = [&] {
    std::string s;
    for (const auto& h : heading_path) s += (s.empty() ? "" : " > ") + h;
    return s;
  };
  bool in_fence = false;
  for (const auto& line : lines) {
    std::string title;
    const bool fence_marker = markdown && (line.text.rfind("```", 0) == 0 || line.text.rfind("~~~", 0) == 0);
    if (!in_fence && markdown && heading_level(line.text, title) > 0) {
      flush();
      const int level = heading_level(line.text, title);
      heading_path.resize(std::min<size_t>(heading_path.size(), static_cast<size_t>(level - 1)));
      heading_path.push_back(title);
      blocks.push_back({std::string(line.text), line.number, section_name(), true});
      continue;
    }
    if (!in_fence && is_blank(line.text)) {
      flush();
      continue;
    }
    if (cur.text.empty()) {
      cur.first_line = line.number;
      cur.section = section_name();
    } else {
      cur.text += "\n";
    }
    cur.text += line.text;
    if (fence_marker) in_fence = !in_fence;
  }
  flush();

  // 2. Merge small blocks into chunks; a heading always opens a new chunk.
  std::vector<TextChunk> chunks;
  TextChunk open{"", 0, ""};
  auto close = [&] {
    if (!open.text.empty()) chunks.push_back(open);
    open = TextChunk{"", 0, ""};
  };
  for (auto& b : blocks) {
    if (b.heading) {
      close();
      open = {b.text, b.first_line, b.section};
      continue;
    }
    if (b.text.size() > max_chars) {
      close();
      for (auto& piece : split_long(b.text, max_chars)) chunks.push_back({piece, b.first_line, b.section});
      continue;
    }
    if (!open.text.empty() && open.text.size() + 2 + b.text.size() > max_chars) close();
    if (open.text.empty()) {
      open = {b.text, b.first_line, b.section};
    } else {
      open.text += "\n\n" + b.text;
    }
  }
  close();
  // A lone heading says little: fold it into the chunk after it when possible.
  std::vector<TextChunk> merged;
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::string title;
    if (markdown && heading_level(chunks[i].text, title) && chunks[i].text.find('\n') == std::string::npos &&
        i + 1 < chunks.size() && chunks[i + 1].section == chunks[i].section &&
        chunks[i].text.size() + 2 + chunks[i + 1].text.size() <= max_chars) {
      chunks[i + 1].text = chunks[i].text + "\n\n" + chunks[i + 1].text;
      chunks[i + 1].first_line = chunks[i].first_line;
      continue;
    }
    merged.push_back(std::move(chunks[i]));
  }
  return merged;
}

}  // namespace kioku
