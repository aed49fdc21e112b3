// A session: everything one thread needs, opened lazily from the data
// directory, sharing the Engine's configuration, embedder and vector indexes
// (src/app/engine.h). One AppContext per thread.
//
//   <data>/memory.db     master memory store
//   <data>/journal.db    drafts of the open journal session
//   <data>/config.toml   settings (see core/config.h)
//   <data>/journals/     markdown exports of compiled journals
//   <data>/media/        images and other files kept with memories
//   <data>/backups/      `kioku backup` output
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "companion/companion_service.h"
#include "core/config.h"
#include "app/engine.h"
#include "embed/embedder.h"
#include "jobs/jobs.h"
#include "journal/journal_service.h"
#include "llm/llm_client.h"
#include "search/searcher.h"
#include "store/knowledge.h"
#include "store/profile.h"
#include "profile/profile_service.h"
#include "store/store.h"
#include "store/user_store.h"

namespace kioku {

class AppContext {
 public:
  // A session of engine.
  explicit AppContext(std::shared_ptr<Engine> engine);
  // A session of an engine of its own (one-shot CLI commands, tests).
  AppContext(std::filesystem::path data_dir, std::string user_override, EnvLookup env);
  ~AppContext();

  Engine& engine() { return *engine_; }
  const std::shared_ptr<Engine>& engine_ptr() const { return engine_; }

  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path memory_db_path() const { return data_dir_ / "memory.db"; }
  std::filesystem::path journal_db_path() const { return data_dir_ / "journal.db"; }
  const Config& config();
  // Whose data this session reads and writes: the user it acts as, else the
  // default user (--user, [user] id, KIOKU_USER, or "local").
  const std::string& user_id();
  // The default user, whoever the session acts as.
  std::string default_user_id();
  // Acts as user_id from now on ("" = the default user again). The server
  // sets the user of each request's token; a session returned to the pool
  // acts as the default user again (Engine::release).
  void act_as(const std::string& user_id);
  // Where the stores live: [store] url / KIOKU_STORE_URL / --store. "" (the
  // default) is SQLite in the data directory; postgresql://... a PostgreSQL
  // database (src/store/postgres). Anything else throws kInvalidInput.
  std::string store_url();

  // Creates the data directory, databases and a default config.toml if missing.
  // Returns true if anything was created.
  bool ensure_initialized();

  MemoryStore& memories();
  JobStore& jobs();
  // The users of this data directory and their token hashes (memory.db).
  UserStore& users();
  // Another connection to the same users (for a thread-safe owner).
  std::unique_ptr<UserStore> open_user_store();
  JournalDraftStore& drafts();
  // The knowledge graph and memory lifecycle tables of memory.db (issue 12).
  KnowledgeStore& knowledge();
  JournalService& journal();
  // What the companion learned about the user (seed 004): the profile tables
  // of memory.db and the learning rules over them. [profile] emotion =
  // "lexicon" keeps emotion reading off the LLM (default "auto": the LLM when
  // one is configured).
  ProfileStore& profile_store();
  ProfileService& profile();
  // The embedder configured in [embed] (null when none is configured).
  Embedder* embedder();
  // Why there is no embedder although one is configured (e.g. the local model
  // is not downloaded yet), as one line for the user; "" otherwise.
  const std::string& embedder_notice() {
    embedder_notice_ = engine_->embedder_notice();
    return embedder_notice_;
  }
  Searcher& searcher();
  // The configured LLM ([llm] / KIOKU_LLM_*), or null when none is.
  LlmClient* llm();
  const LlmConfig& llm_config();
  CompanionService& companion();
  // Re-compiles journals that were compiled without an LLM, once one is
  // configured. Returns how many were rewritten (0 without an LLM).
  int recompile_journals();

  // The job kinds this session can run: the built-in ones (chat_reply,
  // describe_image, recompile_journal, backup, prune_jobs) bound to this
  // session, and the engine's extra kinds.
  const JobRegistry& job_registry();
  // Runs due jobs (all kinds, or only `kinds`); ignore_run_after runs
  // waiting jobs now (a user's `kioku jobs run`).
  JobRunReport run_jobs(int max_jobs, std::chrono::steady_clock::duration budget, bool ignore_run_after = false);

  // The HTTP API token, <data>/token (64 hex chars, mode 0600): "" when none
  // exists yet. ensure_api_token() creates it from 32 random bytes if missing
  // (ensure_initialized() calls it) and returns it. Never log it.
  std::filesystem::path api_token_path() const { return data_dir_ / "token"; }
  std::string api_token() const;
  std::string ensure_api_token();

 private:
  std::shared_ptr<Engine> engine_;
  std::filesystem::path data_dir_;
  std::shared_ptr<const Config> config_;  // the snapshot this session started with
  std::string user_id_;
  std::unique_ptr<MemoryStore> memories_;
  std::unique_ptr<JobStore> jobs_;
  std::unique_ptr<UserStore> users_;
  std::unique_ptr<JournalDraftStore> drafts_;
  std::unique_ptr<KnowledgeStore> knowledge_;
  std::unique_ptr<ProfileStore> profile_store_;
  std::unique_ptr<ProfileService> profile_;
  std::unique_ptr<JournalCompiler> compiler_;
  std::unique_ptr<JournalService> journal_;
  std::string embedder_notice_;
  std::unique_ptr<Searcher> searcher_;
  std::unique_ptr<LlmConfig> llm_config_;
  std::unique_ptr<LlmClient> llm_;
  bool llm_resolved_ = false;
  std::unique_ptr<CompanionService> companion_;
  std::unique_ptr<JobRegistry> job_registry_;
};

}  // namespace kioku
