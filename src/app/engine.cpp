#include "app/engine.h"

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "app/app_context.h"
#include "app/write_spool.h"
#include "core/error.h"
#include "core/id.h"
#include "embed/bert_embedder.h"
#include "embed/hashing_embedder.h"
#include "embed/model_registry.h"
#include "embed/remote_embedder.h"
#include "profile/profile_service.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {

namespace {

// Lets every session use one model: embed() calls take turns.
class LockedEmbedder final : public Embedder {
 public:
  LockedEmbedder(Embedder& inner, std::mutex& mutex) : inner_(inner), mutex_(mutex) {}
  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts, EmbedPurpose purpose) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return inner_.embed(texts, purpose);
  }
  int dimension() const override { return inner_.dimension(); }
  std::string model_id() const override { return inner_.model_id(); }

 private:
  Embedder& inner_;
  std::mutex& mutex_;
};

// The embedder [embed] asks for; null with a notice when it cannot be had.
std::unique_ptr<Embedder> resolve_embedder(const Config& c, const std::filesystem::path& data_dir, std::string& notice) {
  const std::string provider = c.get_string_or("embed.provider", "local", "KIOKU_EMBED_PROVIDER");
  if (provider == "local") {
    const std::string model = c.get_string_or("embed.model", default_model_name(), "KIOKU_EMBED_MODEL");
    const auto dir = data_dir / "models" / model;
    if (std::filesystem::exists(dir / "model.safetensors"))
      return std::make_unique<BertEmbedder>(dir, static_cast<int>(c.get_number("embed.threads").value_or(0)));
    notice = "semantic search is off until the model is installed (kioku models pull " + model +
             "); searching full text only";
    return nullptr;
  }
  if (provider == "hashing")
    return std::make_unique<HashingEmbedder>(static_cast<int>(c.get_number("embed.dimension").value_or(256)));
  if (provider == "ollama" || provider == "openai") {
    RemoteEmbedderConfig rc;
    rc.provider = provider;
    rc.url = c.get_string_or("embed.url", provider == "ollama" ? "http://127.0.0.1:11434" : "https://api.openai.com/v1",
                             "KIOKU_EMBED_URL");
    rc.model = c.get_string_or("embed.model", "", "KIOKU_EMBED_MODEL");
    rc.api_key = c.get_string_or("embed.api_key", "", "KIOKU_EMBED_API_KEY");
    rc.dimension = static_cast<int>(c.get_number("embed.dimension").value_or(0));
    rc.timeout_s = c.get_number("embed.timeout_s").value_or(30);
    rc.query_prefix = c.get_string_or("embed.query_prefix", "");
    rc.passage_prefix = c.get_string_or("embed.passage_prefix", "");
    return make_remote_embedder(rc);
  }
  if (provider != "none" && !provider.empty())
    throw invalid_input("unknown embed.provider '" + provider + "' (expected local, hashing, ollama, openai or none)");
  return nullptr;
}

}  // namespace

std::shared_ptr<Engine> Engine::open(EngineOptions options) {
  return std::shared_ptr<Engine>(new Engine(std::move(options)));
}

Engine::Engine(EngineOptions options) : options_(std::move(options)) {
  max_leases_ = options_.max_sessions > 0 ? options_.max_sessions
                                          : std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()));
  if (!options_.env) options_.env = process_env();
}

Engine::~Engine() {
  pool_.clear();  // sessions before the shared parts they use
  spool_.reset();
  if (vectors_) {
    try {
      vectors_->save();
    } catch (...) {
      // A lost saved index costs a rebuild on the next start.
    }
  }
}

std::shared_ptr<const Config> Engine::config() {
  std::lock_guard<std::mutex> lock(config_mutex_);
  if (!config_) config_ = std::make_shared<const Config>(Config::load(options_.data_dir / "config.toml", options_.env));
  return config_;
}

void Engine::settings_changed() {
  {
    std::lock_guard<std::mutex> lock(config_mutex_);
    config_.reset();
  }
  settings_generation_++;
  std::lock_guard<std::mutex> lock(pool_mutex_);
  pool_.clear();
}

Embedder* Engine::embedder() {
  std::lock_guard<std::mutex> lock(embedder_mutex_);
  if (!embedder_resolved_) {
    embedder_resolved_ = true;
    embedder_ = resolve_embedder(*config(), options_.data_dir, embedder_notice_);
    if (embedder_) shared_embedder_ = std::make_unique<LockedEmbedder>(*embedder_, embed_mutex_);
  }
  return shared_embedder_.get();
}

std::string Engine::embedder_notice() {
  embedder();
  std::lock_guard<std::mutex> lock(embedder_mutex_);
  return embedder_notice_;
}

