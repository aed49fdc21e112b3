// PgProfileStore: the profile_* tables (schema.cpp, v3), the same contract
// as SqliteProfileStore (src/store/profile.h). Every call runs under the
// scope of the user it names, so the row-level security policies (v4) hold
// it to that user's rows even where a query forgot its user filter.
#include "core/error.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/store_base.h"
#include "store/profile_tables.h"

namespace kioku {
namespace {

using pg::Connection;
using pg::Result;
using pg::Scope;

constexpr const char* kEmotionColumns = "message_id, emotion, intensity, valence, detector, at";
constexpr const char* kStrategyColumns = "emotion, strategy, weight, uses, successes, updated_at";
constexpr const char* kChangeColumns =
    "emotion, strategy, weight_before, weight_after, outcome, reason, message_id, at";
constexpr const char* kPatternColumns = "kind, value, searched, used, rated, rating_sum, updated_at";

EmotionReading read_emotion(const Result& r, int i) {
  return {r.text(i, 0), r.text(i, 1), r.real(i, 2), r.real(i, 3), r.text(i, 4), from_millis(r.integer(i, 5))};
}

StrategyWeight read_strategy(const Result& r, int i) {
  return {r.text(i, 0), r.text(i, 1), r.real(i, 2), r.integer(i, 3), r.integer(i, 4), from_millis(r.integer(i, 5))};
}

StrategyChange read_change(const Result& r, int i) {
  return {r.text(i, 0), r.text(i, 1), r.real(i, 2), r.real(i, 3),
          r.real(i, 4), r.text(i, 5), r.text(i, 6), from_millis(r.integer(i, 7))};
}

ImportancePattern read_pattern(const Result& r, int i) {
  return {r.text(i, 0),
          r.text(i, 1),
          r.integer(i, 2),
          r.integer(i, 3),
          r.integer(i, 4),
          r.real(i, 5),
          from_millis(r.integer(i, 6))};
}

class PgProfileStore final : public ProfileStore, pg::StoreBase {
 public:
  PgProfileStore(const std::string& url, const TimeSource& clock) : StoreBase(url), clock_(clock) {}

  void put_emotion(const std::string& user_id, const EmotionReading& e) override {
    if (e.message_id.empty()) throw invalid_input("an emotion reading needs its message id");
    transaction(Scope::user(user_id), [&](Connection& c) {
      // The message must be this user's (the key is the message alone).
      if (!c.exec("SELECT 1 FROM memories WHERE id = $1 AND user_id = $2", {e.message_id, user_id}).rows())
        throw not_found("no message with id " + e.message_id);
      c.exec(std::string("INSERT INTO profile_emotions(user_id, ") + kEmotionColumns +
                 ") VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT(message_id) DO UPDATE SET emotion = excluded.emotion, "
                 "intensity = excluded.intensity, valence = excluded.valence, detector = excluded.detector, "
                 "at = excluded.at",
             {user_id, e.message_id, e.emotion, e.intensity, e.valence, e.detector,
              to_millis(e.at == TimePoint{} ? clock_.now() : e.at)});
    });
  }

  std::optional<EmotionReading> emotion(const std::string& user_id, const std::string& message_id) override {
    return with(Scope::user(user_id), [&](Connection& c) -> std::optional<EmotionReading> {
      auto r = c.exec(
          std::string("SELECT ") + kEmotionColumns + " FROM profile_emotions WHERE user_id = $1 AND message_id = $2",
          {user_id, message_id});
      if (!r.rows()) return std::nullopt;
      return read_emotion(r, 0);
    });
  }

