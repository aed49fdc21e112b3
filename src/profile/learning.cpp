#include "profile/learning.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "profile/emotion.h"

namespace kioku {

const std::vector<std::string>& support_strategies() {
  static const std::vector<std::string> all = {"listen_reflect", "encourage", "practical_steps", "humour",
                                               "check_in_later"};
  return all;
}

bool is_support_strategy(const std::string& s) {
  const auto& all = support_strategies();
  return std::find(all.begin(), all.end(), s) != all.end();
}

std::string strategy_label(const std::string& s) {
  if (s == "listen_reflect") return "listen and reflect";
  if (s == "encourage") return "encourage";
  if (s == "practical_steps") return "give practical steps";
  if (s == "humour") return "distract with humour";
  if (s == "check_in_later") return "check in later";
  return s;
}

std::string strategy_instruction(const std::string& s) {
  if (s == "listen_reflect")
    return "listen; reflect back what they feel in your own words; ask one gentle question; no advice unless asked";
  if (s == "encourage") return "encourage them: name their strengths and what they have already managed";
  if (s == "practical_steps") return "offer two or three small, concrete next steps";
  if (s == "humour") return "lighten the mood with a little warm humour, without making light of the problem";
  if (s == "check_in_later") return "keep it short and kind, and say you will ask how it went later";
  return s;
}

double prior_weight(const std::string& emotion, const std::string& strategy) {
  // Mild defaults from common sense about support; learning soon dominates.
  if (strategy == "listen_reflect") return emotion == "sadness" || emotion == "loneliness" ? 0.6 : 0.55;
  if (strategy == "encourage") return emotion == "anxiety" ? 0.58 : 0.52;
  if (strategy == "practical_steps") return emotion == "anxiety" || emotion == "anger" ? 0.55 : 0.48;
  if (strategy == "humour") return emotion == "sadness" ? 0.35 : 0.42;
  if (strategy == "check_in_later") return 0.45;
  return 0.5;
}

double outcome_from_rating(int rating) { return std::clamp((rating - 1) / 4.0, 0.0, 1.0); }

double outcome_from_next_message(double before, double after) {
  return std::clamp(0.5 + (after - before) / 2.0, 0.0, 1.0);
}

StrategyWeight learn_strategy(StrategyWeight w, double outcome, double rate) {
  w.weight = std::clamp(w.weight + rate * (outcome - w.weight), 0.0, 1.0);
  ++w.uses;
  if (outcome > 0.5) ++w.successes;
  return w;
}

std::vector<StrategyWeight> ranked_strategies(const std::string& emotion, const std::vector<StrategyWeight>& learned) {
  std::vector<StrategyWeight> out;
  for (const auto& s : support_strategies()) {
    auto it = std::find_if(learned.begin(), learned.end(),
                           [&](const StrategyWeight& w) { return w.emotion == emotion && w.strategy == s; });
    if (it != learned.end()) {
      out.push_back(*it);
    } else {
      StrategyWeight w;
      w.emotion = emotion;
      w.strategy = s;
      w.weight = prior_weight(emotion, s);
      out.push_back(w);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const StrategyWeight& a, const StrategyWeight& b) { return a.weight > b.weight + 1e-12; });
  return out;
}

StrategyWeight choose_strategy(const std::string& emotion, const std::vector<StrategyWeight>& learned) {
  return ranked_strategies(emotion, learned).front();
}

std::vector<std::string> topic_words(const std::string& text, size_t limit) {
  static const std::set<std::string> stop = {
      "about",  "after",     "again", "also",   "been",  "before", "being", "could", "does",      "doing",    "from",
      "have",   "having",    "here",  "into",   "just",  "like",   "more",  "most",  "much",      "only",     "other",
      "over",   "really",    "same",  "should", "some",  "such",   "than",  "that",  "their",     "them",     "then",
      "there",  "these",     "they",  "this",   "those", "very",   "want",  "were",  "what",      "when",     "where",
      "which",  "while",     "will",  "with",   "would", "your",   "yours", "today", "yesterday", "tomorrow", "thing",
      "things", "something", "going", "said",   "says",  "make",   "made"};
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (cur.size() >= 4 && !stop.count(cur) && std::find(out.begin(), out.end(), cur) == out.end() &&
        out.size() < limit)
      out.push_back(cur);
    cur.clear();
  };
  for (char c : text + " ") {
    if (std::isalpha(static_cast<unsigned char>(c)))
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else
      flush();
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> memory_features(const Memory& m) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& kind, const std::string& value) {
    if (value.empty()) return;
    std::pair<std::string, std::string> f{kind, value};
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  };
  add("type", m.type);
  for (const auto& t : m.tags) add("tag", t);
  for (const auto& e : m.entities) add("entity", e);
  for (const auto& w : topic_words(m.content)) add("topic", w);
  return out;
}

