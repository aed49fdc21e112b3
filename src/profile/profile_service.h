// ProfileService: what the companion learns about one person (seed 004),
// applied to chat turns through small hooks of CompanionService and the
// edges, persisted through ProfileStore (src/store/profile.h); the rules are
// in learning.h.
//
// NOTES ON A TURN
//  1. The user's message is already stored when observe_message() reads its
//     emotion (LLM or lexicon, emotion.h) and stores the reading. A message
//     already read returns its stored reading and teaches nothing again, so a
//     queued turn answered later, or a Telegram update handled twice, counts
//     once.
//  2. The same call learns from how the user answered the previous reply:
//     that reply's metadata names the strategy it used and the mood it
//     answered; explicit feedback in the new message ("that helped") or else
//     the change of mood moves that strategy's weight (history row kept).
//  3. For a negative emotion a strategy is chosen (the one asked for, else the
//     best weight) and goes into the prompt with the user's current state and
//     the strategies that work for them; the reply records it (reply
//     metadata "support") for step 2 and for ratings.
//  4. after_reply() counts the memories placed in the prompt as used
//     (importance patterns) and updates the conversation state.
// Failures: the companion calls these inside try/catch: learning is never a
// reason to fail or lose a turn. Ephemeral state (emotion cache, importance
// cache, this session's interventions) lives in this object only.
// Thread safety: one ProfileService per session (thread); the
// ConversationCache it shares is thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "llm/llm_client.h"
#include "profile/conversation_cache.h"
#include "profile/emotion.h"
#include "profile/learning.h"
#include "profile/learning_buffer.h"
#include "store/profile.h"
#include "store/store.h"

namespace kioku {

struct TurnSupport {
  EmotionReading reading;
  std::string strategy;                // "" when no support strategy is called for
  std::vector<StrategyWeight> ranked;  // for the reading's emotion, best first
  std::string prompt;                  // the "How the user feels" section ("" when nothing is known)
  std::string notice;                  // why the LLM's reading was not used
  // For the reply's metadata ("support").
  nlohmann::json metadata() const;
};

class ProfileService {
 public:
  // llm may be null (the lexicon reads emotions). cache may be null (every
  // read goes to the database).
  ProfileService(ProfileStore& profile, MemoryStore& memories, LlmClient* llm,
                 std::shared_ptr<ConversationCache> cache, const TimeSource& clock = system_time());

  // Importance-pattern counts of searches, opened and used memories, and the
  // predictions of new memories, go to `buffer` (shared by the sessions of a
  // process, written by its flush) instead of one write each; ratings and
  // corrections are written at once. Without a buffer everything is.
  void defer_learning(std::shared_ptr<LearningBuffer> buffer) { deferred_ = std::move(buffer); }
  // Writes what the buffer holds (every session's). Returns the rows written.
  size_t flush_learning();

  // Where this session's messages come from ("cli", "web"); a message whose
  // id names its source ("telegram:...") says so itself.
  void set_channel(std::string channel) { channel_ = std::move(channel); }

  // --- Chat turn hooks ---
  TurnSupport observe_message(const std::string& user_id, const Memory& message);
  void after_reply(const std::string& user_id, const Memory& message, const Memory& reply,
                   const std::vector<std::string>& used_memory_ids);
  // A reply was rated 1-5 (its first rating teaches its strategy; every
  // rating counts for the memories it used).
  void on_rating(const std::string& user_id, const Memory& reply, int rating, bool first_rating);
  // The last `limit` chat turns before `message` (oldest first), from the
  // cache while it is current, else from the database.
  std::vector<Memory> history(const std::string& user_id, const Memory& message, int limit);
  // Write-through of a stored turn.
  void note_turn(const std::string& user_id, const Memory& turn);

  // --- Importance patterns ---
  void note_search(const std::string& user_id, const std::string& query, const std::vector<Memory>& results);
  void note_opened(const std::string& user_id, const Memory& m);
  void note_used(const std::string& user_id, const std::vector<std::string>& ids);
  // Predicts m's importance from the patterns (m.importance is the base).
  ImportancePrediction predict(const std::string& user_id, const Memory& m);
  // Sets m.importance to the prediction; call record_prediction() once m is stored.
  ImportancePrediction apply_prediction(const std::string& user_id, Memory& m);
  void record_prediction(const std::string& user_id, const std::string& memory_id, ImportancePrediction p);
  // The stored prediction of a memory, or a prediction made now
  // (`stored` false) for one added before anything was learned.
  struct Explanation {
    ImportancePrediction prediction;
    bool stored = false;
    std::vector<std::string> lines;
  };
  Explanation explain_importance(const std::string& user_id, const Memory& m);

  // --- What was learned, and corrections ---
  nlohmann::json document(const std::string& user_id, int recent = 20);
  void correct_emotion(const std::string& user_id, const std::string& message_id, const std::string& emotion,
                       double intensity);
  bool forget_emotion(const std::string& user_id, const std::string& message_id);
  void set_strategy_weight(const std::string& user_id, const std::string& emotion, const std::string& strategy,
                           double weight);
  bool forget_strategy(const std::string& user_id, const std::string& emotion, const std::string& strategy);
  void set_pattern(const std::string& user_id, const std::string& kind, const std::string& value, double affinity);
  bool forget_pattern(const std::string& user_id, const std::string& kind, const std::string& value);
  void erase(const std::string& user_id, const std::string& part);

  ProfileStore& store() { return profile_; }
  EmotionDetector& detector() { return detector_; }

 private:
  std::string prompt_for(const std::string& user_id, const EmotionReading& now, const std::string& strategy,
                         const std::vector<StrategyWeight>& learned);
  void learn(const std::string& user_id, const std::string& emotion, const std::string& strategy, double outcome,
             double rate, const std::string& reason, const std::string& message_id);
  std::vector<StrategyWeight> learned_for(const std::string& user_id);
  const PatternIndex& patterns_of(const std::string& user_id);
  void add_counts(const std::string& user_id, const std::vector<Memory>& memories, int searched, int used, int rated,
                  double rating);
  std::string channel_of(const Memory& message) const;
  void write_counts(const std::string& user_id, const std::vector<ImportancePattern>& deltas, bool deferrable);

  ProfileStore& profile_;
  MemoryStore& memories_;
  std::shared_ptr<ConversationCache> cache_;
  const TimeSource& clock_;
  EmotionDetector detector_;
  std::string channel_ = "kioku";
  std::shared_ptr<LearningBuffer> deferred_;
  // Ephemeral importance cache (seed 004): patterns per user, reloaded after
  // a write through this service or after kImportanceCacheTtl.
  static constexpr std::chrono::seconds kImportanceCacheTtl{30};
  struct CachedPatterns {
    PatternIndex index;
    std::chrono::steady_clock::time_point loaded;
  };
  std::map<std::string, CachedPatterns> importance_cache_;
  // Ephemeral session interventions (seed 004's active_interventions): the
  // strategies this session used, by user (shown in the document only).
  std::map<std::string, std::vector<std::string>> interventions_;
};

}  // namespace kioku
