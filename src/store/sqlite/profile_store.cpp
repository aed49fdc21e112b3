// SqliteProfileStore: the profile_* tables of memory.db (schema in
// memory_store.cpp's migrations). Its own connection to the file; the
// process-wide writer lock of database.cpp orders its transactions with the
// memory store's.
#include "core/error.h"
#include "store/profile.h"
#include "store/profile_tables.h"
#include "store/sqlite/database.h"
#include "store/sqlite/schema.h"

namespace kioku {
namespace {

constexpr const char* kEmotionColumns = "message_id, emotion, intensity, valence, detector, at";
constexpr const char* kStrategyColumns = "emotion, strategy, weight, uses, successes, updated_at";
constexpr const char* kChangeColumns =
    "emotion, strategy, weight_before, weight_after, outcome, reason, message_id, at";
constexpr const char* kPatternColumns = "kind, value, searched, used, rated, rating_sum, updated_at";

EmotionReading read_emotion(const sqlite::Statement& st) {
  EmotionReading e;
  e.message_id = st.text(0);
  e.emotion = st.text(1);
  e.intensity = st.real(2);
  e.valence = st.real(3);
  e.detector = st.text(4);
  e.at = from_millis(st.integer(5));
  return e;
}

StrategyWeight read_strategy(const sqlite::Statement& st) {
  StrategyWeight w;
  w.emotion = st.text(0);
  w.strategy = st.text(1);
  w.weight = st.real(2);
  w.uses = st.integer(3);
  w.successes = st.integer(4);
  w.updated_at = from_millis(st.integer(5));
  return w;
}

StrategyChange read_change(const sqlite::Statement& st) {
  StrategyChange c;
  c.emotion = st.text(0);
  c.strategy = st.text(1);
  c.weight_before = st.real(2);
  c.weight_after = st.real(3);
  c.outcome = st.real(4);
  c.reason = st.text(5);
  c.message_id = st.text(6);
  c.at = from_millis(st.integer(7));
  return c;
}

ImportancePattern read_pattern(const sqlite::Statement& st) {
  ImportancePattern p;
  p.kind = st.text(0);
  p.value = st.text(1);
  p.searched = st.integer(2);
  p.used = st.integer(3);
  p.rated = st.integer(4);
  p.rating_sum = st.real(5);
  p.updated_at = from_millis(st.integer(6));
  return p;
}

class SqliteProfileStore final : public ProfileStore {
 public:
  SqliteProfileStore(const std::filesystem::path& path, const TimeSource& clock) : db_(path), clock_(clock) {
    migrate_memory_database(db_);
  }

  void put_emotion(const std::string& user_id, const EmotionReading& e) override {
    if (e.message_id.empty()) throw invalid_input("an emotion reading needs its message id");
    db_.transaction([&] {
      // The message must be this user's (the key is the message alone).
      auto own = db_.prepare("SELECT 1 FROM memories WHERE id = ? AND user_id = ?");
      own.bind(1, e.message_id).bind(2, user_id);
      const bool mine = own.step();
      own.reset();
      if (!mine) throw not_found("no message with id " + e.message_id);
      db_.prepare(std::string("INSERT INTO profile_emotions(user_id, ") + kEmotionColumns +
                  ") VALUES (?,?,?,?,?,?,?) ON CONFLICT(message_id) DO UPDATE SET emotion = excluded.emotion, "
                  "intensity = excluded.intensity, valence = excluded.valence, detector = excluded.detector, "
                  "at = excluded.at")
          .bind(1, user_id)
          .bind(2, e.message_id)
          .bind(3, e.emotion)
          .bind(4, e.intensity)
          .bind(5, e.valence)
          .bind(6, e.detector)
          .bind(7, to_millis(e.at == TimePoint{} ? clock_.now() : e.at))
          .run();
    });
  }

  std::optional<EmotionReading> emotion(const std::string& user_id, const std::string& message_id) override {
    auto st = db_.prepare(std::string("SELECT ") + kEmotionColumns +
                          " FROM profile_emotions WHERE user_id = ? AND message_id = ?");
    st.bind(1, user_id).bind(2, message_id);
    std::optional<EmotionReading> out;
    if (st.step()) out = read_emotion(st);
    st.reset();
    return out;
  }

  std::vector<EmotionReading> emotions(const std::string& user_id, int limit) override {
    auto st = db_.prepare(std::string("SELECT ") + kEmotionColumns +
                          " FROM profile_emotions WHERE user_id = ? ORDER BY at DESC, message_id DESC LIMIT ?");
    st.bind(1, user_id).bind(2, limit);
    std::vector<EmotionReading> out;
    while (st.step()) out.push_back(read_emotion(st));
    st.reset();
    return out;
  }

  bool remove_emotion(const std::string& user_id, const std::string& message_id) override {
    bool removed = false;
    db_.transaction([&] {
      db_.prepare("DELETE FROM profile_emotions WHERE user_id = ? AND message_id = ?")
          .bind(1, user_id)
          .bind(2, message_id)
          .run();
      removed = db_.changes() > 0;
    });
    return removed;
  }

