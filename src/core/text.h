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

// English function words that carry no topic ("the", "what", "did", ...).
bool is_stopword(std::string_view lower_word);

// Truncates to at most max_bytes without cutting a UTF-8 sequence; appends "…"
// when it cut.
std::string truncate_utf8(std::string_view text, size_t max_bytes);

bool is_valid_utf8(std::string_view text);

}  // namespace kioku