  std::vector<EmotionReading> emotions(const std::string& user_id, int limit) override {
    return with(Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + kEmotionColumns +
                          " FROM profile_emotions WHERE user_id = $1 ORDER BY at DESC, message_id DESC LIMIT $2",
                      {user_id, static_cast<int64_t>(limit)});
      std::vector<EmotionReading> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_emotion(r, i));
      return out;
    });
  }

  bool remove_emotion(const std::string& user_id, const std::string& message_id) override {
    bool removed = false;
    transaction(Scope::user(user_id), [&](Connection& c) {
      removed = c.exec("DELETE FROM profile_emotions WHERE user_id = $1 AND message_id = $2", {user_id, message_id})
                    .affected() > 0;
    });
    return removed;
  }

  std::vector<StrategyWeight> strategies(const std::string& user_id) override {
    return with(Scope::user(user_id), [&](Connection& c) {
      // COLLATE "C": the order SQLite gives (bytes), whatever the server's locale.
      auto r = c.exec(std::string("SELECT ") + kStrategyColumns +
                          " FROM profile_strategies WHERE user_id = $1 "
                          "ORDER BY emotion COLLATE \"C\", weight DESC, strategy COLLATE \"C\"",
                      {user_id});
      std::vector<StrategyWeight> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_strategy(r, i));
      return out;
    });
  }

  void put_strategy(const std::string& user_id, const StrategyWeight& w, const StrategyChange& ch) override {
    if (w.emotion.empty() || w.strategy.empty())
      throw invalid_input("a strategy weight needs an emotion and a strategy");
    const int64_t now = to_millis(clock_.now());
    transaction(Scope::user(user_id), [&](Connection& c) {
      c.exec(std::string("INSERT INTO profile_strategies(user_id, ") + kStrategyColumns +
                 ") VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT(user_id, emotion, strategy) DO UPDATE SET "
                 "weight = excluded.weight, uses = excluded.uses, successes = excluded.successes, "
                 "updated_at = excluded.updated_at",
             {user_id, w.emotion, w.strategy, w.weight, w.uses, w.successes, now});
      c.exec(std::string("INSERT INTO profile_strategy_history(user_id, ") + kChangeColumns +
                 ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
             {user_id, w.emotion, w.strategy, ch.weight_before, ch.weight_after, ch.outcome, ch.reason, ch.message_id,
              now});
    });
  }

  std::vector<StrategyChange> strategy_history(const std::string& user_id, const std::string& strategy,
                                               int limit) override {
    return with(Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + kChangeColumns +
                          " FROM profile_strategy_history WHERE user_id = $1 AND ($2 = '' OR strategy = $2) "
                          "ORDER BY seq DESC LIMIT $3",
                      {user_id, strategy, static_cast<int64_t>(limit)});
      std::vector<StrategyChange> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_change(r, i));
      return out;
    });
  }

  bool remove_strategy(const std::string& user_id, const std::string& emotion, const std::string& strategy) override {
    bool removed = false;
    transaction(Scope::user(user_id), [&](Connection& c) {
      // History rows go with their weight (ON DELETE CASCADE).
      removed =
          c.exec("DELETE FROM profile_strategies WHERE user_id = $1 AND ($2 = '' OR emotion = $2) AND strategy = $3",
                 {user_id, emotion, strategy})
              .affected() > 0;
    });
    return removed;
  }

  void add_pattern_counts(const std::string& user_id, const std::vector<ImportancePattern>& deltas) override {
    if (deltas.empty()) return;
    const int64_t now = to_millis(clock_.now());
    transaction(Scope::user(user_id), [&](Connection& c) {
      std::vector<std::pair<std::string, pg::Params>> statements;
      for (const auto& d : deltas) {
        if (d.kind.empty() || d.value.empty()) continue;
        statements.push_back({std::string("INSERT INTO profile_importance_patterns AS p(user_id, ") + kPatternColumns +
                                  ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT(user_id, kind, value) DO UPDATE SET "
                                  "searched = p.searched + excluded.searched, used = p.used + excluded.used, "
                                  "rated = p.rated + excluded.rated, rating_sum = p.rating_sum + excluded.rating_sum, "
                                  "updated_at = excluded.updated_at",
                              {user_id, d.kind, d.value, d.searched, d.used, d.rated, d.rating_sum, now}});
      }
      c.exec_pipelined(statements);  // one round trip for a search's many patterns
    });
  }

  std::vector<ImportancePattern> patterns(const std::string& user_id) override {
    return with(Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + kPatternColumns +
                          " FROM profile_importance_patterns WHERE user_id = $1 "
                          "ORDER BY kind COLLATE \"C\", value COLLATE \"C\"",
                      {user_id});
      std::vector<ImportancePattern> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_pattern(r, i));
      return out;
    });
  }

  void put_pattern(const std::string& user_id, const ImportancePattern& p) override {
    if (p.kind.empty() || p.value.empty()) throw invalid_input("a pattern needs a kind and a value");
    transaction(Scope::user(user_id), [&](Connection& c) {
      c.exec(std::string("INSERT INTO profile_importance_patterns(user_id, ") + kPatternColumns +
                 ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT(user_id, kind, value) DO UPDATE SET "
                 "searched = excluded.searched, used = excluded.used, rated = excluded.rated, "
                 "rating_sum = excluded.rating_sum, updated_at = excluded.updated_at",
             {user_id, p.kind, p.value, p.searched, p.used, p.rated, p.rating_sum, to_millis(clock_.now())});
    });
  }

  bool remove_pattern(const std::string& user_id, const std::string& kind, const std::string& value) override {
    bool removed = false;
    transaction(Scope::user(user_id), [&](Connection& c) {
      removed = c.exec("DELETE FROM profile_importance_patterns WHERE user_id = $1 AND kind = $2 AND value = $3",
                       {user_id, kind, value})
                    .affected() > 0;
    });
    return removed;
  }

  void put_prediction(const std::string& user_id, const ImportancePrediction& p) override {
    transaction(Scope::user(user_id), [&](Connection& c) {
      if (!c.exec("SELECT 1 FROM memories WHERE id = $1 AND user_id = $2", {p.memory_id, user_id}).rows())
        throw not_found("no memory with id " + p.memory_id);
      c.exec(
          "INSERT INTO profile_importance_predictions(memory_id, user_id, base, predicted, factors, at) "
          "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT(memory_id) DO UPDATE SET base = excluded.base, "
          "predicted = excluded.predicted, factors = excluded.factors, at = excluded.at",
          {p.memory_id, user_id, p.base, p.predicted, p.factors_json.empty() ? std::string("[]") : p.factors_json,
           to_millis(p.at == TimePoint{} ? clock_.now() : p.at)});
    });
  }

  std::optional<ImportancePrediction> prediction(const std::string& user_id, const std::string& memory_id) override {
    return with(Scope::user(user_id), [&](Connection& c) -> std::optional<ImportancePrediction> {
      auto r = c.exec(
          "SELECT memory_id, base, predicted, factors, at FROM profile_importance_predictions "
          "WHERE user_id = $1 AND memory_id = $2",
          {user_id, memory_id});
      if (!r.rows()) return std::nullopt;
      return ImportancePrediction{r.text(0, 0), r.real(0, 1), r.real(0, 2), r.text(0, 3), from_millis(r.integer(0, 4))};
    });
  }

  void put_conversation(const std::string& user_id, const ConversationState& s) override {
    transaction(Scope::user(user_id), [&](Connection& c) {
      c.exec(
          "INSERT INTO profile_conversations(user_id, last_message_id, last_reply_id, channel, turns, updated_at) "
          "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT(user_id) DO UPDATE SET "
          "last_message_id = excluded.last_message_id, last_reply_id = excluded.last_reply_id, "
          "channel = excluded.channel, turns = excluded.turns, updated_at = excluded.updated_at",
          {user_id, s.last_message_id, s.last_reply_id, s.channel, s.turns,
           to_millis(s.updated_at == TimePoint{} ? clock_.now() : s.updated_at)});
    });
  }

  std::optional<ConversationState> conversation(const std::string& user_id) override {
    return with(Scope::user(user_id), [&](Connection& c) -> std::optional<ConversationState> {
      auto r = c.exec(
          "SELECT last_message_id, last_reply_id, channel, turns, updated_at FROM profile_conversations "
          "WHERE user_id = $1",
          {user_id});
      if (!r.rows()) return std::nullopt;
      return ConversationState{r.text(0, 0), r.text(0, 1), r.text(0, 2), r.integer(0, 3), from_millis(r.integer(0, 4))};
    });
  }

  void erase(const std::string& user_id, const std::string& part) override {
    const auto tables = profile_tables_of(part);
    transaction(Scope::user(user_id), [&](Connection& c) {
      for (const char* table : tables) c.exec(std::string("DELETE FROM ") + table + " WHERE user_id = $1", {user_id});
    });
  }

 private:
  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<ProfileStore> open_postgres_profile_store(const std::string& url, const TimeSource& clock) {
  return std::make_unique<PgProfileStore>(url, clock);
}

}  // namespace kioku