void Engine::set_embedder(std::unique_ptr<Embedder> embedder, std::string notice) {
  std::lock_guard<std::mutex> lock(embedder_mutex_);
  embedder_resolved_ = true;
  embedder_ = std::move(embedder);
  shared_embedder_ = embedder_ ? std::make_unique<LockedEmbedder>(*embedder_, embed_mutex_) : nullptr;
  embedder_notice_ = std::move(notice);
}

std::shared_ptr<VectorCatalog> Engine::vectors() {
  std::lock_guard<std::mutex> lock(embedder_mutex_);
  if (!vectors_) {
    SearcherConfig sc;
    sc.index_dir = options_.data_dir / "index";
    sc.hnsw_threshold = static_cast<size_t>(config()->get_number("search.hnsw_threshold").value_or(20000));
    sc.int8_vectors = config()->get_bool("search.int8_vectors").value_or(false);
    // Its own connection, by value: a build may outlast any session.
    const std::string url = store_url_of(*config());
    const auto db = options_.data_dir / "memory.db";
    sc.open_build_store = [url, db]() -> std::shared_ptr<VectorStore> {
      if (url.empty()) return open_sqlite_memory_store(db);
      return open_postgres_memory_store(url);
    };
    vectors_ = std::make_shared<VectorCatalog>(sc);
  }
  return vectors_;
}

std::string store_url_of(const Config& config) {
  std::string url = config.get_string_or("store.url", "", "KIOKU_STORE_URL");
  if (url == "sqlite") url.clear();
  if (!url.empty() && !is_postgres_store_url(url))
    throw invalid_input("[store] url must be postgresql://... (or empty for SQLite in the data directory), not " +
                        mask_store_url(url));
  return url;
}

WriteSpool* Engine::spool() {
  std::lock_guard<std::mutex> lock(spool_mutex_);
  if (!spool_resolved_) {
    const bool on_postgres = !store_url_of(*config()).empty();
    const auto file = options_.data_dir / "spool.db";
    if (on_postgres && (options_.spool_writes || std::filesystem::exists(file))) {
      std::filesystem::create_directories(options_.data_dir);
      spool_ = std::make_unique<WriteSpool>(file, options_.log);
    }
    spool_resolved_ = true;
  }
  return spool_.get();
}

bool Engine::spooling_writes() {
  if (!options_.spool_writes) return false;
  WriteSpool* s = spool();
  return s && s->active();
}

Engine::Lease::Lease(Engine& owner, std::unique_ptr<AppContext> ctx, uint64_t generation)
    : owner_(&owner), ctx_(std::move(ctx)), generation_(generation) {}

Engine::Lease::~Lease() {
  if (owner_ && ctx_) owner_->release(std::move(ctx_), generation_);
}

std::unique_ptr<AppContext> Engine::open_session() { return std::make_unique<AppContext>(shared_from_this()); }

size_t Engine::flush_learning() {
  if (learning_buffer_->empty()) return 0;
  return session()->profile().flush_learning();
}

Engine::Lease Engine::session() {
  const uint64_t generation = settings_generation_;
  {
    std::unique_lock<std::mutex> lock(pool_mutex_);
    if (!pool_free_.wait_for(lock, std::chrono::seconds(30), [this] { return leased_ < max_leases_; }))
      throw unavailable("the server is too busy right now; try again in a moment");
    ++leased_;
    while (!pool_.empty()) {
      auto [ctx, gen] = std::move(pool_.back());
      pool_.pop_back();
      if (gen == generation) return Lease(*this, std::move(ctx), gen);
      // Opened under older settings: dropped (closing its connections).
    }
  }
  try {
    return Lease(*this, open_session(), generation);
  } catch (...) {
    release(nullptr, generation);
    throw;
  }
}

void Engine::release(std::unique_ptr<AppContext> ctx, uint64_t generation) {
  if (ctx) ctx->act_as("");  // the next lease starts as the default user, never as the last request's
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    --leased_;
    if (ctx && generation == settings_generation_) pool_.emplace_back(std::move(ctx), generation);
  }
  pool_free_.notify_one();
}

void Engine::add_job_kind(const std::string& kind, SessionJobHandler handler, JobKindPolicy policy) {
  std::lock_guard<std::mutex> lock(jobs_mutex_);
  extra_kinds_.erase(std::remove_if(extra_kinds_.begin(), extra_kinds_.end(), [&](const ExtraKind& e) { return e.kind == kind; }),
                     extra_kinds_.end());
  extra_kinds_.push_back({kind, std::move(handler), policy});
}