double pattern_affinity(const ImportancePattern& p) {
  const double signal = 0.5 * static_cast<double>(p.searched) + static_cast<double>(p.used) +
                        (p.rating_sum - 3.0 * static_cast<double>(p.rated));
  return std::tanh(signal / 8.0);
}

PatternIndex index_patterns(const std::vector<ImportancePattern>& patterns) {
  PatternIndex index;
  for (const auto& p : patterns) index[{p.kind, p.value}] = p;
  return index;
}

ImportancePrediction predict_importance(const PatternIndex& patterns, const Memory& m) {
  ImportancePrediction p;
  p.memory_id = m.id;
  p.base = m.importance;
  nlohmann::json factors = nlohmann::json::array();
  std::vector<std::pair<double, nlohmann::json>> found;
  double sum = 0;
  for (const auto& f : memory_features(m)) {
    auto it = patterns.find(f);
    if (it == patterns.end()) continue;
    const double a = pattern_affinity(it->second);
    sum += a;
    const auto& s = it->second;
    found.push_back({a,
                     {{"kind", f.first},
                      {"value", f.second},
                      {"searched", s.searched},
                      {"used", s.used},
                      {"rated", s.rated},
                      {"average_rating", s.rated ? s.rating_sum / static_cast<double>(s.rated) : 0.0},
                      {"affinity", std::round(a * 1000) / 1000}}});
  }
  const double n = static_cast<double>(found.size());
  const double shift = n > 0 ? 0.3 * (sum / n) * (n / (n + 1)) : 0;
  p.predicted = std::clamp(p.base + shift, 0.05, 0.95);
  if (n == 0) p.predicted = p.base;  // nothing learned yet: the given importance stands
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return std::abs(a.first) > std::abs(b.first); });
  for (auto& [a, j] : found) factors.push_back(std::move(j));
  p.factors_json = factors.dump();
  return p;
}

std::vector<std::string> explain_prediction(const ImportancePrediction& p) {
  std::vector<std::string> lines;
  auto factors = nlohmann::json::parse(p.factors_json, nullptr, false);
  if (!factors.is_array()) return lines;
  for (const auto& f : factors) {
    const double a = f.value("affinity", 0.0);
    std::string line = f.value("kind", "") + " '" + f.value("value", "") + "': ";
    line += a >= 0 ? "matters to you" : "rarely matters to you";
    line +=
        " (searched " + std::to_string(f.value("searched", 0)) + "x, used " + std::to_string(f.value("used", 0)) + "x";
    if (f.value("rated", 0) > 0) {
      char avg[16];
      std::snprintf(avg, sizeof avg, "%.1f", f.value("average_rating", 0.0));
      line += ", in " + std::to_string(f.value("rated", 0)) + " rated replies averaging " + avg;
    }
    char aff[16];
    std::snprintf(aff, sizeof aff, "%+.2f", a);
    line += "; affinity " + std::string(aff) + ")";
    lines.push_back(line);
  }
  return lines;
}

}  // namespace kioku
