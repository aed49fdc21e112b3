// The job system: work that runs later, in the background, exactly once.
// Chat replies waiting for a provider, photo descriptions, transcriptions,
// journal re-compiles, scheduled backups and maintenance are all jobs.
//
// NOTES ON THE JOB STATE MACHINE
//
//   QUEUED ──claim──> RUNNING ──complete──────────────────────────> DONE
//     ^                 │ ├──later (cannot run yet; not an attempt)──> QUEUED, run_after = now + wait backoff
//     │                 │ ├──retry_later (attempt failed, attempts < max)──> QUEUED, run_after = now + backoff
//     │                 │ └──fail (attempts >= max, or a permanent error)──> FAILED
//     │                 └──lease expires (the holder died)──> claimable again, as if QUEUED
//     └──retry (user)── FAILED, CANCELLED <──cancel (user)── QUEUED, FAILED
//
//  A claim takes a lease: (holder, lease_until). The holder is one runner in
//  one process ("host:pid:random"); the lease lasts the kind's lease time.
//
// Invariants:
//  1. At most one lease holder. claim() marks a job RUNNING for one holder in
//     one write transaction, and every later transition checks the holder
//     (JobStore contract), so a runner whose lease expired cannot complete,
//     fail or requeue a job that someone else has taken over.
//  2. A job's effect is idempotent or recorded before it completes. A holder
//     can die after the effect and before complete(); the next holder then
//     runs the handler again. So handlers look for their effect first (a
//     chat_reply job whose reply is stored completes without asking again).
//  3. A kind that cannot run never blocks another. The runner claims one job
//     of each kind in turn (round robin); a handler that cannot run now
//     (no vision model, provider down) returns Later, which requeues the job
//     with a reason and skips that kind for the rest of the round only.
//  4. Waiting is not failing. Later (and kUnavailable errors) count `waits`,
//     with their own backoff capped at the kind's wait_max; only real
//     failures count attempts. After max_attempts the job is FAILED with its
//     last error, visible in `kioku jobs list` and retryable. Permanent errors
//     (bad input, not found, conflict, refused credentials) fail at once.
//  5. Scheduled runs. A schedule's slots are floor((now - offset) / period).
//     A slot and its job are written in one transaction, so a slot is
//     enqueued once across processes; after downtime only the current slot
//     is enqueued, so a missed run is caught up once, not once per slot
//     missed. Every run of a scheduled job is recorded (ScheduledRun).
//
// Thread safety: a JobRunner or Scheduler is used by one thread at a time
// (it holds a JobStore); a JobRegistry is immutable once runners use it and
// may be shared. Handlers run on the runner's thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "store/job_store.h"

namespace kioku {

using JobDuration = std::chrono::milliseconds;

// What a handler tells the runner. Throwing kioku::Error is the other way
// out: kUnavailable means "later" (with the error as reason), kIo, kInternal
// and other exceptions are failed attempts, every other code fails the job.
struct JobOutcome {
  bool done = true;
  nlohmann::json counts = nlohmann::json::object();  // recorded with the job (and the scheduled run)
  std::string reason;                                // why it waits (done == false)
  JobDuration delay{0};                              // 0: the kind's wait backoff
  bool block_kind = true;                            // skip the kind for the rest of this round

  static JobOutcome finished(nlohmann::json counts = nlohmann::json::object()) {
    JobOutcome o;
    o.counts = std::move(counts);
    return o;
  }
  static JobOutcome later(std::string reason, JobDuration delay = JobDuration{0}, bool block_kind = true) {
    JobOutcome o;
    o.done = false;
    o.reason = std::move(reason);
    o.delay = delay;
    o.block_kind = block_kind;
    return o;
  }
};

struct JobKindPolicy {
  JobDuration lease = std::chrono::minutes(5);
  int max_attempts = 8;
  JobDuration backoff_base = std::chrono::seconds(30);  // after a failed attempt, doubled each time
  JobDuration backoff_max = std::chrono::hours(1);
  JobDuration wait_base = std::chrono::seconds(30);  // after a Later, doubled per consecutive wait
  JobDuration wait_max = std::chrono::minutes(30);
};

using JobHandler = std::function<JobOutcome(const Job& job)>;

class JobRegistry {
 public:
  struct Entry {
    JobHandler handler;
    JobKindPolicy policy;
  };
  // Replaces an earlier registration of kind.
  void add(const std::string& kind, JobHandler handler, JobKindPolicy policy = {});
  const Entry* find(const std::string& kind) const;
  std::vector<std::string> kinds() const;

