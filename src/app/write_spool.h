// WriteSpool: where the writes of user input go while the database
// (PostgreSQL) is unreachable, and their replay once it is back
// (docs/POSTGRES.md, "When the database is down"). One per Engine, on
// <data>/spool.db (src/store/spool_store.h).
//
// NOTES
//  1. A write that meets kUnavailable marks the database down; from then on
//     writes skip it and go to the spool until a replay round empties the
//     spool. While rows wait, new writes queue behind them, so the replay
//     keeps the order in which writes were answered.
//  2. The caller decides the write's id before spooling it and the replay
//     stores the row under that id; apply() first looks the id up, so a
//     crash between the database's commit and the spool row's delete
//     replays nothing twice.
//  3. One replayer at a time across the processes sharing the data
//     directory: a lease row in spool.db, renewed per batch.
//  4. A row whose replay fails for another reason than an unreachable
//     database is retried on later rounds (the rows behind it wait, to keep
//     the order) and given up on after kMaxAttempts, or at once when the
//     error cannot go away (invalid input, not found, conflict). Given-up
//     rows stay in the file and are counted in the status.
// Thread safety: every method may be called from any thread; the store is
// used under one mutex, replay rounds of one process take turns.
// Failure behaviour: append() throws (the write is then not taken);
// replay_round() never throws.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "store/spool_store.h"

namespace kioku {

class WriteSpool {
 public:
  static constexpr int kMaxAttempts = 5;

  // Opens (creating) the spool file; log gets a line when the database is
  // found unreachable (replay_round reports the rest in its lines).
  WriteSpool(const std::filesystem::path& file, std::function<void(std::string_view)> log,
             const TimeSource& clock = system_time());
  ~WriteSpool();

  // Whether new writes must go to the spool (note 1).
  bool active() const { return down_.load() || queued_.load() > 0; }
  bool down() const { return down_.load(); }
  // A write (or a probe) could not reach the database.
  void mark_down(const std::string& why);
  // Stores w durably; returns its seq.
  int64_t append(SpooledWrite w);
  SpoolCounts counts();
  std::string last_error();

  struct RoundReport {
    int replayed = 0;
    int given_up = 0;
    bool reachable = true;  // false: the database did not answer (nothing else can use it now)
    bool leased = true;     // false: another process replays
    std::vector<std::string> lines;
  };
  // One replay round within budget, oldest rows first: apply_batch(rows)
  // stores consecutive writes in the database at once, apply_one(w) one
  // write (both throw kioku::Error, kUnavailable stopping the round; a batch
  // that fails otherwise is replayed row by row to find the failing row);
  // probe() checks that the database answers when nothing is spooled but it
  // was marked down.
  RoundReport replay_round(const std::function<void(const std::vector<SpooledWrite>&)>& apply_batch,
                           const std::function<void(const SpooledWrite&)>& apply_one,
                           const std::function<void()>& probe, std::chrono::steady_clock::duration budget);

 private:
  // Under store_mutex_: the spool is empty, the database answered: writes
  // go straight to it again.
  bool clear_if_empty();

  const TimeSource& clock_;
  std::function<void(std::string_view)> log_;
  const std::string holder_;  // this object's name in the lease
  std::mutex store_mutex_;
  std::unique_ptr<SpoolStore> store_;
  std::mutex round_mutex_;
  std::atomic<bool> down_{false};
  std::atomic<int64_t> queued_{0};  // rows this process knows are waiting
  std::mutex error_mutex_;
  std::string last_error_;
};

}  // namespace kioku
