// PgJobStore: jobs shared by every kioku process on one database.
//
// claim() is one UPDATE over a `SELECT ... FOR UPDATE SKIP LOCKED`: each
// claimer locks the rows it picks and skips rows another claimer holds, so
// concurrent claimers (threads, or `kioku serve` processes on other hosts)
// never take the same job and never wait on each other. The lease columns
// then say who holds a job; complete/later/retry/fail act only while the
// holder still holds it (a job whose lease ended may be claimed again).
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/id.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/store_base.h"

namespace kioku {
namespace {

using pg::Connection;
using pg::Result;

constexpr const char* kJobColumns =
    "id, user_id, kind, payload, state, dedupe_key, attempts, waits, max_attempts, last_error, wait_reason, "
    "created_at, run_after, lease_holder, lease_until, started_at, finished_at, result";

nlohmann::json json_object_of(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

Job read_job(const Result& r, int i) {
  Job j;
  j.id = r.text(i, 0);
  j.user_id = r.text(i, 1);
  j.kind = r.text(i, 2);
  j.payload = json_object_of(r.text(i, 3));
  j.state = parse_job_state(r.text(i, 4));
  j.dedupe_key = r.is_null(i, 5) ? "" : r.text(i, 5);
  j.attempts = static_cast<int>(r.integer(i, 6));
  j.waits = static_cast<int>(r.integer(i, 7));
  j.max_attempts = static_cast<int>(r.integer(i, 8));
  j.last_error = r.text(i, 9);
  j.wait_reason = r.text(i, 10);
  j.created_at = from_millis(r.integer(i, 11));
  j.run_after = from_millis(r.integer(i, 12));
  j.lease_holder = r.text(i, 13);
  j.lease_until = from_millis(r.integer(i, 14));
  j.started_at = from_millis(r.integer(i, 15));
  j.finished_at = from_millis(r.integer(i, 16));
  j.result = json_object_of(r.text(i, 17));
  return j;
}

class PgJobStore final : public JobStore, pg::StoreBase {
 public:
  PgJobStore(const std::string& url, const TimeSource& clock) : StoreBase(url), clock_(clock) {}

  std::string enqueue(Job job) override {
    std::string id;
    transaction(pg::Scope::user(job.user_id), [&](Connection& c) { id = insert(c, job); });
    return id;
  }

  std::vector<Job> claim(const std::string& kind, const std::string& holder, TimePoint now, TimePoint due_by,
                         TimePoint lease_until, int limit) override {
    std::vector<Job> out;
    // Claimers take every user's jobs.
    transaction(pg::Scope::all_users(), [&](Connection& c) {
      auto r = c.exec(
          "WITH picked AS (SELECT id FROM jobs WHERE kind = $1 AND ((state = 'queued' AND run_after <= $2) OR "
          "(state = 'running' AND lease_until < $3)) ORDER BY run_after, id LIMIT $4 FOR UPDATE SKIP LOCKED) "
          "UPDATE jobs j SET state = 'running', lease_holder = $5, lease_until = $6, attempts = j.attempts + 1, "
          "started_at = $3 FROM picked WHERE j.id = picked.id RETURNING " + prefixed("j."),
          {kind, to_millis(due_by), to_millis(now), static_cast<int64_t>(limit), holder, to_millis(lease_until)});
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_job(r, i));
    });
    std::sort(out.begin(), out.end(), [](const Job& a, const Job& b) {
      return a.run_after != b.run_after ? a.run_after < b.run_after : a.id < b.id;
    });
    return out;
  }

  bool complete(const std::string& id, const std::string& holder, TimePoint at, const nlohmann::json& result) override {
    return held("UPDATE jobs SET state = 'done', finished_at = $1, result = $2, lease_holder = '', lease_until = 0, "
                "wait_reason = '' WHERE id = $3 AND state = 'running' AND lease_holder = $4",
                {to_millis(at), result.dump(), id, holder});
  }

  bool later(const std::string& id, const std::string& holder, const std::string& reason, TimePoint run_after) override {
    return held("UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), waits = waits + 1, "
                "wait_reason = $1, run_after = $2, lease_holder = '', lease_until = 0 "
                "WHERE id = $3 AND state = 'running' AND lease_holder = $4",
                {reason, to_millis(run_after), id, holder});
  }

  bool retry_later(const std::string& id, const std::string& holder, const std::string& error,
                   TimePoint run_after) override {
    return held("UPDATE jobs SET state = 'queued', last_error = $1, wait_reason = '', run_after = $2, "
                "lease_holder = '', lease_until = 0 WHERE id = $3 AND state = 'running' AND lease_holder = $4",
                {error, to_millis(run_after), id, holder});
  }

  bool fail(const std::string& id, const std::string& holder, const std::string& error, TimePoint at) override {
    return held("UPDATE jobs SET state = 'failed', last_error = $1, wait_reason = '', finished_at = $2, "
                "lease_holder = '', lease_until = 0 WHERE id = $3 AND state = 'running' AND lease_holder = $4",
                {error, to_millis(at), id, holder});
  }

  void retry(const std::string& user_id, const std::string& id, TimePoint now) override {
    transaction(pg::Scope::user(user_id), [&](Connection& c) {
      const Job j = owned(c, user_id, id);
      if (j.state != JobState::kFailed && j.state != JobState::kCancelled)
        throw conflict("job " + id + " is " + std::string(to_string(j.state)) +
                       ": only failed or cancelled jobs can be retried");
      c.exec("UPDATE jobs SET state = 'queued', attempts = 0, waits = 0, run_after = $1, finished_at = 0, "
             "wait_reason = '' WHERE id = $2",
             {to_millis(now), id});
    });
  }

  void cancel(const std::string& user_id, const std::string& id, TimePoint now) override {
    transaction(pg::Scope::user(user_id), [&](Connection& c) {
      const Job j = owned(c, user_id, id);
      if (j.state == JobState::kRunning) throw conflict("job " + id + " is running: it cannot be cancelled now");
      if (j.state == JobState::kDone || j.state == JobState::kCancelled)
        throw conflict("job " + id + " is already " + std::string(to_string(j.state)));
      c.exec("UPDATE jobs SET state = 'cancelled', finished_at = $1 WHERE id = $2", {to_millis(now), id});
    });
  }

  // By id alone (the interface names no user): the runner, and the edges
  // after retry()/cancel() checked the owner.
  std::optional<Job> get(const std::string& id) override {
    return with(pg::Scope::all_users(), [&](Connection& c) -> std::optional<Job> {
      auto r = c.exec(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1", {id});
      if (!r.rows()) return std::nullopt;
      return read_job(r, 0);
    });
  }

  std::vector<Job> list(const JobFilter& filter) override {
    pg::Params p;
    std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE true";
    if (filter.user_id) {
      p.emplace_back(*filter.user_id);
      sql += " AND user_id = $" + std::to_string(p.size());
    }
    if (filter.kind) {
      p.emplace_back(*filter.kind);
      sql += " AND kind = $" + std::to_string(p.size());
    }
    if (!filter.states.empty()) {
      sql += " AND state IN (";
      for (size_t i = 0; i < filter.states.size(); ++i) {
        p.emplace_back(std::string(to_string(filter.states[i])));
        sql += (i ? ",$" : "$") + std::to_string(p.size());
      }
      sql += ")";
    }
    p.emplace_back(static_cast<int64_t>(filter.limit));
    sql += " ORDER BY created_at DESC, id DESC LIMIT $" + std::to_string(p.size());
    // Without a user: every user's (the jobs commands and status over the whole server).
    return with(filter.user_id ? pg::Scope::user(*filter.user_id) : pg::Scope::all_users(), [&](Connection& c) {
      auto r = c.exec(sql, p);
      std::vector<Job> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_job(r, i));
      return out;
    });
  }

  std::map<std::string, int64_t> count_by_state(const std::optional<std::string>& user_id) override {
    return with(user_id ? pg::Scope::user(*user_id) : pg::Scope::all_users(), [&](Connection& c) {
      auto r = user_id ? c.exec("SELECT state, count(*) FROM jobs WHERE user_id = $1 GROUP BY state", {*user_id})
                       : c.exec("SELECT state, count(*) FROM jobs GROUP BY state");
      std::map<std::string, int64_t> out;
      for (const char* s : {"queued", "running", "done", "failed", "cancelled"}) out[s] = 0;
      for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = r.integer(i, 1);
      return out;
    });
  }

  int64_t count_open(const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      return c.exec("SELECT count(*) FROM jobs WHERE user_id = $1 AND state IN ('queued', 'running')", {user_id})
          .integer(0, 0);
    });
  }