 private:
  std::map<std::string, Entry> entries_;
};

// The delay before the next try: base x 2^(n-1), capped, +-20 % jitter so
// that many jobs failing together do not come back together.
JobDuration backoff_delay(JobDuration base, JobDuration max, int n);

// "host:pid:random": unique per runner.
std::string new_job_holder_id();

struct JobRunReport {
  int done = 0;
  int waiting = 0;   // requeued with a reason (cannot run yet)
  int retried = 0;   // failed attempts that will be tried again
  int failed = 0;    // given up
  int lost = 0;      // our lease expired and another runner took the job
  std::vector<std::string> lines;  // one per job, for logs
  int total() const { return done + waiting + retried + failed + lost; }
};

class JobRunner {
 public:
  JobRunner(JobStore& store, const JobRegistry& registry, std::string holder = new_job_holder_id(),
            const TimeSource& clock = system_time());

  // Runs due jobs of the registered kinds, one of each kind in turn, until
  // none is due, max_jobs ran, or budget is spent (checked between jobs).
  JobRunReport run_due(int max_jobs = 50, std::chrono::steady_clock::duration budget = std::chrono::seconds(10));
  // Only jobs of these kinds (a subset of the registry's).
  JobRunReport run_due_of(const std::vector<std::string>& kinds, int max_jobs,
                          std::chrono::steady_clock::duration budget);
  // Jobs waiting for a later time are run now too (a user's "run now").
  void set_ignore_run_after(bool ignore) { ignore_run_after_ = ignore; }

  const std::string& holder() const { return holder_; }

 private:
  // Returns false when the kind should not be claimed again this round.
  bool run_one(const Job& job, const JobRegistry::Entry& entry, JobRunReport& report);
  void record_if_scheduled(const Job& job, const std::string& status, const nlohmann::json& counts,
                           const std::string& error);

  JobStore& store_;
  const JobRegistry& registry_;
  std::string holder_;
  const TimeSource& clock_;
  bool ignore_run_after_ = false;
};

struct Schedule {
  std::string name;  // unique, e.g. "backup", "maintain-daily"
  std::string kind;  // the job kind it enqueues
  JobDuration period = std::chrono::hours(24);
  JobDuration offset{0};  // slot boundaries at epoch + offset + n x period (UTC)
  std::string user_id = "local";
  nlohmann::json payload = nlohmann::json::object();
};

class Scheduler {
 public:
  Scheduler(JobStore& store, const TimeSource& clock = system_time()) : store_(store), clock_(clock) {}
  // Replaces a schedule of the same name.
  void add(Schedule schedule);
  // Enqueues the current slot of every schedule whose slot has not been
  // enqueued yet. Returns the names enqueued.
  std::vector<std::string> tick();
  const std::vector<Schedule>& schedules() const { return schedules_; }
  // The slot `now` falls in, for a schedule.
  static int64_t slot_of(const Schedule& s, TimePoint now);

 private:
  JobStore& store_;
  const TimeSource& clock_;
  std::vector<Schedule> schedules_;
};

// The JSON shape of a job and of a scheduled run, for `kioku jobs --json`
// and GET /api/jobs alike.
nlohmann::json to_json(const Job& job);
nlohmann::json to_json(const ScheduledRun& run);

}  // namespace kioku
