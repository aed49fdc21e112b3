// Engine: one per data directory in a process. It owns what every session
// (AppContext) shares, and exposes the use cases that more than one edge
// needs, so the CLI, the HTTP API and the bots give the same answers.
//
// NOTES ON OWNERSHIP AND CONCURRENCY
//  1. Shared, thread-safe, owned once: the configuration snapshot (swapped
//     whole when settings change: sessions opened before keep the snapshot
//     they started with and are dropped from the pool), the embedding model
//     (one copy in memory; embed() calls take turns), the vector indexes
//     (VectorCatalog: updated incrementally when vectors are written, never
//     reopened), the job kinds and schedules the edges add.
//  2. Per thread: an AppContext (a "session") has its own store connections,
//     Searcher, LLM client and companion. SQLite connections are
//     single-threaded; WAL lets the sessions of all threads and processes
//     read at once and write one at a time.
//  3. session() leases a pooled AppContext: at most max_sessions at once
//     (twice the cores, at least 4: more SQLite readers than cores only add
//     contention). A caller never holds two leases, or a full pool would
//     deadlock.
//  4. Background work (run_background): the replay of the write spool,
//     learning signals gathered since the last round, scheduler tick,
//     embedding queue, due jobs. It may run in several threads and processes
//     at once: jobs are leased (src/jobs/jobs.h), the spool's replay too
//     (src/app/write_spool.h), vectors are idempotent upserts.
//  5. On PostgreSQL, an engine that spools writes (EngineOptions::
//     spool_writes, `kioku serve`) takes the user's writes into
//     <data>/spool.db while the database is unreachable (add_memory,
//     spool_chat_if_down) and replays them once it is back.
// Failure behaviour: constructors throw kioku::Error (kIo when the data
// directory cannot be created); run_background never throws (it reports).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "companion/companion.h"
#include "core/config.h"
#include "embed/embedder.h"
#include "ingest/importer.h"
#include "jobs/jobs.h"
#include "lifecycle/maintenance.h"
#include "profile/conversation_cache.h"
#include "profile/learning_buffer.h"
#include "search/vector_catalog.h"
#include "store/spool_store.h"
#include "store/store.h"