  std::vector<StrategyWeight> strategies(const std::string& user_id) override {
    auto st = db_.prepare(std::string("SELECT ") + kStrategyColumns +
                          " FROM profile_strategies WHERE user_id = ? ORDER BY emotion, weight DESC, strategy");
    st.bind(1, user_id);
    std::vector<StrategyWeight> out;
    while (st.step()) out.push_back(read_strategy(st));
    st.reset();
    return out;
  }

  void put_strategy(const std::string& user_id, const StrategyWeight& w, const StrategyChange& c) override {
    if (w.emotion.empty() || w.strategy.empty())
      throw invalid_input("a strategy weight needs an emotion and a strategy");
    const int64_t now = to_millis(clock_.now());
    db_.transaction([&] {
      db_.prepare(std::string("INSERT INTO profile_strategies(user_id, ") + kStrategyColumns +
                  ") VALUES (?,?,?,?,?,?,?) ON CONFLICT(user_id, emotion, strategy) DO UPDATE SET "
                  "weight = excluded.weight, uses = excluded.uses, successes = excluded.successes, "
                  "updated_at = excluded.updated_at")
          .bind(1, user_id)
          .bind(2, w.emotion)
          .bind(3, w.strategy)
          .bind(4, w.weight)
          .bind(5, w.uses)
          .bind(6, w.successes)
          .bind(7, now)
          .run();
      db_.prepare(std::string("INSERT INTO profile_strategy_history(user_id, ") + kChangeColumns +
                  ") VALUES (?,?,?,?,?,?,?,?,?)")
          .bind(1, user_id)
          .bind(2, w.emotion)
          .bind(3, w.strategy)
          .bind(4, c.weight_before)
          .bind(5, c.weight_after)
          .bind(6, c.outcome)
          .bind(7, c.reason)
          .bind(8, c.message_id)
          .bind(9, now)
          .run();
    });
  }

  std::vector<StrategyChange> strategy_history(const std::string& user_id, const std::string& strategy,
                                               int limit) override {
    auto st = db_.prepare(std::string("SELECT ") + kChangeColumns +
                          " FROM profile_strategy_history WHERE user_id = ? AND (? = '' OR strategy = ?) "
                          "ORDER BY seq DESC LIMIT ?");
    st.bind(1, user_id).bind(2, strategy).bind(3, strategy).bind(4, limit);
    std::vector<StrategyChange> out;
    while (st.step()) out.push_back(read_change(st));
    st.reset();
    return out;
  }

  bool remove_strategy(const std::string& user_id, const std::string& emotion, const std::string& strategy) override {
    bool removed = false;
    db_.transaction([&] {
      // History rows go with their weight (ON DELETE CASCADE).
      db_.prepare("DELETE FROM profile_strategies WHERE user_id = ? AND (? = '' OR emotion = ?) AND strategy = ?")
          .bind(1, user_id)
          .bind(2, emotion)
          .bind(3, emotion)
          .bind(4, strategy)
          .run();
      removed = db_.changes() > 0;
    });
    return removed;
  }

  void add_pattern_counts(const std::string& user_id, const std::vector<ImportancePattern>& deltas) override {
    if (deltas.empty()) return;
    const int64_t now = to_millis(clock_.now());
    db_.transaction([&] {
      for (const auto& d : deltas) {
        if (d.kind.empty() || d.value.empty()) continue;
        db_.prepare(std::string("INSERT INTO profile_importance_patterns(user_id, ") + kPatternColumns +
                    ") VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(user_id, kind, value) DO UPDATE SET "
                    "searched = searched + excluded.searched, used = used + excluded.used, "
                    "rated = rated + excluded.rated, rating_sum = rating_sum + excluded.rating_sum, "
                    "updated_at = excluded.updated_at")
            .bind(1, user_id)
            .bind(2, d.kind)
            .bind(3, d.value)
            .bind(4, d.searched)
            .bind(5, d.used)
            .bind(6, d.rated)
            .bind(7, d.rating_sum)
            .bind(8, now)
            .run();
      }
    });
  }

  std::vector<ImportancePattern> patterns(const std::string& user_id) override {
    auto st = db_.prepare(std::string("SELECT ") + kPatternColumns +
                          " FROM profile_importance_patterns WHERE user_id = ? ORDER BY kind, value");
    st.bind(1, user_id);
    std::vector<ImportancePattern> out;
    while (st.step()) out.push_back(read_pattern(st));
    st.reset();
    return out;
  }

  void put_pattern(const std::string& user_id, const ImportancePattern& p) override {
    if (p.kind.empty() || p.value.empty()) throw invalid_input("a pattern needs a kind and a value");
    db_.transaction([&] {
      db_.prepare(std::string("INSERT INTO profile_importance_patterns(user_id, ") + kPatternColumns +
                  ") VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(user_id, kind, value) DO UPDATE SET "
                  "searched = excluded.searched, used = excluded.used, rated = excluded.rated, "
                  "rating_sum = excluded.rating_sum, updated_at = excluded.updated_at")
          .bind(1, user_id)
          .bind(2, p.kind)
          .bind(3, p.value)
          .bind(4, p.searched)
          .bind(5, p.used)
          .bind(6, p.rated)
          .bind(7, p.rating_sum)
          .bind(8, to_millis(clock_.now()))
          .run();
    });
  }

