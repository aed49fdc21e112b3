#include "profile/emotion.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <mutex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kioku {
namespace {

constexpr const char* kLexiconText =
#include "profile/emotion_lexicon.inc"
    ;

struct WordEntry {
  std::string emotion;
  double weight = 0;
};

struct Lexicon {
  std::unordered_map<std::string, WordEntry> words;
  std::vector<std::pair<std::string, WordEntry>> prefixes;  // longest first
  std::unordered_map<std::string, bool> negators;
  std::unordered_map<std::string, double> intensifiers;
  std::vector<std::pair<std::string, WordEntry>> symbols;
  std::vector<std::pair<std::string, int>> feedback;      // normalised phrase, sign
  std::vector<std::pair<std::string, std::string>> asks;  // normalised phrase, strategy
};

// Lower-case ASCII words (apostrophes kept, ’ read as '), everything else a
// space; "." marks where a clause ends (negation and intensifiers stop there).
std::vector<std::string> tokens_of(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isalnum(c)) {
      cur += static_cast<char>(std::tolower(c));
    } else if (c == '\'') {
      if (!cur.empty()) cur += '\'';
    } else if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               static_cast<unsigned char>(text[i + 2]) == 0x99) {
      if (!cur.empty()) cur += '\'';
      i += 2;
    } else {
      flush();
      if (c == '.' || c == ',' || c == '!' || c == '?' || c == ';' || c == ':') out.emplace_back(".");
    }
  }
  flush();
  return out;
}

std::string normalised(std::string_view text) {
  std::string out = " ";
  for (const auto& t : tokens_of(text))
    if (t != ".") out += t + " ";
  return out;
}

const Lexicon& lexicon() {
  static const Lexicon lex = [] {
    Lexicon l;
    std::istringstream in(kLexiconText);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream fields(line);
      std::string head;
      fields >> head;
      if (head == "@negate") {
        for (std::string w; fields >> w;) l.negators[w] = true;
      } else if (head == "@intensify") {
        std::string w;
        double f = 1;
        fields >> w >> f;
        l.intensifiers[w] = f;
      } else if (head == "@symbol") {
        std::string s, e;
        double w = 0;
        fields >> s >> e >> w;
        l.symbols.push_back({s, {e, w}});
      } else if (head == "@feedback") {
        std::string sign, rest;
        fields >> sign;
        std::getline(fields, rest);
        l.feedback.push_back({normalised(rest), sign == "+" ? 1 : -1});
      } else if (head == "@ask") {
        std::string strategy, rest;
        fields >> strategy;
        std::getline(fields, rest);
        l.asks.push_back({normalised(rest), strategy});
      } else {
        std::string e;
        double w = 0;
        fields >> e >> w;
        if (e.empty() || w <= 0) continue;
        if (head.back() == '*')
          l.prefixes.push_back({head.substr(0, head.size() - 1), {e, w}});
        else
          l.words[head] = {e, w};
      }
    }
    std::sort(l.prefixes.begin(), l.prefixes.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    return l;
  }();
  return lex;
}

const WordEntry* lookup(const Lexicon& lex, const std::string& word) {
  if (auto it = lex.words.find(word); it != lex.words.end()) return &it->second;
  for (const auto& [prefix, entry] : lex.prefixes)
    if (word.size() >= prefix.size() && word.compare(0, prefix.size(), prefix) == 0) return &entry;
  return nullptr;
}

std::string canonical_emotion(std::string e) {
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::map<std::string, std::string> synonyms = {
      {"happy", "joy"},          {"happiness", "joy"},      {"excitement", "joy"},  {"love", "joy"},
      {"grateful", "gratitude"}, {"thankful", "gratitude"}, {"sad", "sadness"},     {"grief", "sadness"},
      {"angry", "anger"},        {"frustration", "anger"},  {"annoyance", "anger"}, {"fear", "anxiety"},
      {"anxious", "anxiety"},    {"worry", "anxiety"},      {"stress", "anxiety"},  {"nervousness", "anxiety"},
      {"lonely", "loneliness"},  {"calm", "neutral"},       {"none", "neutral"}};
  if (auto it = synonyms.find(e); it != synonyms.end()) return it->second;
  return e;
}

}  // namespace

const std::vector<std::string>& known_emotions() {
  static const std::vector<std::string> all = {"joy",     "gratitude",  "sadness", "anger",
                                               "anxiety", "loneliness", "neutral"};
  return all;
}

double emotion_valence(std::string_view e) {
  if (e == "joy") return 0.8;
  if (e == "gratitude") return 0.7;
  if (e == "sadness") return -0.7;
  if (e == "anger") return -0.6;
  if (e == "anxiety") return -0.6;
  if (e == "loneliness") return -0.65;
  return 0;
}

bool is_negative_emotion(std::string_view e) { return emotion_valence(e) < 0; }