std::vector<Engine::ExtraKind> Engine::extra_job_kinds() {
  std::lock_guard<std::mutex> lock(jobs_mutex_);
  return extra_kinds_;
}

void Engine::add_schedule(Schedule schedule) {
  std::lock_guard<std::mutex> lock(jobs_mutex_);
  extra_schedules_.erase(std::remove_if(extra_schedules_.begin(), extra_schedules_.end(),
                                        [&](const Schedule& s) { return s.name == schedule.name; }),
                         extra_schedules_.end());
  extra_schedules_.push_back(std::move(schedule));
}

std::vector<Schedule> Engine::schedules() {
  std::vector<Schedule> out;
  const auto cfg = config();
  // [backup] interval_hours (default 24; <= 0 turns automatic backups off).
  const double hours = cfg->get_number("backup.interval_hours").value_or(24);
  // On PostgreSQL the database is backed up with pg_dump, not by Kioku.
  const bool on_postgres = cfg->get_string_or("store.url", "", "KIOKU_STORE_URL").rfind("postgres", 0) == 0;
  if (hours > 0 && !on_postgres) {
    Schedule backup;
    backup.name = "backup";
    backup.kind = "backup";
    backup.period = std::chrono::milliseconds(static_cast<int64_t>(hours * 3600 * 1000));
    out.push_back(backup);
  }
  // [maintenance] hourly / daily / weekly (each on by default): the upkeep of
  // src/lifecycle for every user. Daily at 03:00 UTC, weekly on Monday 04:00
  // UTC (slots count from the epoch, a Thursday).
  const bool maintenance_on = cfg->get_bool("maintenance.enabled").value_or(true);
  struct Upkeep {
    Period period;
    JobDuration every, offset;
  };
  for (const Upkeep& u : {Upkeep{Period::kHourly, std::chrono::hours(1), std::chrono::minutes(5)},
                          Upkeep{Period::kDaily, std::chrono::hours(24), std::chrono::hours(3)},
                          Upkeep{Period::kWeekly, std::chrono::hours(24 * 7), std::chrono::hours(24 * 4 + 4)}}) {
    const std::string name(to_string(u.period));
    if (!maintenance_on || !cfg->get_bool("maintenance." + name).value_or(true)) continue;
    Schedule upkeep;
    upkeep.name = "maintain-" + name;
    upkeep.kind = "maintain_" + name;
    upkeep.period = u.every;
    upkeep.offset = u.offset;
    out.push_back(upkeep);
  }
  Schedule prune;
  prune.name = "prune-jobs";
  prune.kind = "prune_jobs";
  prune.period = std::chrono::hours(24);
  out.push_back(prune);
  std::lock_guard<std::mutex> lock(jobs_mutex_);
  out.insert(out.end(), extra_schedules_.begin(), extra_schedules_.end());
  return out;
}

Engine::BackgroundReport Engine::run_background(std::chrono::steady_clock::duration budget) {
  BackgroundReport report;
  const auto deadline = std::chrono::steady_clock::now() + budget;
  try {
    auto s = session();
    // 0. Writes taken while the database was down, in order, before anything
    // reads or schedules (everything below needs the database).
    if (WriteSpool* spool = this->spool()) {
      WriteSpool::RoundReport round =
          spool->replay_round([&](const std::vector<SpooledWrite>& batch) { replay_spooled_writes(*s, batch); },
                              [&](const SpooledWrite& w) { replay_spooled_write(*s, w); },
                              [&] { s->memories().get(s->default_user_id(), "spool-probe"); }, budget);
      report.lines.insert(report.lines.end(), round.lines.begin(), round.lines.end());
      // Down, or writes still waiting: the replay has the round to itself
      // (the next comes within a second while writes are spooled).
      if (!round.reachable || spool->active()) return report;
    }
    // 0b. What the requests since the last round taught (one write per user).
    try {
      s->profile().flush_learning();
    } catch (const std::exception& e) {
      report.lines.push_back(std::string("learning: ") + e.what());
    }
    // 1. Periodic jobs whose slot has come.
    try {
      Scheduler scheduler(s->jobs());
      for (auto& schedule : schedules()) scheduler.add(std::move(schedule));
      for (const auto& name : scheduler.tick()) report.lines.push_back("scheduled " + name);
    } catch (const std::exception& e) {
      report.lines.push_back(std::string("scheduler: ") + e.what());
    }
    // 2. The embedding queue, in bounded slices so searches are not held up.
    if (embedder()) {
      try {
        const auto embed_deadline = std::chrono::steady_clock::now() + budget / 2;
        while (std::chrono::steady_clock::now() < embed_deadline) {
          const int n = s->searcher().index_pending(64);
          if (n == 0) break;
          report.embedded += n;
        }
      } catch (const std::exception& e) {
        report.lines.push_back(std::string("embedding queue: ") + e.what());
      }
      if (report.embedded > 0) report.lines.push_back("embedded " + std::to_string(report.embedded) + " memories");
    }
    // 3. Due jobs of every kind this process can run.
    try {
      const auto left = std::max<std::chrono::steady_clock::duration>(deadline - std::chrono::steady_clock::now(),
                                                                       std::chrono::milliseconds(500));
      report.jobs = s->run_jobs(50, left);
      report.lines.insert(report.lines.end(), report.jobs.lines.begin(), report.jobs.lines.end());
    } catch (const std::exception& e) {
      report.lines.push_back(std::string("jobs: ") + e.what());
    }
  } catch (const std::exception& e) {
    report.lines.push_back(std::string("background work: ") + e.what());
  }
  return report;
}

