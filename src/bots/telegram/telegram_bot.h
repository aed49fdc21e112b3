// The Telegram companion bot (seed 000's handler table and flow).
//
//   /start, /help          the command reference
//   /journal start         journal mode: text and photos are stored silently ("✓")
//   /journal done          compile the session into an article (memory.db)
//   /journal cancel        discard the session
//   /bsky <text>           post to Bluesky and store it (normal mode only)
//   /status                mode and memory stats
//   /voice                 toggle spoken replies (voice notes)
//   /rate <1-5>            rate the companion's last reply
//   anything else          normal mode: a chat turn; journal mode: an entry
//   photos                 journal entry or image memory (shrunk, described)
//   voice messages         transcribed and handled as text, else stored as audio and queued
//
// NOTES ON THE DESIGN
//  - Threads: run() polls and handles updates in order on the calling thread
//    (chat turns, commands); one worker thread does the slow or order-bound
//    steps (every journal write, photo download/shrink/describe, compile)
//    first-in first-out, so entries land in the order they were sent and
//    `done` compiles everything sent before it. Each thread has its own
//    AppContext (stores are one-thread objects; SQLite WAL lets them share).
//  - Durability: see bot_state.h. An update leaves the inbox only when its
//    effect is durable, so a crash replays it. A replayed journal entry is
//    skipped when the open session already holds it (same text after the
//    message's time, or the same stored photo); other replays may repeat a
//    reply, never lose input.
//  - Mode: journal mode is "this user has an open session in journal.db";
//    the bot tracks the mode it has asked the worker for, and reads it back
//    from journal.db on start, so an open session continues after a restart.
//  - Each whitelisted Telegram account acts as one Kioku user: the one
//    [telegram] users maps it to, else the context's user (a personal
//    memory). Journal mode, queued answers and reminders are per Kioku user;
//    an update's user is fixed when it is handled and travels with the
//    worker's job. Others get no answer at all and are logged by id only,
//    never with content.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "core/config.h"

namespace kioku {
class Engine;
}

namespace kioku::telegram {

struct TelegramSettings {
  std::string token;  // TELEGRAM_BOT_TOKEN or telegram.token (secret)
  std::string api_url = "https://api.telegram.org";  // KIOKU_TELEGRAM_API_URL or telegram.api_url
  std::set<int64_t> allowed_users;  // KIOKU_TELEGRAM_ALLOWED_USERS "1,2" or telegram.allowed_users [1, 2]
  // Telegram user id -> Kioku user (KIOKU_TELEGRAM_USERS "1=alice,2=bob" or
  // telegram.users = {"1" = "alice"}): these are allowed too, and their
  // messages land in that user's memory. Allowed ids not mapped act as the
  // bot's own Kioku user.
  std::map<int64_t, std::string> users;
  bool configured() const { return !token.empty(); }
};

// Reads the settings above (environment wins). Throws kInvalidInput for a
// malformed user id list.
TelegramSettings load_telegram_settings(const Config& config);

struct TelegramBotOptions {
  std::filesystem::path data_dir;
  std::string user;  // Kioku user id override ("" = the configured one)
  EnvLookup env = process_env();
  int poll_timeout_s = 50;                           // getUpdates long-poll wait
  std::chrono::milliseconds idle_warn = std::chrono::hours(1);      // journal idle reminder
  std::chrono::milliseconds idle_compile = std::chrono::hours(24);  // journal auto-compile
  std::chrono::milliseconds maintenance_every = std::chrono::minutes(5);  // Bluesky retries, AI queue
  std::chrono::milliseconds error_backoff = std::chrono::seconds(2);      // after a failed poll (doubles, max 60 s)
  double send_backoff_s = 1;                         // first retry of a failed send
  std::function<void(std::string_view line)> log;    // one line per event; never message content
  // The engine to use (kioku serve shares its own); null: one is opened.
  std::shared_ptr<Engine> engine;
  // Run the engine's jobs and embedding queue in the maintenance step (off
  // when kioku serve runs them for the same engine).
  bool run_background = true;
};

class TelegramBot {
 public:
  // Opens the data directory (creating it when missing). Throws
  // kInvalidInput without a token or without allowed users.
  TelegramBot(TelegramSettings settings, TelegramBotOptions options);
  ~TelegramBot();
  TelegramBot(const TelegramBot&) = delete;
  TelegramBot& operator=(const TelegramBot&) = delete;

  // Polls and handles updates until stop(). Returns after the worker has
  // finished the jobs already queued.
  void run();
  // Thread-safe; run() returns soon after (a poll in progress is cut).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kioku::telegram
