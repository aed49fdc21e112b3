#include "server/services.h"

#include <algorithm>
#include <thread>

#include "core/error.h"
#include "core/time.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku::server {

namespace {

// Lets several contexts use one model: embed() calls take turns.
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

// [backup] interval_hours (default 24; <= 0 turns automatic backups off).
double backup_interval_hours(const Config& config) {
  return config.get_number("backup.interval_hours").value_or(24);
}

std::chrono::system_clock::duration from_hours(double h) {
  return std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double, std::ratio<3600>>(h));
}

}  // namespace

Services::Services(ServicesOptions options)
    : options_(std::move(options)),
      max_leases_(options_.max_contexts > 0
                      ? options_.max_contexts
                      : std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()))) {
  embedder_owner_ = std::make_unique<AppContext>(options_.data_dir, options_.user, options_.env);
  embedder_owner_->ensure_initialized();
  shared_embedder_ = embedder_owner_->embedder();
  embedder_notice_ = embedder_owner_->embedder_notice();

  // The first automatic backup is due one interval after the newest one, or
  // now when there is none.
  const auto autos = auto_backups_oldest_first(data_dir());
  std::error_code ec;
  const auto newest = autos.empty() ? std::filesystem::file_time_type{} : std::filesystem::last_write_time(autos.back(), ec);
  next_backup_ = autos.empty() || ec
                     ? std::chrono::system_clock::now()
                     : std::chrono::time_point_cast<std::chrono::system_clock::duration>(std::chrono::file_clock::to_sys(newest)) +
                           from_hours(backup_interval_hours(embedder_owner_->config()));
}

Services::~Services() {
  try {
    flush_access();
  } catch (const std::exception& e) {
    log(std::string("access times not written: ") + e.what());
  }
}

void Services::note_access(const std::string& user_id, std::vector<std::string> ids) {
  if (ids.empty()) return;
  size_t pending = 0;
  {
    std::lock_guard<std::mutex> lock(access_mutex_);
    pending_access_.push_back({user_id, std::move(ids), system_time().now()});
    pending = pending_access_.size();
  }
  // Under heavy search load, many small writes spread evenly hold latency
  // down better than one large write per background tick. (Callers hold no
  // context here: flushing leases one.)
  if (pending >= kAccessFlushBatch) flush_access();
}

size_t Services::flush_access() {
  std::vector<PendingAccess> batch;
  {
    std::lock_guard<std::mutex> lock(access_mutex_);
    batch.swap(pending_access_);
  }
  if (batch.empty()) return 0;
  auto ctx = context();
  size_t written = 0;
  for (const auto& a : batch) {
    ctx->memories().record_access(a.user_id, a.ids, a.at);
    written += a.ids.size();
  }
  return written;
}

std::unique_ptr<AppContext> Services::open_context() {
  auto ctx = std::make_unique<AppContext>(options_.data_dir, options_.user, options_.env);
  ctx->set_embedder(shared_embedder_ ? std::make_unique<LockedEmbedder>(*shared_embedder_, embed_mutex_) : nullptr,
                    embedder_notice_);
  return ctx;
}

Services::Lease::~Lease() { owner_.release(std::move(ctx_), generation_); }

Services::Lease Services::context() {
  const uint64_t generation = config_generation_;
  {
    std::unique_lock<std::mutex> lock(pool_mutex_);
    // More SQLite readers than cores only add contention (WAL has a handful
    // of read marks; past them readers spin and sleep), so requests beyond
    // the limit wait here for a free context.
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
    return Lease(*this, open_context(), generation);
  } catch (...) {
    release(nullptr, generation);
    throw;
  }
}

void Services::release(std::unique_ptr<AppContext> ctx, uint64_t generation) {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    --leased_;
    if (ctx && generation == config_generation_) pool_.emplace_back(std::move(ctx), generation);
  }
  pool_free_.notify_one();
}