  int64_t prune_finished(TimePoint before) override {
    int64_t n = 0;
    transaction(pg::Scope::all_users(), [&](Connection& c) {  // upkeep over every user's jobs
      n = c.exec("DELETE FROM jobs WHERE state IN ('done', 'cancelled') AND finished_at < $1", {to_millis(before)})
              .affected();
      c.exec("DELETE FROM job_runs WHERE finished_at < $1", {to_millis(before)});
    });
    return n;
  }

  bool enqueue_for_slot(const std::string& schedule, int64_t slot, Job job) override {
    bool enqueued = false;
    transaction(pg::Scope::user(job.user_id), [&](Connection& c) {
      // A new schedule's row is inserted with the slot; a known one is locked
      // first, so of several processes one enqueues each slot.
      const int64_t now = to_millis(clock_.now());
      auto fresh = c.exec(
          "INSERT INTO job_schedules(name, last_slot, updated_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
          "RETURNING name",
          {schedule, slot, now});
      if (!fresh.rows()) {
        auto r = c.exec("SELECT last_slot FROM job_schedules WHERE name = $1 FOR UPDATE", {schedule});
        if (r.integer(0, 0) >= slot) return;
        c.exec("UPDATE job_schedules SET last_slot = $2, updated_at = $3 WHERE name = $1", {schedule, slot, now});
      }
      insert(c, job);
      enqueued = true;
    });
    return enqueued;
  }

