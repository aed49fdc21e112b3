// JobStore: the persistent half of the job system (src/jobs/jobs.h has the
// state machine and the runner). One row per job; leases make exactly one
// worker run a job, across threads and processes that share a data directory.
//
// Contract (every backend; tests/jobs runs it on SQLite):
//  - claim() is atomic: of any number of concurrent claimers, one gets a job;
//    a job is claimable when queued and due, or running with an expired lease;
//  - complete/later/retry/fail act only while `holder` still holds the lease
//    and return false when it does not (the lease expired and was taken);
//  - enqueue() with a dedupe key is idempotent: the second call returns the
//    first job's id and changes nothing;
//  - failures throw kioku::Error (kIo for database errors, kNotFound).
// Thread safety: one JobStore per thread (like the other store interfaces).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.h"

namespace kioku {

enum class JobState { kQueued, kRunning, kDone, kFailed, kCancelled };
std::string_view to_string(JobState s);
JobState parse_job_state(std::string_view s);

struct Job {
  std::string id;
  std::string user_id = "local";
  std::string kind;  // registry key, e.g. "chat_reply"
  nlohmann::json payload = nlohmann::json::object();
  JobState state = JobState::kQueued;
  // Unique among all jobs when non-empty (e.g. "schedule:daily:20423").
  std::string dedupe_key;
  int attempts = 0;      // real attempts: claims that ran the handler
  int waits = 0;         // times the handler could not run yet (no provider...)
  int max_attempts = 0;  // 0: the kind's default
  std::string last_error;
  std::string wait_reason;  // why it waits (shown to the user)
  TimePoint created_at{};
  TimePoint run_after{};
  std::string lease_holder;
  TimePoint lease_until{};
  TimePoint started_at{};
  TimePoint finished_at{};
  nlohmann::json result = nlohmann::json::object();  // counts etc. of the finished run
};

struct JobFilter {
  std::optional<std::string> user_id;  // nullopt: every user (admin views)
  std::vector<JobState> states;        // any of; empty = all
  std::optional<std::string> kind;
  int limit = 100;
};

// One execution of a scheduled (periodic) job.
struct ScheduledRun {
  int64_t id = 0;
  std::string schedule;  // e.g. "backup", "maintain-daily"
  std::string job_id;
  TimePoint started_at{};
  TimePoint finished_at{};
  std::string status;  // "done", "failed", "waiting"
  nlohmann::json counts = nlohmann::json::object();
  std::string error;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Assigns id/created_at/run_after (now) when empty. With a dedupe key that
  // exists already, returns that job's id and stores nothing.
  virtual std::string enqueue(Job job) = 0;
  // Takes at most `limit` jobs of `kind` for holder until lease_until,
  // oldest due first: queued ones with run_after <= due_by (now, or later
  // when a user says "run now") and running ones whose lease ended before
  // now. Each claim counts one attempt.
  virtual std::vector<Job> claim(const std::string& kind, const std::string& holder, TimePoint now, TimePoint due_by,
                                 TimePoint lease_until, int limit) = 0;
  virtual bool complete(const std::string& id, const std::string& holder, TimePoint at,
                        const nlohmann::json& result) = 0;
  // Could not run yet (not an attempt): queued again after run_after.
  virtual bool later(const std::string& id, const std::string& holder, const std::string& reason,
                     TimePoint run_after) = 0;
  // A failed attempt that will be tried again after run_after.
  virtual bool retry_later(const std::string& id, const std::string& holder, const std::string& error,
                           TimePoint run_after) = 0;
  // Gives up: state failed with the error (retry() queues it again).
  virtual bool fail(const std::string& id, const std::string& holder, const std::string& error, TimePoint at) = 0;

  // User actions. retry: a failed or cancelled job of user_id is queued now
  // with its attempts reset. cancel: a queued or failed job is cancelled
  // (a running one is not: its holder finishes it). Throw kNotFound /
  // kConflict.
  virtual void retry(const std::string& user_id, const std::string& id, TimePoint now) = 0;
  virtual void cancel(const std::string& user_id, const std::string& id, TimePoint now) = 0;

  virtual std::optional<Job> get(const std::string& id) = 0;
  virtual std::vector<Job> list(const JobFilter& filter) = 0;
  // Jobs per state of user_id (every user when nullopt).
  virtual std::map<std::string, int64_t> count_by_state(const std::optional<std::string>& user_id) = 0;
  // Jobs of user_id that are not finished (queued or running).
  virtual int64_t count_open(const std::string& user_id) = 0;
  // Finished (done/cancelled) jobs older than `before` are deleted.
  virtual int64_t prune_finished(TimePoint before) = 0;

  // --- The scheduler's state: the last slot enqueued per schedule. ---
  // Records `slot` for schedule and enqueues job in one transaction, when
  // the recorded slot is older. Returns true when it enqueued.
  virtual bool enqueue_for_slot(const std::string& schedule, int64_t slot, Job job) = 0;
  virtual std::optional<int64_t> last_slot(const std::string& schedule) = 0;
  virtual void record_run(const ScheduledRun& run) = 0;
  // Newest first; schedule "" = every schedule.
  virtual std::vector<ScheduledRun> list_runs(const std::string& schedule, int limit) = 0;
};

}  // namespace kioku
