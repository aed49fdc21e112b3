#include "app/app_context.h"
#include "app/users.h"

#include <fcntl.h>
#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "app/engine.h"
#include "core/error.h"
#include "media/image.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {

AppContext::AppContext(std::shared_ptr<Engine> engine) : engine_(std::move(engine)), data_dir_(engine_->data_dir()) {}

AppContext::AppContext(std::filesystem::path data_dir, std::string user_override, EnvLookup env)
    : AppContext(Engine::open(EngineOptions{std::move(data_dir), std::move(user_override), std::move(env)})) {}

AppContext::~AppContext() {
  // The end of a CLI command: what it learned (searches, opened memories)
  // is written now. Learning signals may be lost, never user input.
  if (profile_) {
    try {
      profile_->flush_learning();
    } catch (const std::exception&) {
    }
  }
}

const Config& AppContext::config() {
  if (!config_) config_ = engine_->config();
  return *config_;
}

const std::string& AppContext::user_id() {
  if (user_id_.empty()) user_id_ = default_user_id();
  return user_id_;
}

std::string AppContext::default_user_id() {
  const std::string& override_id = engine_->options().user;
  return !override_id.empty() ? override_id : config().get_string_or("user.id", "local", "KIOKU_USER");
}

void AppContext::act_as(const std::string& user_id) { user_id_ = user_id; }

UserStore& AppContext::users() {
  if (!users_) {
    memories();  // creates the data directory and migrates memory.db first
    users_ = open_user_store();
  }
  return *users_;
}

std::unique_ptr<UserStore> AppContext::open_user_store() {
  memories();
  const std::string url = store_url();
  // On PostgreSQL the users and tokens live in the database, so every
  // `kioku serve` process on it shares them.
  return url.empty() ? open_sqlite_user_store(memory_db_path()) : open_postgres_user_store(url);
}

bool AppContext::ensure_initialized() {
  bool created = false;
  std::error_code ec;
  if (!std::filesystem::exists(data_dir_, ec)) {
    std::filesystem::create_directories(data_dir_, ec);
    if (ec) throw io_error("cannot create data directory " + data_dir_.string() + ": " + ec.message());
    // [harden, issue 16] private from the start: memories, token, API keys.
    std::filesystem::permissions(data_dir_, std::filesystem::perms::owner_all, ec);
    created = true;
  }
  const auto config_path = data_dir_ / "config.toml";
  if (!std::filesystem::exists(config_path)) {
    write_file_atomically(config_path, default_config_toml(), 0600);  // [harden] may hold API keys
    created = true;
  }
  for (const char* sub : {"journals", "media", "backups"}) std::filesystem::create_directories(data_dir_ / sub, ec);
  if (api_token().empty()) {
    ensure_api_token();
    created = true;
  }
  if (store_url().empty() &&
      (!std::filesystem::exists(memory_db_path()) || !std::filesystem::exists(journal_db_path())))
    created = true;
  memories();
  drafts();
  return created;
}

std::string AppContext::store_url() { return store_url_of(config()); }

MemoryStore& AppContext::memories() {
  if (!memories_) {
    std::filesystem::create_directories(data_dir_);
    const std::string url = store_url();
    memories_ = url.empty() ? open_sqlite_memory_store(memory_db_path()) : open_postgres_memory_store(url);
  }
  return *memories_;
}

KnowledgeStore& AppContext::knowledge() {
  if (!knowledge_) {
    memories();  // creates the data directory and migrates memory.db first
    const std::string url = store_url();
    knowledge_ = url.empty() ? open_sqlite_knowledge_store(memory_db_path()) : open_postgres_knowledge_store(url);
  }
  return *knowledge_;
}

ProfileStore& AppContext::profile_store() {
  if (!profile_store_) {
    memories();  // creates the data directory and migrates memory.db (or the database) first
    const std::string url = store_url();
    profile_store_ = url.empty() ? open_sqlite_profile_store(memory_db_path()) : open_postgres_profile_store(url);
  }
  return *profile_store_;
}

ProfileService& AppContext::profile() {
  if (!profile_) {
    const std::string mode = config().get_string_or("profile.emotion", "auto", "KIOKU_PROFILE_EMOTION");
    LlmClient* reader = nullptr;
    if (mode != "lexicon") {
      try {
        reader = llm();
      } catch (const Error&) {
        // A provider that cannot be set up must not stop `kioku add`: the lexicon reads.
      }
    }
    profile_ = std::make_unique<ProfileService>(profile_store(), memories(), reader, engine_->conversation_cache());
    profile_->defer_learning(engine_->learning_buffer());
  }
  return *profile_;
}