// --- shared use cases ---

nlohmann::json store_imports(AppContext& ctx, std::vector<ParsedImport> files) {
  std::vector<Memory> all;
  std::vector<size_t> sizes;
  for (auto& f : files) {
    sizes.push_back(f.result.memories.size());
    for (auto& m : f.result.memories) all.push_back(std::move(m));
    f.result.memories.clear();
  }
  const std::vector<AddOutcome> outcomes = ctx.memories().add_batch(std::move(all));
  nlohmann::json report = nlohmann::json::array();
  size_t at = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    nlohmann::json ids = nlohmann::json::array();
    int added = 0;
    for (size_t k = 0; k < sizes[i]; ++k, ++at) {
      ids.push_back(outcomes[at].id);
      added += outcomes[at].created ? 1 : 0;
    }
    report.push_back({{"file", files[i].name},
                      {"format", files[i].result.format},
                      {"added", added},
                      {"duplicates", static_cast<int>(sizes[i]) - added},
                      {"ids", ids},
                      {"warnings", files[i].result.warnings}});
  }
  return report;
}

namespace {

// Kinds of spooled writes (SpooledWrite::kind).
constexpr const char* kSpooledMemory = "memory";
constexpr const char* kSpooledChat = "chat_message";

AddOutcome add_memory_now(AppContext& ctx, Memory m, bool predict_importance) {
  std::optional<ImportancePrediction> predicted;
  if (predict_importance) predicted = ctx.profile().apply_prediction(m.user_id, m);
  AddOutcome outcome = ctx.memories().add(m);
  if (predicted && outcome.created) ctx.profile().record_prediction(m.user_id, outcome.id, *predicted);
  return outcome;
}

// The id and times are decided before the write is tried, so that a write
// answered from the spool names the memory it becomes.
void decide_identity(Memory& m) {
  const TimePoint now = system_time().now();
  if (m.id.empty()) m.id = new_uuid_v7(now);
  if (to_millis(m.created_at) == 0) m.created_at = now;
  if (to_millis(m.event_time) == 0) m.event_time = m.created_at;
}

SpooledWrite spooled(const char* kind, const Memory& m, bool predict_importance) {
  SpooledWrite w;
  w.kind = kind;
  w.user_id = m.user_id;
  w.id = m.id;
  // Times in milliseconds beside the memory's JSON (ISO 8601 there): a chat
  // turn's content hash includes its event time to the millisecond.
  w.request = nlohmann::json{{"memory", to_json(m)},
                             {"event_time_ms", to_millis(m.event_time)},
                             {"created_at_ms", to_millis(m.created_at)},
                             {"predict_importance", predict_importance}}
                  .dump();
  return w;
}

Memory spooled_memory(const SpooledWrite& w, bool& predict_importance) {
  const auto j = nlohmann::json::parse(w.request, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("memory"))
    throw invalid_input("spooled write " + std::to_string(w.seq) + " is not readable");
  Memory m = memory_from_json(j["memory"]);
  m.id = w.id;
  m.user_id = w.user_id;
  m.content_hash.clear();
  m.event_time = from_millis(j.value("event_time_ms", int64_t{0}));
  m.created_at = from_millis(j.value("created_at_ms", int64_t{0}));
  predict_importance = j.value("predict_importance", false);
  return m;
}

AddMemoryOutcome spool_memory(WriteSpool& spool, const char* kind, Memory m, bool predict_importance) {
  spool.append(spooled(kind, m, predict_importance));
  AddMemoryOutcome out;
  out.id = m.id;
  out.created = true;  // as far as anyone can know before the replay
  out.spooled = true;
  out.memory = std::move(m);
  return out;
}

}  // namespace

