// ProfileStore: what the companion learns about each person (seed 004),
// persistent per user: the emotion read in each of their messages, which
// support strategies work for them (with the history of every weight
// change), which kinds of memories matter to them (importance patterns and
// the predictions made from them), and where their conversation stands.
//
// Contract (every backend): each call is one transaction; every call takes
// the user id and only ever touches that user's rows; the learning rules live
// above the store (src/profile/), which keeps whatever it is given. Emotions
// and predictions belong to a memory and go when it is deleted.
// Ephemeral caches (emotion cache, importance cache, session interventions)
// are NOT stored here, on purpose (seed 004, "Correctly Ephemeral").
// Thread safety: one thread at a time per object, like MemoryStore.
// Failures throw kioku::Error (kIo for database errors).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace kioku {

// The emotion read in one user message.
struct EmotionReading {
  std::string message_id;      // the chat memory
  std::string emotion;         // joy, sadness, anger, anxiety, loneliness, gratitude, neutral
  double intensity = 0;        // 0..1
  double valence = 0;          // -1 (bad) .. 1 (good)
  std::string detector;        // "llm", "lexicon", "user" (a correction)
  TimePoint at{};
};

// How well one support strategy works for the user when they feel `emotion`.
struct StrategyWeight {
  std::string emotion;
  std::string strategy;  // encourage, practical_steps, listen_reflect, humour, check_in_later
  double weight = 0.5;   // 0..1: the expected outcome
  int64_t uses = 0;      // outcomes learned from (ratings, feedback, next messages)
  int64_t successes = 0; // outcomes above 0.5
  TimePoint updated_at{};
};

// One change of a strategy's weight (support_strategy_history).
struct StrategyChange {
  std::string emotion;
  std::string strategy;
  double weight_before = 0;
  double weight_after = 0;
  double outcome = 0;      // the observation learned from, 0..1
  std::string reason;      // "rating", "feedback", "next_message", "correction"
  std::string message_id;  // the reply or message behind it ("" for a correction)
  TimePoint at{};
};

// Counts for one kind of memory (kind: type, tag, entity or topic).
struct ImportancePattern {
  std::string kind;
  std::string value;
  int64_t searched = 0;    // came up in the user's searches
  int64_t used = 0;        // placed in a chat context or opened
  int64_t rated = 0;       // in replies the user rated
  double rating_sum = 0;   // sum of those ratings (1-5)
  TimePoint updated_at{};
};

// The importance predicted for a memory when it was added, and why.
struct ImportancePrediction {
  std::string memory_id;
  double base = 0.5;          // the importance it came with
  double predicted = 0.5;     // what it was given
  std::string factors_json;   // JSON array of the patterns that moved it
  TimePoint at{};
};

// Where the user's conversation stands (on any device).
struct ConversationState {
  std::string last_message_id;  // the user's last message
  std::string last_reply_id;    // the companion's last reply ("" when it is pending)
  std::string channel;          // where the last message came from: cli, web, telegram, ...
  int64_t turns = 0;            // user messages so far
  TimePoint updated_at{};
};

class ProfileStore {
 public:
  virtual ~ProfileStore() = default;

  // Emotions. put_emotion replaces the reading of the same message.
  virtual void put_emotion(const std::string& user_id, const EmotionReading& reading) = 0;
  virtual std::optional<EmotionReading> emotion(const std::string& user_id, const std::string& message_id) = 0;
  // Newest first.
  virtual std::vector<EmotionReading> emotions(const std::string& user_id, int limit) = 0;
  virtual bool remove_emotion(const std::string& user_id, const std::string& message_id) = 0;

  // Strategies. put_strategy writes the weight and its history row together.
  virtual std::vector<StrategyWeight> strategies(const std::string& user_id) = 0;
  virtual void put_strategy(const std::string& user_id, const StrategyWeight& weight, const StrategyChange& change) = 0;
  // Newest first; strategy "" = all.
  virtual std::vector<StrategyChange> strategy_history(const std::string& user_id, const std::string& strategy,
                                                       int limit) = 0;
  // Removes the weight and its history. emotion "" = of every emotion.
  virtual bool remove_strategy(const std::string& user_id, const std::string& emotion, const std::string& strategy) = 0;

  // Importance patterns. add_pattern_counts adds the deltas' counts to the
  // stored ones (creating rows); put_pattern replaces one (a correction).
  virtual void add_pattern_counts(const std::string& user_id, const std::vector<ImportancePattern>& deltas) = 0;
  virtual std::vector<ImportancePattern> patterns(const std::string& user_id) = 0;
  virtual void put_pattern(const std::string& user_id, const ImportancePattern& pattern) = 0;
  virtual bool remove_pattern(const std::string& user_id, const std::string& kind, const std::string& value) = 0;
  // kNotFound when the memory is not the user's.
  virtual void put_prediction(const std::string& user_id, const ImportancePrediction& prediction) = 0;
  // Several predictions in one transaction where the backend can; those
  // whose memory is gone (or not the user's) are skipped. Returns how many
  // were written.
  virtual size_t put_predictions(const std::string& user_id, const std::vector<ImportancePrediction>& predictions) {
    size_t written = 0;
    for (const auto& p : predictions) {
      try {
        put_prediction(user_id, p);
        ++written;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNotFound) throw;
      }
    }
    return written;
  }
  virtual std::optional<ImportancePrediction> prediction(const std::string& user_id, const std::string& memory_id) = 0;

  // Conversation state.
  virtual void put_conversation(const std::string& user_id, const ConversationState& state) = 0;
  virtual std::optional<ConversationState> conversation(const std::string& user_id) = 0;

  // Forgets a part of what was learned about the user: "emotions",
  // "strategies" (with their history), "patterns" (with predictions),
  // "conversation" (the state only: the messages are memories), or "all".
  // Throws kInvalidInput for another part.
  virtual void erase(const std::string& user_id, const std::string& part) = 0;
};

// The profile tables of memory.db at path, on a connection of its own
// (creating and migrating the database like open_sqlite_memory_store).
std::unique_ptr<ProfileStore> open_sqlite_profile_store(const std::filesystem::path& path,
                                                        const TimeSource& clock = system_time());

}  // namespace kioku
