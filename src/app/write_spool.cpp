#include "app/write_spool.h"

#include "core/error.h"
#include "jobs/jobs.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {

namespace {

// Long enough for a batch of database inserts; short enough that a replayer
// that died hands over soon.
constexpr std::chrono::milliseconds kLease = std::chrono::seconds(60);
constexpr int kBatch = 256;

// Errors that another attempt cannot cure.
bool permanent(ErrorCode code) {
  return code == ErrorCode::kInvalidInput || code == ErrorCode::kNotFound || code == ErrorCode::kConflict ||
         code == ErrorCode::kTooLarge;
}

// After a restart of the database, each pooled connection fails once before
// it is replaced: a few quick tries tell "still down" from "stale
// connection" (a refused connection costs nothing).
constexpr int kUnavailableTries = 6;

void retrying_stale(const std::function<void()>& fn) {
  for (int attempt = 1;; ++attempt) {
    try {
      fn();
      return;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnavailable || attempt >= kUnavailableTries) throw;
    }
  }
}

}  // namespace

WriteSpool::WriteSpool(const std::filesystem::path& file, std::function<void(std::string_view)> log,
                       const TimeSource& clock)
    : clock_(clock), log_(std::move(log)), holder_(new_job_holder_id()) {
  store_ = open_sqlite_spool_store(file, clock_);
  // Rows left by an earlier run (or another process) keep their place: new
  // writes queue behind them until they are replayed.
  queued_ = store_->counts().pending;
}

WriteSpool::~WriteSpool() {
  try {
    std::lock_guard lock(store_mutex_);
    store_->release_lease(holder_);
  } catch (...) {
    // An unreleased lease expires by itself.
  }
}

void WriteSpool::mark_down(const std::string& why) {
  {
    std::lock_guard lock(error_mutex_);
    last_error_ = why;
  }
  if (!down_.exchange(true) && log_)
    log_("database unreachable (" + why + "): writes go to the spool until it is back");
}

int64_t WriteSpool::append(SpooledWrite w) {
  if (to_millis(w.spooled_at) == 0) w.spooled_at = clock_.now();
  std::lock_guard lock(store_mutex_);
  const int64_t seq = store_->append(w);
  ++queued_;
  return seq;
}

SpoolCounts WriteSpool::counts() {
  std::lock_guard lock(store_mutex_);
  return store_->counts();
}

std::string WriteSpool::last_error() {
  std::lock_guard lock(error_mutex_);
  return last_error_;
}

bool WriteSpool::clear_if_empty() {
  std::lock_guard lock(store_mutex_);
  // Under the same lock as append(): no write of this process can slip into
  // the spool between this check and the switch back to the database.
  if (!store_->pending(1).empty()) {
    queued_ = store_->counts().pending;
    return false;
  }
  queued_ = 0;
  down_ = false;
  return true;
}

WriteSpool::RoundReport WriteSpool::replay_round(
    const std::function<void(const std::vector<SpooledWrite>&)>& apply_batch,
    const std::function<void(const SpooledWrite&)>& apply_one, const std::function<void()>& probe,
    std::chrono::steady_clock::duration budget) {
  RoundReport report;
  std::lock_guard round(round_mutex_);
  const auto deadline = std::chrono::steady_clock::now() + budget;
  try {
    int64_t waiting = 0;
    {
      std::lock_guard lock(store_mutex_);
      waiting = store_->counts().pending;
    }
    if (waiting == 0) {
      if (!down_) return report;
      try {
        retrying_stale(probe);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnavailable) throw;
        report.reachable = false;
        mark_down(e.what());
        return report;
      }
      if (clear_if_empty()) {
        report.lines.push_back("database reachable again: writes go straight to it");
      }
      return report;
    }
    {
      std::lock_guard lock(store_mutex_);
      report.leased = store_->acquire_lease(holder_, clock_.now(), kLease);
    }
    if (!report.leased) return report;  // another process replays; its rows go from the file as it does
    bool stop = false;
    while (!stop && std::chrono::steady_clock::now() < deadline) {
      std::vector<SpooledWrite> batch;
      {
        std::lock_guard lock(store_mutex_);
        if (!store_->acquire_lease(holder_, clock_.now(), kLease)) {  // renewed; lost if it had run out
          report.leased = false;
          break;
        }
        batch = store_->pending(kBatch);
      }
      if (batch.empty()) {
        if (clear_if_empty()) {
          report.lines.push_back("database reachable again: the spool is replayed");
        }
        break;
      }
      // The whole batch at once (one transaction, one round trip); when it
      // fails for another reason than the database being down, row by row,
      // to find the row that fails and keep the order.
      try {
        retrying_stale([&] { apply_batch(batch); });
        std::vector<int64_t> seqs;
        seqs.reserve(batch.size());
        for (const auto& w : batch) seqs.push_back(w.seq);
        {
          std::lock_guard lock(store_mutex_);
          store_->remove(seqs);
        }
        report.replayed += static_cast<int>(batch.size());
        continue;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kUnavailable) {
          report.reachable = false;
          mark_down(e.what());
          break;
        }
      }
      for (const auto& w : batch) {
        try {
          retrying_stale([&] { apply_one(w); });
        } catch (const Error& e) {
          if (e.code() == ErrorCode::kUnavailable) {
            report.reachable = false;
            mark_down(e.what());
            stop = true;
            break;
          }
          const bool give_up = permanent(e.code()) || w.attempts + 1 >= kMaxAttempts;
          {
            std::lock_guard lock(store_mutex_);
            store_->note_failure(w.seq, e.what(), give_up);
          }
          if (give_up) {
            ++report.given_up;
            report.lines.push_back("spooled write " + std::to_string(w.seq) + " (" + w.kind + " " + w.id +
                                   ") given up: " + e.what());
            continue;
          }
          // Tried again next round; the rows behind it wait for it.
          report.lines.push_back("spooled write " + std::to_string(w.seq) + " failed, retried later: " + e.what());
          stop = true;
          break;
        }
        {
          std::lock_guard lock(store_mutex_);
          store_->remove(w.seq);
        }
        ++report.replayed;
        if (std::chrono::steady_clock::now() >= deadline) break;
      }
    }
    {
      std::lock_guard lock(store_mutex_);
      store_->release_lease(holder_);
      queued_ = store_->counts().pending;
    }
  } catch (const std::exception& e) {
    report.lines.push_back(std::string("write spool: ") + e.what());
  }
  if (report.replayed > 0) report.lines.push_back("replayed " + std::to_string(report.replayed) + " spooled write(s)");
  return report;
}

}  // namespace kioku