  bool remove_pattern(const std::string& user_id, const std::string& kind, const std::string& value) override {
    bool removed = false;
    db_.transaction([&] {
      db_.prepare("DELETE FROM profile_importance_patterns WHERE user_id = ? AND kind = ? AND value = ?")
          .bind(1, user_id)
          .bind(2, kind)
          .bind(3, value)
          .run();
      removed = db_.changes() > 0;
    });
    return removed;
  }

  void put_prediction(const std::string& user_id, const ImportancePrediction& p) override {
    db_.transaction([&] {
      if (!write_prediction(user_id, p)) throw not_found("no memory with id " + p.memory_id);
    });
  }

  size_t put_predictions(const std::string& user_id, const std::vector<ImportancePrediction>& predictions) override {
    size_t written = 0;
    if (predictions.empty()) return written;
    db_.transaction([&] {
      for (const auto& p : predictions) written += write_prediction(user_id, p) ? 1 : 0;
    });
    return written;
  }

  std::optional<ImportancePrediction> prediction(const std::string& user_id, const std::string& memory_id) override {
    auto st = db_.prepare(
        "SELECT memory_id, base, predicted, factors, at FROM profile_importance_predictions "
        "WHERE user_id = ? AND memory_id = ?");
    st.bind(1, user_id).bind(2, memory_id);
    std::optional<ImportancePrediction> out;
    if (st.step()) {
      ImportancePrediction p;
      p.memory_id = st.text(0);
      p.base = st.real(1);
      p.predicted = st.real(2);
      p.factors_json = st.text(3);
      p.at = from_millis(st.integer(4));
      out = p;
    }
    st.reset();
    return out;
  }

  void put_conversation(const std::string& user_id, const ConversationState& c) override {
    db_.transaction([&] {
      db_.prepare(
             "INSERT INTO profile_conversations(user_id, last_message_id, last_reply_id, channel, turns, "
             "updated_at) VALUES (?,?,?,?,?,?) ON CONFLICT(user_id) DO UPDATE SET "
             "last_message_id = excluded.last_message_id, last_reply_id = excluded.last_reply_id, "
             "channel = excluded.channel, turns = excluded.turns, updated_at = excluded.updated_at")
          .bind(1, user_id)
          .bind(2, c.last_message_id)
          .bind(3, c.last_reply_id)
          .bind(4, c.channel)
          .bind(5, c.turns)
          .bind(6, to_millis(c.updated_at == TimePoint{} ? clock_.now() : c.updated_at))
          .run();
    });
  }

  std::optional<ConversationState> conversation(const std::string& user_id) override {
    auto st = db_.prepare(
        "SELECT last_message_id, last_reply_id, channel, turns, updated_at FROM profile_conversations "
        "WHERE user_id = ?");
    st.bind(1, user_id);
    std::optional<ConversationState> out;
    if (st.step()) {
      ConversationState c;
      c.last_message_id = st.text(0);
      c.last_reply_id = st.text(1);
      c.channel = st.text(2);
      c.turns = st.integer(3);
      c.updated_at = from_millis(st.integer(4));
      out = c;
    }
    st.reset();
    return out;
  }

  void erase(const std::string& user_id, const std::string& part) override {
    const auto tables = profile_tables_of(part);
    db_.transaction([&] {
      for (const char* table : tables)
        db_.prepare(std::string("DELETE FROM ") + table + " WHERE user_id = ?").bind(1, user_id).run();
    });
  }

 private:
  // Inside a transaction: false when the memory is not the user's.
  bool write_prediction(const std::string& user_id, const ImportancePrediction& p) {
    auto own = db_.prepare("SELECT 1 FROM memories WHERE id = ? AND user_id = ?");
    own.bind(1, p.memory_id).bind(2, user_id);
    const bool mine = own.step();
    own.reset();
    if (!mine) return false;
    db_.prepare(
           "INSERT INTO profile_importance_predictions(memory_id, user_id, base, predicted, factors, at) "
           "VALUES (?,?,?,?,?,?) ON CONFLICT(memory_id) DO UPDATE SET base = excluded.base, "
           "predicted = excluded.predicted, factors = excluded.factors, at = excluded.at")
        .bind(1, p.memory_id)
        .bind(2, user_id)
        .bind(3, p.base)
        .bind(4, p.predicted)
        .bind(5, p.factors_json.empty() ? std::string("[]") : p.factors_json)
        .bind(6, to_millis(p.at == TimePoint{} ? clock_.now() : p.at))
        .run();
    return true;
  }
  sqlite::Database db_;
  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<ProfileStore> open_sqlite_profile_store(const std::filesystem::path& path, const TimeSource& clock) {
  return std::make_unique<SqliteProfileStore>(path, clock);
}

}  // namespace kioku