void Services::with_search(const std::function<void(AppContext&)>& fn) {
  std::lock_guard<std::mutex> lock(search_mutex_);
  if (!search_ctx_ || search_generation_ != config_generation_) {
    if (search_ctx_) search_ctx_->searcher().save_indexes();
    search_generation_ = config_generation_;
    search_ctx_ = open_context();
  }
  fn(*search_ctx_);
}

void Services::with_chat(const std::function<void(AppContext&, Companion&)>& fn) {
  std::lock_guard<std::mutex> lock(chat_mutex_);
  if (!chat_ctx_ || chat_config_generation_ != config_generation_ ||
      chat_vector_generation_ != vector_generation_) {
    chat_config_generation_ = config_generation_;
    chat_vector_generation_ = vector_generation_;
    chat_ctx_ = open_context();
  }
  Companion& companion = options_.companion_factory ? options_.companion_factory(*chat_ctx_)
                                                    : static_cast<Companion&>(chat_ctx_->companion());
  fn(*chat_ctx_, companion);
}

void Services::settings_changed() {
  config_generation_++;
  std::lock_guard<std::mutex> lock(pool_mutex_);
  pool_.clear();
}

std::vector<std::string> Services::background_tick() {
  std::vector<std::string> done;
  // 1. The embedding queue, in bounded slices so searches are not held up.
  if (shared_embedder_) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    int indexed = 0;
    try {
      while (std::chrono::steady_clock::now() < deadline) {
        int n = 0;
        with_search([&](AppContext& ctx) { n = ctx.searcher().index_pending(64); });
        if (n == 0) break;
        indexed += n;
      }
    } catch (const std::exception& e) {
      done.push_back(std::string("embedding queue: ") + e.what());
    }
    if (indexed > 0) {
      vectors_changed();
      done.push_back("embedded " + std::to_string(indexed) + " memories");
    }
  }
  // 2. The AI queue: turns and journals that waited for a provider.
  if (!options_.companion_factory) {
    try {
      with_chat([&](AppContext& ctx, Companion&) {
        if (!ctx.llm() || ctx.memories().count_tasks(ctx.user_id()) == 0) return;
        auto r = ctx.companion().run_queue(20);
        if (r.done > 0) done.push_back("answered " + std::to_string(r.done) + " queued AI task(s)");
        const int recompiled = ctx.recompile_journals();
        if (recompiled > 0) done.push_back("re-compiled " + std::to_string(recompiled) + " journal(s)");
      });
    } catch (const std::exception& e) {
      done.push_back(std::string("AI queue: ") + e.what());
    }
  }
  // 3. Access times of searched memories.
  try {
    flush_access();
  } catch (const std::exception& e) {
    done.push_back(std::string("access times: ") + e.what());
  }
  // 4. Scheduled backups.
  try {
    maybe_backup(done);
  } catch (const std::exception& e) {
    done.push_back(std::string("backup failed: ") + e.what());
  }
  return done;
}

void Services::maybe_backup(std::vector<std::string>& done) {
  const auto now = std::chrono::system_clock::now();
  if (now < next_backup_) return;
  auto ctx = context();
  const double interval = backup_interval_hours(ctx->config());
  if (interval <= 0) {
    next_backup_ = now + std::chrono::hours(1);  // disabled; look at the setting again later
    return;
  }
  next_backup_ = now + from_hours(interval);
  const auto folder = data_dir() / "backups" / (std::string(kAutoBackupPrefix) + format_for_path(std::chrono::time_point_cast<std::chrono::milliseconds>(now)));
  backup_sqlite_data(ctx->memories(), ctx->drafts(), folder);
  done.push_back("backup written to " + folder.string());
  // Keep the newest `keep` automatic backups; manual ones are the user's.
  const int keep = static_cast<int>(ctx->config().get_number("backup.keep").value_or(7));
  const auto autos = auto_backups_oldest_first(data_dir());
  std::error_code ec;
  for (size_t i = 0; keep > 0 && i + keep < autos.size(); ++i) std::filesystem::remove_all(autos[i], ec);
}

}  // namespace kioku::server
