// Small text utilities shared by search and embedders.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kioku {

// Splits into lower-cased words: runs of ASCII letters/digits and of any
// non-ASCII UTF-8 bytes (so accented and CJK text stays together); everything
// else separates words. Apostrophes inside words are dropped ("don't" -> "dont").
std::vector<std::string> word_tokens(std::string_view text);

// The same words, one at a time, without a vector: `visit(std::string&)`
// gets each word in one reused buffer (it may modify it) and returns false
// to stop early. For hot paths that look at every word of many texts.
template <typename Visit>
void for_each_word_token(std::string_view text, Visit&& visit) {
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
      cur.push_back(static_cast<char>(c));
    } else if (c >= 'A' && c <= 'Z') {
      cur.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (c == '\'' && !cur.empty() && i + 1 < text.size() &&
               ((text[i + 1] | 0x20) >= 'a' && (text[i + 1] | 0x20) <= 'z')) {
      continue;
    } else if (!cur.empty()) {
      if (!visit(cur)) return;
      cur.clear();
    }
  }
  if (!cur.empty()) visit(cur);
}

// English function words that carry no topic ("the", "what", "did", ...).
bool is_stopword(std::string_view lower_word);

// Truncates to at most max_bytes without cutting a UTF-8 sequence; appends "…"
// when it cut.
std::string truncate_utf8(std::string_view text, size_t max_bytes);

bool is_valid_utf8(std::string_view text);

}  // namespace kioku