  // The scheduler's tables belong to no user.
  std::optional<int64_t> last_slot(const std::string& schedule) override {
    return with(pg::Scope::none(), [&](Connection& c) -> std::optional<int64_t> {
      auto r = c.exec("SELECT last_slot FROM job_schedules WHERE name = $1", {schedule});
      if (!r.rows()) return std::nullopt;
      return r.integer(0, 0);
    });
  }

  void record_run(const ScheduledRun& run) override {
    with(pg::Scope::none(), [&](Connection& c) {
      c.exec("INSERT INTO job_runs(schedule, job_id, started_at, finished_at, status, counts, error) "
             "VALUES ($1,$2,$3,$4,$5,$6,$7)",
             {run.schedule, run.job_id, to_millis(run.started_at), to_millis(run.finished_at), run.status,
              run.counts.dump(), run.error});
    });
  }

  std::vector<ScheduledRun> list_runs(const std::string& schedule, int limit) override {
    return with(pg::Scope::none(), [&](Connection& c) {
      auto r = c.exec(
          "SELECT id, schedule, job_id, started_at, finished_at, status, counts, error FROM job_runs "
          "WHERE ($1 = '' OR schedule = $1) ORDER BY started_at DESC, id DESC LIMIT $2",
          {schedule, static_cast<int64_t>(limit)});
      std::vector<ScheduledRun> out;
      for (int i = 0; i < r.rows(); ++i) {
        ScheduledRun run;
        run.id = r.integer(i, 0);
        run.schedule = r.text(i, 1);
        run.job_id = r.text(i, 2);
        run.started_at = from_millis(r.integer(i, 3));
        run.finished_at = from_millis(r.integer(i, 4));
        run.status = r.text(i, 5);
        run.counts = json_object_of(r.text(i, 6));
        run.error = r.text(i, 7);
        out.push_back(std::move(run));
      }
      return out;
    });
  }

 private:
  static std::string prefixed(const std::string& alias) {
    std::string out;
    std::string cols = kJobColumns;
    size_t pos = 0;
    while (pos < cols.size()) {
      auto end = cols.find(", ", pos);
      if (end == std::string::npos) end = cols.size();
      out += (out.empty() ? "" : ", ") + alias + cols.substr(pos, end - pos);
      pos = end + 2;
    }
    return out;
  }

  std::string insert(Connection& c, Job& job) {
    const TimePoint now = clock_.now();
    if (job.id.empty()) job.id = new_uuid_v7(now);
    if (to_millis(job.created_at) == 0) job.created_at = now;
    if (to_millis(job.run_after) == 0) job.run_after = now;
    const pg::Param dedupe = job.dedupe_key.empty() ? pg::Param(std::nullopt) : pg::Param(job.dedupe_key);
    // ON CONFLICT on the dedupe key: two processes enqueueing the same key
    // at once store one job, and both get its id.
    auto r = c.exec(
        "INSERT INTO jobs(id, user_id, kind, payload, state, dedupe_key, attempts, waits, max_attempts, last_error, "
        "wait_reason, created_at, run_after) VALUES ($1,$2,$3,$4,'queued',$5,$6,$7,$8,$9,$10,$11,$12) "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        {job.id, job.user_id, job.kind, job.payload.dump(), dedupe, job.attempts, job.waits, job.max_attempts,
         job.last_error, job.wait_reason, to_millis(job.created_at), to_millis(job.run_after)});
    if (r.rows()) return job.id;
    auto kept = c.exec("SELECT id FROM jobs WHERE dedupe_key = $1", {dedupe});
    // Row-level security hides a job of another user that holds the key.
    if (!kept.rows()) throw conflict("the job key '" + job.dedupe_key + "' is taken by another user's job");
    return kept.text(0, 0);
  }

  Job owned(Connection& c, const std::string& user_id, const std::string& id) {
    auto r = c.exec(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1 FOR UPDATE", {id});
    if (!r.rows() || r.text(0, 1) != user_id) throw not_found("no job with id " + id);
    return read_job(r, 0);
  }

  // The runner's lease calls: by job id and holder, whoever's job it is.
  bool held(const std::string& sql, const pg::Params& p) {
    return with(pg::Scope::all_users(), [&](Connection& c) { return c.exec(sql, p).affected() > 0; });
  }

  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<JobStore> open_postgres_job_store(const std::string& url, const TimeSource& clock) {
  return std::make_unique<PgJobStore>(url, clock);
}

}  // namespace kioku
