// What the Telegram bot must remember across restarts, in one JSON file
// (<data>/telegram-state.json) replaced atomically on every change.
//
// NOTES ON THE DESIGN (no update lost, none handled twice)
// Telegram forgets an update once getUpdates is called with a higher offset.
// So a batch of updates is first written here, into `inbox`, together with
// the new offset, in one atomic write; only then is the next getUpdates sent
// (which confirms the batch to Telegram). An update leaves the inbox only
// after its effect is durable (journal entry committed, reply sent, ...). A
// crash therefore leaves an update either still at Telegram (offset not yet
// written) or in the inbox (handled again on restart, see TelegramBot for how
// replays avoid duplicate journal entries) — never nowhere.
// Thread safety: all methods lock; save() happens inside the lock so writes
// never interleave.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kioku::telegram {

struct ChatSettings {
  bool voice = false;  // replies as voice notes (/voice)
};

class BotState {
 public:
  // Loads path if it exists; a missing file is a fresh state. Throws kIo for
  // an unreadable or corrupt file (better to stop than to replay or skip).
  explicit BotState(std::filesystem::path path);

  int64_t offset() const;
  // Adds the updates to the inbox and moves the offset past them, durably.
  void receive(const std::vector<nlohmann::json>& updates, int64_t next_offset);
  // The updates received but not yet fully handled, oldest first.
  std::vector<nlohmann::json> inbox() const;
  void mark_done(int64_t update_id);

  ChatSettings chat(int64_t chat_id) const;
  void set_chat(int64_t chat_id, const ChatSettings& settings);

  // Where journal reminders go (the chat that last talked to the bot).
  std::optional<int64_t> last_chat() const;
  void set_last_chat(int64_t chat_id);
  // The chat a Kioku user last wrote from (reminders to that user go there).
  std::optional<int64_t> last_chat_of(const std::string& user) const;
  void set_last_chat_of(const std::string& user, int64_t chat_id);
  // Chat turns queued while the model was down (the user's message memory
  // id and its chat), so their answers can be sent once they exist.
  struct QueuedTurn {
    std::string memory_id;
    int64_t chat_id = 0;
    std::string user;  // whose turn ("" in older files: the bot's own user)
  };
  std::vector<QueuedTurn> queued_turns() const;
  void add_queued_turn(const QueuedTurn& turn);
  void remove_queued_turn(const std::string& memory_id);

  // The journal session already warned about being idle.
  std::string warned_session() const;
  void set_warned_session(const std::string& session_id);
  // The same per Kioku user (each has a journal of their own).
  std::string warned_session_of(const std::string& user) const;
  void set_warned_session_of(const std::string& user, const std::string& session_id);

 private:
  void save();  // caller holds mutex_
  std::filesystem::path path_;
  mutable std::mutex mutex_;
  nlohmann::json data_;
};

}  // namespace kioku::telegram
