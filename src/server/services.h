// What the API handlers share: AppContexts for the worker threads, the one
// search index, the chat context, settings and background work.
//
// NOTES ON CONCURRENCY (SQLite stores and Searchers are single-threaded)
//  1. Plain store work (CRUD, suggestions, journal, uploads) leases a context
//     from a pool: each context has its own SQLite connections, so requests
//     run in parallel (WAL: many readers, one writer; writers wait up to the
//     store's busy timeout, nothing is dropped).
//  2. Vector and hybrid search go through ONE search context under a mutex
//     (full-text search runs on pooled contexts). Its Searcher owns
//     the in-memory vector index; every vector is added through it (request
//     catch-up and the background indexer), so the index is never stale.
//  3. Chat turns run in ONE chat context under its own mutex (turns of one
//     conversation are sequential anyway); it is reopened when the vectors
//     or settings changed, so its companion's searcher sees fresh vectors.
//  4. Every context borrows the same embedding model through a locking proxy
//     (one model in memory, one embed() at a time).
//  5. At most max_contexts contexts are leased at once (2 x cores): more
//     concurrent SQLite readers than cores only add contention. A request
//     never holds two leases, or a full pool would deadlock.
//  6. Settings changes bump a generation; contexts opened under an older one
//     are dropped and reopened on their next use.
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
#include "server/server.h"

namespace kioku::server {

struct ServicesOptions {
  std::filesystem::path data_dir;
  std::string user;
  EnvLookup env;
  size_t max_upload_bytes = 25u << 20;
  // Pooled contexts leased at once; 0 = twice the cores (at least 4).
  int max_contexts = 0;
  CompanionFactory companion_factory;
  std::function<void(std::string_view)> log;
};

class Services {
 public:
  explicit Services(ServicesOptions options);
  ~Services();

  const ServicesOptions& options() const { return options_; }
  const std::filesystem::path& data_dir() const { return options_.data_dir; }

  // A pooled context, returned on destruction.
  class Lease {
   public:
    Lease(Services& owner, std::unique_ptr<AppContext> ctx, uint64_t generation)
        : owner_(owner), ctx_(std::move(ctx)), generation_(generation) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    AppContext& operator*() { return *ctx_; }
    AppContext* operator->() { return ctx_.get(); }

   private:
    Services& owner_;
    std::unique_ptr<AppContext> ctx_;
    uint64_t generation_;
  };
  Lease context();

  // Runs fn with the search context, locked.
  void with_search(const std::function<void(AppContext&)>& fn);
  // Runs fn with the chat context and its companion, locked.
  void with_chat(const std::function<void(AppContext&, Companion&)>& fn);

  // The config changed on disk: reopen every context on its next use.
  void settings_changed();
  // Vectors were added or removed by the search context.
  void vectors_changed() { vector_generation_++; }
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

  std::chrono::steady_clock::time_point started() const { return started_; }
  void log(std::string_view line) const {
    if (options_.log) options_.log(line);
  }

 private:
  std::unique_ptr<AppContext> open_context();
  void release(std::unique_ptr<AppContext> ctx, uint64_t generation);
  void maybe_backup(std::vector<std::string>& done);

  ServicesOptions options_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<uint64_t> config_generation_{1};
  std::atomic<uint64_t> vector_generation_{1};

  // The embedding model, shared (see note 4).
  std::unique_ptr<AppContext> embedder_owner_;
  Embedder* shared_embedder_ = nullptr;
  std::string embedder_notice_;
  std::mutex embed_mutex_;

  std::mutex pool_mutex_;
  std::condition_variable pool_free_;
  const int max_leases_;
  int leased_ = 0;
  std::vector<std::pair<std::unique_ptr<AppContext>, uint64_t>> pool_;

  std::mutex search_mutex_;
  std::unique_ptr<AppContext> search_ctx_;
  uint64_t search_generation_ = 0;

  std::mutex chat_mutex_;
  std::unique_ptr<AppContext> chat_ctx_;
  uint64_t chat_config_generation_ = 0;
  uint64_t chat_vector_generation_ = 0;

  std::mutex settings_mutex_;
  std::chrono::system_clock::time_point next_backup_{};

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
