#include "app/engine.h"

#include <algorithm>
#include <thread>

#include "app/app_context.h"
#include "core/error.h"
#include "embed/bert_embedder.h"
#include "embed/hashing_embedder.h"
#include "embed/model_registry.h"
#include "embed/remote_embedder.h"
#include "profile/profile_service.h"
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
    vectors_ = std::make_shared<VectorCatalog>(sc);
  }
  return vectors_;
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
    // 0. What the requests since the last round taught (one write per user).
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

AddOutcome add_memory(AppContext& ctx, Memory m, bool predict_importance) {
  std::optional<ImportancePrediction> predicted;
  if (predict_importance) predicted = ctx.profile().apply_prediction(m.user_id, m);
  AddOutcome outcome = ctx.memories().add(m);
  if (predicted && outcome.created) ctx.profile().record_prediction(m.user_id, outcome.id, *predicted);
  return outcome;
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
