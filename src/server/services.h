// What the API handlers share: the Engine (sessions, shared embedder and
// vector indexes, background work), the chat lock, settings and the batched
// access-time writes.
//
// NOTES ON CONCURRENCY
//  1. Every request leases a session from the Engine's pool (engine.h, notes
//     2-3): its own SQLite connections and Searcher, so requests run in
//     parallel, vector searches included (the VectorCatalog behind every
//     Searcher is shared and takes shared locks to search).
//  2. Chat turns run one at a time under a mutex (turns of one conversation
//     are sequential anyway) on a leased session; nothing is reopened when
//     vectors move: new vectors reach the shared indexes as they are written.
//  3. A request never holds two leases, or a full pool would deadlock.
//  4. Settings changes tell the Engine, which drops sessions opened under the
//     old settings and hands out new ones.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "app/app_context.h"
#include "app/engine.h"
#include "server/api.h"
#include "server/server.h"

namespace kioku::server {

struct ServicesOptions {
  std::filesystem::path data_dir;
  std::string user;
  EnvLookup env;
  size_t max_upload_bytes = 25u << 20;
  // Sessions leased at once; 0 = twice the cores (at least 4).
  int max_contexts = 0;
  CompanionFactory companion_factory;
  std::function<void(std::string_view)> log;
  // The engine to serve (shared with a Telegram bot in the same process);
  // null: one is opened for data_dir.
  std::shared_ptr<Engine> engine;
};

class Services {
 public:
  explicit Services(ServicesOptions options);
  ~Services();

  const ServicesOptions& options() const { return options_; }
  const std::filesystem::path& data_dir() const { return options_.data_dir; }
  Engine& engine() { return *engine_; }

  using Lease = Engine::Lease;
  // A session acting as the user of the request's token (never the default
  // user: a request without one is a bug, kInternal). There is no other way
  // for a handler to get a session, so a new route cannot forget the user.
  Lease context(const ApiRequest& req);
  // A session as the default user, for work outside any request (startup,
  // access-time flushes that carry their own user ids).
  Lease system_context() { return engine_->session(); }

  // Runs fn with a session of the request's user for vector search (any
  // pooled session can).
  void with_search(const ApiRequest& req, const std::function<void(AppContext&)>& fn);
  // Runs fn with a session of the request's user and its companion; one turn
  // at a time.
  void with_chat(const ApiRequest& req, const std::function<void(AppContext&, Companion&)>& fn);

  // The config changed on disk: sessions reopen on their next use.
  void settings_changed() { engine_->settings_changed(); }
  // Serialises writers of config.toml.
  std::mutex& settings_mutex() { return settings_mutex_; }

  // Memories a search returned: their access times and counts are written
  // by flush_access() (in batches, the background loop, and on shutdown).
  // Call without holding a Lease: a flush leases a context.
  void note_access(const std::string& user_id, std::vector<std::string> ids);
  // Returns how many accesses were written.
  size_t flush_access();

  // One round of background work; returns a line per thing done.
  std::vector<std::string> background_tick();

  std::chrono::steady_clock::time_point started() const { return engine_->started(); }
  void log(std::string_view line) const {
    if (options_.log) options_.log(line);
  }

 private:
  ServicesOptions options_;
  std::shared_ptr<Engine> engine_;
  std::mutex chat_mutex_;
  std::mutex settings_mutex_;

  static constexpr size_t kAccessFlushBatch = 64;  // searches
  struct PendingAccess {
    std::string user_id;
    std::vector<std::string> ids;
    TimePoint at;
  };
  std::mutex access_mutex_;
  std::vector<PendingAccess> pending_access_;
};

}  // namespace kioku::server