namespace kioku {

class AppContext;
class WriteSpool;

struct EngineOptions {
  std::filesystem::path data_dir;
  std::string user;  // user override ("" = [user] id of config.toml)
  EnvLookup env = process_env();
  int max_sessions = 0;  // 0: twice the cores, at least 4
  // On PostgreSQL: writes of user input that cannot reach the database go
  // to the write spool (a server's choice; a one-shot CLI command fails
  // instead, so its user knows at once).
  bool spool_writes = false;
  std::function<void(std::string_view line)> log;
};

// A job kind added by an edge (Telegram's transcriptions, Bluesky's posts):
// the handler gets the session that runs it.
using SessionJobHandler = std::function<JobOutcome(AppContext& session, const Job& job)>;

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  static std::shared_ptr<Engine> open(EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineOptions& options() const { return options_; }
  const std::filesystem::path& data_dir() const { return options_.data_dir; }

  // The settings as they are now (config.toml + environment).
  std::shared_ptr<const Config> config();
  // config.toml changed: the next config() reads it again; pooled sessions
  // opened under the old settings are dropped.
  void settings_changed();
  uint64_t settings_generation() const { return settings_generation_; }

  // The one embedder (null when none is configured or the model is missing,
  // with embedder_notice() saying why). Safe to call from any thread.
  Embedder* embedder();
  std::string embedder_notice();
  // Replaces the embedder (tests, or a server that shares one across
  // engines); call before sessions use it.
  void set_embedder(std::unique_ptr<Embedder> embedder, std::string notice);
  std::shared_ptr<VectorCatalog> vectors();
  // The recent turns of every user's conversation (src/profile), shared by
  // the sessions; ephemeral, so a restart starts it empty.
  std::shared_ptr<ConversationCache> conversation_cache() { return conversation_cache_; }
  // Learning signals of every session (src/profile/learning_buffer.h),
  // written by flush_learning(): each background round, and by a session
  // when it closes.
  std::shared_ptr<LearningBuffer> learning_buffer() { return learning_buffer_; }
  // Returns the rows written; throws kioku::Error when the store fails (what
  // was not written stays for the next flush).
  size_t flush_learning();

  // A pooled session, returned on destruction.
  class Lease {
   public:
    Lease(Engine& owner, std::unique_ptr<AppContext> ctx, uint64_t generation);
    ~Lease();
    Lease(Lease&&) = default;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    AppContext& operator*() { return *ctx_; }
    AppContext* operator->() { return ctx_.get(); }

   private:
    Engine* owner_;
    std::unique_ptr<AppContext> ctx_;
    uint64_t generation_;
  };
  // Throws kUnavailable when no session frees up within 30 s.
  Lease session();
  // A session of one's own, outside the pool (a long-lived thread's).
  std::unique_ptr<AppContext> open_session();

  // Job kinds beyond the built-in ones (chat_reply, describe_image,
  // recompile_journal, backup, prune_jobs). Add before run_background runs.
  void add_job_kind(const std::string& kind, SessionJobHandler handler, JobKindPolicy policy = {});
  struct ExtraKind {
    std::string kind;
    SessionJobHandler handler;
    JobKindPolicy policy;
  };
  std::vector<ExtraKind> extra_job_kinds();
  void add_schedule(Schedule schedule);
  // The built-in schedules (backups by [backup] interval_hours, job pruning)
  // and the ones added.
  std::vector<Schedule> schedules();

  struct BackgroundReport {
    int embedded = 0;
    JobRunReport jobs;
    std::vector<std::string> lines;  // for the log
  };
  // One round of background work within about `budget`.
  BackgroundReport run_background(std::chrono::steady_clock::duration budget = std::chrono::seconds(5));

  // The write spool when the stores are on PostgreSQL and this engine spools
  // writes or a spool file exists (its rows are replayed by run_background);
  // null otherwise (SQLite needs none). Opened on first use; throws kIo when
  // the file cannot be opened.
  WriteSpool* spool();
  // Whether add_memory and chat turns take writes into the spool now.
  bool spooling_writes();

  std::chrono::steady_clock::time_point started() const { return started_; }
  void log(std::string_view line) const {
    if (options_.log) options_.log(line);
  }

 private:
  explicit Engine(EngineOptions options);
  void release(std::unique_ptr<AppContext> ctx, uint64_t generation);

  EngineOptions options_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  std::mutex config_mutex_;
  std::shared_ptr<const Config> config_;
  std::atomic<uint64_t> settings_generation_{1};

  std::mutex embedder_mutex_;  // guards resolution; embed calls lock embed_mutex_
  bool embedder_resolved_ = false;
  std::unique_ptr<Embedder> embedder_;         // the model
  std::unique_ptr<Embedder> shared_embedder_;  // the locking proxy handed out
  std::string embedder_notice_;
  std::mutex embed_mutex_;
  std::shared_ptr<VectorCatalog> vectors_;
  std::shared_ptr<ConversationCache> conversation_cache_ = std::make_shared<ConversationCache>();
  std::shared_ptr<LearningBuffer> learning_buffer_ = std::make_shared<LearningBuffer>();

  std::mutex pool_mutex_;
  std::condition_variable pool_free_;
  int max_leases_ = 4;
  int leased_ = 0;
  std::vector<std::pair<std::unique_ptr<AppContext>, uint64_t>> pool_;

  std::mutex spool_mutex_;
  bool spool_resolved_ = false;
  std::unique_ptr<WriteSpool> spool_;

  std::mutex jobs_mutex_;
  std::vector<ExtraKind> extra_kinds_;
  std::vector<Schedule> extra_schedules_;
};

// The PostgreSQL URL [store] url / KIOKU_STORE_URL names ("" for SQLite in
// the data directory); kInvalidInput for anything else.
std::string store_url_of(const Config& config);

// --- Use cases that several edges share (one implementation each) ---

// The status document of `kioku status --json` and GET /api/status: counts,
// tiers, journal session, queues, jobs and scheduled runs, embedder and
// provider. probe_provider asks the LLM provider for its models (a network
// call, bounded by the provider's timeout).
nlohmann::json status_document(AppContext& ctx, bool probe_provider = true);

// Stores parsed documents (kioku import, POST /api/upload) in ONE
// transaction: all of them or none. Returns one document per file, the same
// shape from the CLI and the API: {file, format, added, duplicates, ids,
// warnings}.
struct ParsedImport {
  std::string name;  // as shown to the user (the path given, or the upload's file name)
  ImportResult result;
};
nlohmann::json store_imports(AppContext& ctx, std::vector<ParsedImport> files);

// Adds one memory a person gave (kioku add, POST /api/memory): without an
// importance of its own (predict_importance), the user's patterns predict it
// (src/profile) and the prediction is kept for `kioku memory why`. A memory
// whose content is already stored counts as a corroboration (created false).
// With the database unreachable and an engine that spools writes, the
// memory goes to the write spool instead (spooled: the outcome's id is the
// one it will have, memory is it as spooled) and is stored, predicted and
// embedded when the spool is replayed.
struct AddMemoryOutcome : AddOutcome {
  bool spooled = false;
  Memory memory;  // when spooled
};
AddMemoryOutcome add_memory(AppContext& ctx, Memory m, bool predict_importance);

// A chat message while the database is known to be unreachable: the user's
// message goes to the write spool (before any AI step) and the turn comes
// back queued; the replay stores it and queues its reply (a chat_reply
// job). nullopt while the database is up: the companion takes the turn.
std::optional<ChatTurnResult> spool_chat_if_down(AppContext& ctx, const std::string& message);

// Stores one spooled write in the database (the replay's step, see
// src/app/write_spool.h): a write whose id is stored already is not stored
// again. Throws kioku::Error (kUnavailable while the database is down).
void replay_spooled_write(AppContext& ctx, const SpooledWrite& w);
// The same for consecutive spooled writes, in order: the memories among them
// in one transaction (add_batch). Throws like replay_spooled_write; a
// failure may leave some stored (a replay skips them).
void replay_spooled_writes(AppContext& ctx, const std::vector<SpooledWrite>& batch);

// Writes a consistent backup of the databases into folder (a new folder).
void backup_to_folder(AppContext& ctx, const std::filesystem::path& folder);

// Scheduled upkeep (src/lifecycle/maintenance.h) for one user, or every user
// with memories when user_id is empty: `kioku maintain` and the scheduled
// maintain_hourly/daily/weekly jobs. Idempotent: a run stopped in the middle
// is finished by the next. Errors of single units are in the report.
MaintenanceReport maintain(AppContext& ctx, Period period, const std::string& user_id,
                           const std::function<void(std::string_view, int64_t)>& on_progress = {});

}  // namespace kioku