JournalDraftStore& AppContext::drafts() {
  if (!drafts_) {
    std::filesystem::create_directories(data_dir_);
    const std::string url = store_url();
    drafts_ = url.empty() ? open_sqlite_journal_store(journal_db_path()) : open_postgres_journal_store(url);
  }
  return *drafts_;
}

JournalService& AppContext::journal() {
  if (!journal_) {
    if (llm()) compiler_ = std::make_unique<LlmJournalCompiler>(*llm());
    else compiler_ = std::make_unique<PlainJournalCompiler>();
    journal_ = std::make_unique<JournalService>(memories(), drafts(), *compiler_, data_dir_ / "journals",
                                                data_dir_ / "media");
    // Photos are kept as JPEGs of at most 2048 px (quality 85): small enough
    // to store and to send to a vision model.
    journal_->set_image_preparer([](std::string_view bytes) { return shrink_to_jpeg(bytes, 2048, 85).jpeg; });
  }
  return *journal_;
}

Embedder* AppContext::embedder() { return engine_->embedder(); }

Searcher& AppContext::searcher() {
  if (!searcher_) searcher_ = std::make_unique<Searcher>(memories(), embedder(), engine_->vectors(), system_time());
  return *searcher_;
}

JobStore& AppContext::jobs() {
  if (!jobs_) {
    std::filesystem::create_directories(data_dir_);
    const std::string url = store_url();
    jobs_ = url.empty() ? open_sqlite_job_store(memory_db_path()) : open_postgres_job_store(url);
  }
  return *jobs_;
}

const LlmConfig& AppContext::llm_config() {
  if (!llm_config_) llm_config_ = std::make_unique<LlmConfig>(load_llm_config(config()));
  return *llm_config_;
}

LlmClient* AppContext::llm() {
  if (!llm_resolved_) {
    llm_resolved_ = true;
    llm_ = make_llm_client(llm_config());
  }
  return llm_.get();
}

CompanionService& AppContext::companion() {
  if (!companion_) {
    CompanionOptions o;
    o.context.token_budget = static_cast<int>(config().get_number("companion.context_tokens").value_or(2048));
    o.suggestions = config().get_bool("companion.suggestions", "KIOKU_SUGGESTIONS").value_or(false);
    o.suggestion_threshold = config().get_number("companion.suggestion_threshold").value_or(0.6);
    o.tools = llm_config().tools;
    o.max_tool_steps = static_cast<int>(config().get_number("companion.max_tool_steps").value_or(6));
    // Memories the agent stores itself follow the suggestion setting unless
    // [companion] approve_agent_memories says otherwise.
    o.agent_memories_need_approval = config().get_bool("companion.approve_agent_memories").value_or(o.suggestions);
    companion_ = std::make_unique<CompanionService>(memories(), jobs(), searcher(), llm(), active_persona(config()), o);
    companion_->set_journal_drafts(&drafts());
    companion_->set_vision(llm_config().vision);
    companion_->set_knowledge(&knowledge());
    companion_->set_profile(&profile());
  }
  return *companion_;
}

std::string AppContext::api_token() const {
  std::ifstream in(api_token_path());
  std::string token;
  in >> token;
  return token;
}

std::string AppContext::ensure_api_token() {
  if (std::string existing = api_token(); !existing.empty()) return existing;
  std::filesystem::create_directories(data_dir_);
  const std::string token = new_api_token();
  // O_EXCL: when two processes race, the first token wins and both use it.
  const int fd = ::open(api_token_path().c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return api_token();
    throw io_error("cannot create " + api_token_path().string());
  }
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw io_error("cannot write " + api_token_path().string());
  return token;
}

int AppContext::recompile_journals() {
  if (!llm()) return 0;
  LlmJournalCompiler compiler(*llm());
  return journal().recompile_pending(user_id(), compiler);
}

