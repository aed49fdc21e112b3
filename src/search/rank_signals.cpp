#include "search/rank_signals.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdint>
#include <chrono>
#include <unordered_set>

#include "core/text.h"

namespace kioku {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "carolines" (from "Caroline's") names caroline too.
bool names_word(const std::string& word, const std::set<std::string>& names) {
  if (names.count(word)) return true;
  return word.size() > 1 && word.back() == 's' && names.count(word.substr(0, word.size() - 1));
}

}  // namespace

std::string chat_speaker(const Memory& m) {
  if (m.type != memory_types::kChat) return "";
  if (m.metadata.is_object()) {
    auto it = m.metadata.find("speaker");
    if (it != m.metadata.end() && it->is_string()) return lower(it->get<std::string>());
  }
  const auto colon = m.content.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 40) return "";
  const std::string_view prefix(m.content.data(), colon);
  int words = 0;
  bool at_word_start = true;
  for (char c : prefix) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ' ') {
      at_word_start = true;
      continue;
    }
    if (at_word_start) {
      if (!std::isupper(u)) return "";
      ++words;
      at_word_start = false;
    } else if (!std::isalpha(u) && c != '.' && c != '-' && c != '\'') {
      return "";
    }
  }
  if (words < 1 || words > 3) return "";
  return lower(prefix);
}

std::set<std::string> speakers_named(std::string_view query, const std::vector<Memory>& candidates) {
  std::set<std::string> speakers;
  for (const auto& m : candidates) {
    auto s = chat_speaker(m);
    if (!s.empty()) speakers.insert(std::move(s));
  }
  std::set<std::string> named;
  if (speakers.empty()) return named;
  const auto words = word_tokens(query);
  for (const auto& s : speakers) {
    // A one-word speaker is named by that word; a longer one by its first word
    // ("Dr. Smith" by "smith" is left to the words themselves).
    const auto parts = word_tokens(s);
    if (parts.empty()) continue;
    const std::set<std::string> one = {parts.front()};
    for (const auto& w : words)
      if (names_word(w, one)) named.insert(s);
  }
  return named;
}

std::vector<std::string> without_names(const std::vector<std::string>& terms, const std::set<std::string>& names) {
  std::set<std::string> first_words;
  for (const auto& n : names) {
    const auto parts = word_tokens(n);
    if (!parts.empty()) first_words.insert(parts.front());
  }
  std::vector<std::string> out;
  for (const auto& t : terms)
    if (!names_word(t, first_words)) out.push_back(t);
  return out;
}

void light_stem_in_place(std::string& s) {
  const auto ends = [&](std::string_view suffix) {
    return s.size() > suffix.size() + 2 && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends("ies")) {
    s.resize(s.size() - 3);
    s.push_back('y');
    return;
  }
  if (ends("ing")) s.resize(s.size() - 3);
  else if (ends("ed")) s.resize(s.size() - 2);
  else if (ends("ly")) s.resize(s.size() - 2);
  else if (ends("es")) s.resize(s.size() - 2);
  else if (ends("s") && !ends("ss")) s.resize(s.size() - 1);
  // "painting" and "painted" -> "paint"; "hiking" -> "hik" and "hike" -> "hik".
  if (s.size() > 3 && s.back() == 'e') s.pop_back();
  if (s.size() > 3 && s[s.size() - 1] == s[s.size() - 2] && std::string_view("aeiou").find(s.back()) == std::string_view::npos) s.pop_back();
}

std::string light_stem(std::string_view w) {
  std::string s(w);
  light_stem_in_place(s);
  return s;
}

std::vector<std::string> coverage_terms(std::string_view query, const std::set<std::string>& names) {
  std::set<std::string> first_words;
  for (const auto& n : names) {
    const auto parts = word_tokens(n);
    if (!parts.empty()) first_words.insert(parts.front());
  }
  std::vector<std::string> out;
  for (const auto& w : word_tokens(query)) {
    if (is_stopword(w) || names_word(w, first_words)) continue;
    auto s = light_stem(w);
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  return out;
}

double term_coverage(const std::vector<std::string>& terms, const Memory& m) {
  if (terms.empty()) return 0;
  // Runs on the content of every candidate: one pass over its words, no
  // word list or set, stopping once every term is seen. (Terms are a query's
  // few distinct words; the bitmask holds up to 64, the rest count as unseen.)
  const size_t n = std::min<size_t>(terms.size(), 64);
  const uint64_t all = n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
  uint64_t seen = 0;
  for_each_word_token(m.content, [&](std::string& w) {
    light_stem_in_place(w);
    for (size_t i = 0; i < n; ++i)
      if (!(seen >> i & 1) && terms[i] == w) seen |= uint64_t{1} << i;
    return seen != all;
  });
  return static_cast<double>(std::popcount(seen)) / static_cast<double>(terms.size());
}

std::string session_key(const Memory& m) {
  if (m.type != memory_types::kChat) return "";
  if (m.metadata.is_object()) {
    auto it = m.metadata.find("conversation");
    if (it != m.metadata.end() && it->is_string() && !it->get<std::string>().empty())
      return m.user_id + "\nconversation\n" + it->get<std::string>();
  }
  const auto days = std::chrono::floor<std::chrono::days>(m.event_time).time_since_epoch().count();
  return m.user_id + "\n" + std::to_string(days);
}

}  // namespace kioku