TextReading classify_text(std::string_view text) {
  const Lexicon& lex = lexicon();
  std::map<std::string, double> scores;
  TextReading r;
  const auto tokens = tokens_of(text);
  int negated = 0;
  double factor = 1;
  for (const auto& t : tokens) {
    if (t == ".") {
      negated = 0;
      factor = 1;
      continue;
    }
    if (lex.negators.count(t)) {
      negated = 3;
      continue;
    }
    if (auto it = lex.intensifiers.find(t); it != lex.intensifiers.end()) {
      factor *= it->second;
      continue;
    }
    if (const WordEntry* e = lookup(lex, t)) {
      const double w = e->weight * factor;
      if (negated > 0) {
        // "not happy" reads as a little sad; "not worried" as nothing.
        if (!is_negative_emotion(e->emotion)) {
          scores["sadness"] += 0.6 * w;
          r.cues.push_back("not " + t);
        }
      } else {
        scores[e->emotion] += w;
        r.cues.push_back(t);
      }
    }
    factor = 1;
    if (negated > 0) --negated;
  }
  for (const auto& [symbol, e] : lex.symbols) {
    for (size_t pos = text.find(symbol); pos != std::string_view::npos; pos = text.find(symbol, pos + symbol.size())) {
      scores[e.emotion] += e.weight;
      r.cues.push_back(symbol);
    }
  }
  const std::string norm = normalised(text);
  for (const auto& [phrase, sign] : lex.feedback)
    if (norm.find(phrase) != std::string::npos) {
      r.feedback = sign;
      break;
    }
  for (const auto& [phrase, strategy] : lex.asks)
    if (norm.find(phrase) != std::string::npos) {
      r.asked_strategy = strategy;
      break;
    }

  double best = 0;
  for (const auto& e : known_emotions()) {
    const double s = scores.count(e) ? scores[e] : 0;
    if (s > best + 1e-9) {
      best = s;
      r.emotion = e;
    }
  }
  if (best < 0.35) {
    r.emotion = "neutral";
    r.intensity = 0;
    r.valence = 0;
    return r;
  }
  // Exclamation marks and shouting make a feeling stronger.
  double bump = 0.07 * static_cast<double>(std::min<size_t>(3, std::count(text.begin(), text.end(), '!')));
  int words = 0, shouted = 0;
  for (const auto& t : tokens_of(text)) {
    if (t.size() < 3 || t == ".") continue;
    ++words;
  }
  {
    std::string cur;
    for (char c : std::string(text) + " ") {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        cur += c;
        continue;
      }
      if (cur.size() >= 3 && std::all_of(cur.begin(), cur.end(), [](unsigned char x) { return std::isupper(x); }))
        ++shouted;
      cur.clear();
    }
  }
  if (words > 0 && shouted * 2 >= words) bump += 0.1;
  r.intensity = std::clamp(1 - std::exp(-best / 1.2) + bump, 0.05, 1.0);
  r.valence = emotion_valence(r.emotion) * r.intensity;
  return r;
}

EmotionDetector::Result EmotionDetector::detect(const std::string& text) {
  if (auto it = index_.find(text); it != index_.end()) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  Result result;
  result.reading = classify_text(text);
  result.detector = "lexicon";
  if (llm_) {
    try {
      ChatRequest req;
      req.messages.push_back(
          {"system",
           "You read the emotion in one message a person wrote to their companion. Answer only with JSON: "
           "{\"emotion\": one of \"joy\", \"gratitude\", \"sadness\", \"anger\", \"anxiety\", \"loneliness\", "
           "\"neutral\", \"intensity\": a number from 0 to 1}."});
      req.messages.push_back({"user", text});
      req.settings.temperature = 0.0;
      req.settings.max_tokens = 60;
      const ChatResponse response = llm_->chat(req, nullptr);
      const size_t open = response.text.find('{');
      const size_t close = response.text.rfind('}');
      nlohmann::json j;
      if (open != std::string::npos && close != std::string::npos && close > open)
        j = nlohmann::json::parse(response.text.substr(open, close - open + 1), nullptr, false);
      const auto& names = known_emotions();
      if (!j.is_object() || !j.contains("emotion") || !j["emotion"].is_string() || !j.contains("intensity") ||
          !j["intensity"].is_number()) {
        result.notice = "the model's emotion answer was not the JSON asked for";
      } else if (const std::string e = canonical_emotion(j["emotion"].get<std::string>());
                 std::find(names.begin(), names.end(), e) == names.end()) {
        result.notice = "the model named an unknown emotion '" + j["emotion"].get<std::string>() + "'";
      } else {
        double intensity = j["intensity"].get<double>();
        if (!std::isfinite(intensity)) intensity = 0.5;
        if (intensity > 1 && intensity <= 10) intensity /= 10;  // some models answer on a 0-10 scale
        result.reading.emotion = e;
        result.reading.intensity = e == "neutral" ? 0 : std::clamp(intensity, 0.0, 1.0);
        result.reading.valence = emotion_valence(e) * result.reading.intensity;
        result.detector = "llm";
      }
    } catch (const std::exception& e) {
      // The message is stored; the lexicon reads it instead.
      result.notice = std::string("the model could not read the emotion (") + e.what() + ")";
    }
  }
  if (!result.notice.empty()) return result;  // a failed model call is asked again next time
  lru_.emplace_front(text, result);
  index_[text] = lru_.begin();
  if (lru_.size() > kCacheSize) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return result;
}

}  // namespace kioku
