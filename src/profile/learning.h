// The learning rules of the profile (seed 004), as plain functions so each
// rule is testable alone; ProfileService (profile_service.h) applies them and
// persists the results through ProfileStore.
//
// Support strategies: each (emotion, strategy) has a weight in 0..1, the
// outcome the companion expects from it; it starts at a prior and moves
// toward each observed outcome by a rate that says how much the evidence is
// worth: a rating (1-5 -> 0..1) 0.3, explicit feedback ("that helped" /
// "not funny") 0.35, asking for a strategy ("just listen") 0.4, and the mood
// of the user's next message (better than before -> above 0.5) 0.15.
//
// Importance: a memory's features (type, tags, entities, topic words) each
// have counts of how often memories with them were searched, used (in a chat
// context or opened) and rated; a feature's affinity is
// tanh((0.5 searched + used + (rating_sum - 3 rated)) / 8) in -1..1, and a new
// memory's importance is its base plus 0.3 times the mean affinity of its
// known features, damped by n/(n+1) for n known features, within 0.05..0.95.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/memory.h"
#include "store/profile.h"

namespace kioku {

// --- Support strategies ---
const std::vector<std::string>& support_strategies();
bool is_support_strategy(const std::string& s);
// "listen_reflect" -> "listen and reflect".
std::string strategy_label(const std::string& s);
// What the companion should do for a strategy (prompt text).
std::string strategy_instruction(const std::string& s);
// The weight before anything was learned.
double prior_weight(const std::string& emotion, const std::string& strategy);

namespace learning_rates {
inline constexpr double kRating = 0.3;
inline constexpr double kFeedback = 0.35;
inline constexpr double kAsked = 0.4;
inline constexpr double kNextMessage = 0.15;
}  // namespace learning_rates

// A rating 1..5 as an outcome 0..1.
double outcome_from_rating(int rating);
// How the user answered: their mood after the reply against before it.
double outcome_from_next_message(double valence_before, double valence_after);
// w moved toward outcome by rate (uses/successes counted).
StrategyWeight learn_strategy(StrategyWeight w, double outcome, double rate);
// The strategy to use now for emotion: the highest weight among the stored
// ones and the priors of the others (ties: the order of support_strategies()).
StrategyWeight choose_strategy(const std::string& emotion, const std::vector<StrategyWeight>& learned);
// Every strategy for emotion, best first (stored weights or priors).
std::vector<StrategyWeight> ranked_strategies(const std::string& emotion, const std::vector<StrategyWeight>& learned);

// --- Importance ---
// (kind, value) pairs: ("type", "note"), ("tag", "family"), ("entity", "Hana"), ("topic", "piano").
std::vector<std::pair<std::string, std::string>> memory_features(const Memory& m);
// Topic words of a query or a text: lower-case words of 4+ letters, no stop words, at most `limit`.
std::vector<std::string> topic_words(const std::string& text, size_t limit = 6);
double pattern_affinity(const ImportancePattern& p);
using PatternIndex = std::map<std::pair<std::string, std::string>, ImportancePattern>;
PatternIndex index_patterns(const std::vector<ImportancePattern>& patterns);
// The prediction for m (base = m.importance); factors_json lists each known
// feature with its counts and affinity, strongest first.
ImportancePrediction predict_importance(const PatternIndex& patterns, const Memory& m);
// One line per factor of a prediction, for `kioku memory why`.
std::vector<std::string> explain_prediction(const ImportancePrediction& p);

}  // namespace kioku