void replay_spooled_write(AppContext& ctx, const SpooledWrite& w) {
  bool predict_importance = false;
  Memory m = spooled_memory(w, predict_importance);
  // Stored already: the replay that stored it stopped before the spool
  // row's delete, or the write committed as the connection broke.
  const bool stored = ctx.memories().get(m.user_id, m.id).has_value();
  if (w.kind == kSpooledMemory) {
    if (!stored) add_memory_now(ctx, std::move(m), predict_importance);
  } else if (w.kind == kSpooledChat) {
    if (!stored) ctx.memories().add(m);
    // Idempotent by its dedupe key, so a replay after a crash queues it once.
    ctx.jobs().enqueue(chat_reply_job(w.user_id, w.id, "sent while the database was unreachable"));
  } else {
    throw invalid_input("unknown kind of spooled write: " + w.kind);
  }
}

void replay_spooled_writes(AppContext& ctx, const std::vector<SpooledWrite>& batch) {
  // Which are stored already: one query per user.
  std::map<std::string, std::vector<std::string>> ids_by_user;
  for (const auto& w : batch) ids_by_user[w.user_id].push_back(w.id);
  std::set<std::string> stored;
  for (const auto& [user, ids] : ids_by_user)
    for (const auto& m : ctx.memories().get_ranking_fields(user, ids)) stored.insert(m.id);
  // Runs of memories go in one add_batch (one transaction); anything else
  // is replayed on its own, in its place.
  std::vector<Memory> run;
  std::vector<std::optional<ImportancePrediction>> predicted;
  auto flush = [&] {
    if (run.empty()) return;
    const std::vector<AddOutcome> outcomes = ctx.memories().add_batch(run);
    for (size_t i = 0; i < run.size(); ++i)
      if (predicted[i] && outcomes[i].created)
        ctx.profile().record_prediction(run[i].user_id, outcomes[i].id, *predicted[i]);
    run.clear();
    predicted.clear();
  };
  for (const auto& w : batch) {
    if (w.kind != kSpooledMemory) {
      flush();
      replay_spooled_write(ctx, w);
      continue;
    }
    if (stored.count(w.id)) continue;
    bool predict_importance = false;
    Memory m = spooled_memory(w, predict_importance);
    predicted.push_back(predict_importance ? ctx.profile().apply_prediction(m.user_id, m)
                                           : std::optional<ImportancePrediction>());
    run.push_back(std::move(m));
  }
  flush();
}

AddMemoryOutcome add_memory(AppContext& ctx, Memory m, bool predict_importance) {
  Engine& engine = ctx.engine();
  WriteSpool* spool = engine.options().spool_writes ? engine.spool() : nullptr;
  if (!spool) {
    AddMemoryOutcome out;
    static_cast<AddOutcome&>(out) = add_memory_now(ctx, std::move(m), predict_importance);
    return out;
  }
  decide_identity(m);
  if (!spool->active()) {
    try {
      AddMemoryOutcome out;
      static_cast<AddOutcome&>(out) = add_memory_now(ctx, m, predict_importance);
      return out;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnavailable) throw;
      // It may have been stored as the connection broke: the replay finds
      // it by its id and does not store it again.
      spool->mark_down(e.what());
    }
  }
  return spool_memory(*spool, kSpooledMemory, std::move(m), predict_importance);
}

std::optional<ChatTurnResult> spool_chat_if_down(AppContext& ctx, const std::string& message) {
  if (!ctx.engine().spooling_writes()) return std::nullopt;
  const TimePoint now = system_time().now();
  const std::string id = new_uuid_v7(now);
  Memory m = user_chat_memory(ctx.user_id(), message, now, id);
  m.id = id;
  m.created_at = now;
  ctx.engine().spool()->append(spooled(kSpooledChat, m, false));
  ChatTurnResult r;
  r.user_memory_id = id;
  r.queued = true;
  r.notice = "The database is unreachable: your message is saved and will be answered when it is back.";
  return r;
}

void backup_to_folder(AppContext& ctx, const std::filesystem::path& folder) {
  backup_sqlite_data(ctx.memories(), ctx.drafts(), folder);
}

MaintenanceReport maintain(AppContext& ctx, Period period, const std::string& user_id,
                           const std::function<void(std::string_view, int64_t)>& on_progress) {
  ctx.ensure_initialized();
  MaintenanceDeps deps{ctx.memories(), ctx.knowledge(), ctx.embedder(), &ctx.searcher(), ctx.llm()};
  MaintenanceOptions options;
  options.user_id = user_id;
  options.on_progress = on_progress;
  return run_maintenance(period, system_time(), deps, options);
}

}  // namespace kioku