namespace {

// Automatic backups are <data>/backups/auto-<time>; names sort by time.
constexpr std::string_view kAutoBackupPrefix = "auto-";

std::vector<std::filesystem::path> auto_backups_oldest_first(const std::filesystem::path& data_dir) {
  std::vector<std::filesystem::path> autos;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir / "backups", ec))
    if (entry.path().filename().string().rfind(kAutoBackupPrefix, 0) == 0) autos.push_back(entry.path());
  std::sort(autos.begin(), autos.end());
  return autos;
}

JobOutcome run_backup_job(AppContext& ctx) {
  const TimePoint now = system_time().now();
  const auto folder = ctx.data_dir() / "backups" / (std::string(kAutoBackupPrefix) + format_for_path(now));
  if (!std::filesystem::exists(folder)) backup_to_folder(ctx, folder);
  // Keep the newest `keep` automatic backups; manual ones are the user's.
  const int keep = static_cast<int>(ctx.config().get_number("backup.keep").value_or(7));
  const auto autos = auto_backups_oldest_first(ctx.data_dir());
  std::error_code ec;
  int removed = 0;
  for (size_t i = 0; keep > 0 && i + keep < autos.size(); ++i) removed += std::filesystem::remove_all(autos[i], ec) > 0;
  return JobOutcome::finished({{"folder", folder.filename().string()}, {"removed", removed}});
}

JobOutcome run_recompile_job(AppContext& ctx, const Job& job) {
  LlmClient* llm = ctx.llm();
  if (!llm) return JobOutcome::later("waits for an LLM provider ([llm] in config.toml)");
  LlmJournalCompiler compiler(*llm);
  if (!ctx.journal().recompile(job.user_id, job.payload.value("journal_id", ""), compiler))
    return JobOutcome::later("the model did not compile it (unreachable or no usable answer)");
  return JobOutcome::finished({{"recompiled", 1}});
}

}  // namespace

const JobRegistry& AppContext::job_registry() {
  if (!job_registry_) {
    auto registry = std::make_unique<JobRegistry>();
    companion().register_jobs(*registry);
    JobKindPolicy compiles;
    compiles.lease = std::chrono::minutes(10);
    compiles.wait_max = std::chrono::hours(1);
    registry->add("recompile_journal", [this](const Job& j) { return run_recompile_job(*this, j); }, compiles);
    JobKindPolicy backups;
    backups.max_attempts = 3;
    backups.lease = std::chrono::minutes(30);
    registry->add("backup", [this](const Job&) { return run_backup_job(*this); }, backups);
    registry->add("prune_jobs", [this](const Job&) {
      const auto removed = jobs().prune_finished(system_time().now() - std::chrono::hours(24 * 7));
      return JobOutcome::finished({{"removed", removed}});
    });
    // Upkeep can take minutes at 100k memories (docs/LIFECYCLE.md): a long
    // lease; a crash in the middle is finished by the next claim (idempotent).
    JobKindPolicy upkeep;
    upkeep.lease = std::chrono::minutes(30);
    upkeep.max_attempts = 3;
    for (Period p : {Period::kHourly, Period::kDaily, Period::kWeekly}) {
      registry->add("maintain_" + std::string(to_string(p)), [this, p](const Job&) {
        const MaintenanceReport r = maintain(*this, p, "");
        nlohmann::json counts = r.to_json();
        if (!r.errors.empty() && r.memories_extracted == 0 && r.duplicates_merged == 0 && r.promoted() == 0)
          throw Error(ErrorCode::kIo, "maintenance did nothing: " + r.errors.front());
        return JobOutcome::finished(counts);
      }, upkeep);
    }
    for (auto& extra : engine_->extra_job_kinds()) {
      auto handler = extra.handler;
      // The edge's handler reads the session's user: the job's, not the default.
      registry->add(extra.kind, [this, handler](const Job& j) {
        const std::string before = user_id_;
        act_as(j.user_id);
        try {
          JobOutcome outcome = handler(*this, j);
          act_as(before);
          return outcome;
        } catch (...) {
          act_as(before);
          throw;
        }
      }, extra.policy);
    }
    job_registry_ = std::move(registry);
  }
  return *job_registry_;
}

JobRunReport AppContext::run_jobs(int max_jobs, std::chrono::steady_clock::duration budget, bool ignore_run_after) {
  JobRunner runner(jobs(), job_registry(), new_job_holder_id(), system_time());
  runner.set_ignore_run_after(ignore_run_after);
  return runner.run_due(max_jobs, budget);
}

}  // namespace kioku
