#include "core/text.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_set>

namespace kioku {

std::vector<std::string> word_tokens(std::string_view text) {
  std::vector<std::string> out;
  for_each_word_token(text, [&](std::string& w) {
    out.push_back(std::move(w));
    return true;
  });
  return out;
}

bool is_stopword(std::string_view w) {
  static const std::unordered_set<std::string_view> kStop = {
      "a",     "about", "above",  "after", "again", "against", "all",   "am",    "an",    "and",   "any",
      "are",   "as",    "at",     "be",    "because", "been",  "before", "being", "below", "between", "both",
      "but",   "by",    "can",    "could", "did",   "do",      "does",  "doing", "down",  "during", "each",
      "few",   "for",   "from",   "further", "had", "has",     "have",  "having", "he",   "her",   "here",
      "hers",  "herself", "him",  "himself", "his", "how",     "i",     "if",    "in",    "into",  "is",
      "it",    "its",   "itself", "just",  "me",    "more",    "most",  "my",    "myself", "no",   "nor",
      "not",   "now",   "of",     "off",   "on",    "once",    "only",  "or",    "other", "our",   "ours",
      "ourselves", "out", "over", "own",   "same",  "she",     "should", "so",   "some",  "such",  "than",
      "that",  "the",   "their",  "theirs", "them", "themselves", "then", "there", "these", "they", "this",
      "those", "through", "to",   "too",   "under", "until",   "up",    "very",  "was",   "we",    "were",
      "what",  "when",  "where",  "which", "while", "who",     "whom",  "why",   "will",  "with",  "would",
      "you",   "your",  "yours",  "yourself", "yourselves", "s", "t", "d", "ll", "m", "re", "ve",
      "im",    "ive",   "id",     "youre", "dont",  "didnt",   "doesnt", "thats", "whats", "its", "also",
      "get",   "got",   "really", "like",  "yeah",  "oh",      "hey",   "thanks", "thank"};
  return kStop.count(w) > 0;
}

std::string truncate_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "\xE2\x80\xA6";
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace kioku
