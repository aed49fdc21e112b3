// SqliteJobStore: the jobs, job_schedules and job_runs tables of memory.db.
//
// Atomicity across processes comes from SQLite itself: claim() selects and
// marks in one BEGIN IMMEDIATE transaction, which takes the database's write
// lock before reading, so two claimers (threads with their own connections,
// or two kioku processes) can never both see a job as claimable.
#include <unistd.h>

#include "core/error.h"
#include "core/id.h"
#include "store/sqlite/database.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {

std::string_view to_string(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
    case JobState::kCancelled: return "cancelled";
  }
  return "queued";
}

JobState parse_job_state(std::string_view s) {
  if (s == "queued") return JobState::kQueued;
  if (s == "running") return JobState::kRunning;
  if (s == "done") return JobState::kDone;
  if (s == "failed") return JobState::kFailed;
  if (s == "cancelled") return JobState::kCancelled;
  throw invalid_input("unknown job state '" + std::string(s) + "' (queued, running, done, failed, cancelled)");
}

namespace {

constexpr const char* kJobColumns =
    "id, user_id, kind, payload, state, dedupe_key, attempts, waits, max_attempts, last_error, wait_reason, "
    "created_at, run_after, lease_holder, lease_until, started_at, finished_at, result";

nlohmann::json json_object_of(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

Job read_job(const sqlite::Statement& st) {
  Job j;
  j.id = st.text(0);
  j.user_id = st.text(1);
  j.kind = st.text(2);
  j.payload = json_object_of(st.text(3));
  j.state = parse_job_state(st.text(4));
  j.dedupe_key = st.is_null(5) ? "" : st.text(5);
  j.attempts = static_cast<int>(st.integer(6));
  j.waits = static_cast<int>(st.integer(7));
  j.max_attempts = static_cast<int>(st.integer(8));
  j.last_error = st.text(9);
  j.wait_reason = st.text(10);
  j.created_at = from_millis(st.integer(11));
  j.run_after = from_millis(st.integer(12));
  j.lease_holder = st.text(13);
  j.lease_until = from_millis(st.integer(14));
  j.started_at = from_millis(st.integer(15));
  j.finished_at = from_millis(st.integer(16));
  j.result = json_object_of(st.text(17));
  return j;
}

class SqliteJobStore final : public JobStore {
 public:
  SqliteJobStore(const std::filesystem::path& path, const TimeSource& clock) : db_(path), clock_(clock) {
    migrate_memory_database(db_);
  }

  std::string enqueue(Job job) override {
    std::string id;
    db_.transaction([&] { id = insert(job); });
    return id;
  }

  std::vector<Job> claim(const std::string& kind, const std::string& holder, TimePoint now, TimePoint due_by,
                         TimePoint lease_until, int limit) override {
    std::vector<Job> out;
    db_.transaction([&] {
      auto st = db_.prepare(std::string("SELECT ") + kJobColumns +
                            " FROM jobs WHERE kind = ? AND ((state = 'queued' AND run_after <= ?) OR "
                            "(state = 'running' AND lease_until < ?)) ORDER BY run_after, id LIMIT ?");
      st.bind(1, kind).bind(2, to_millis(due_by)).bind(3, to_millis(now)).bind(4, static_cast<int64_t>(limit));
      while (st.step()) out.push_back(read_job(st));
      st.reset();
      for (auto& j : out) {
        auto up = db_.prepare(
            "UPDATE jobs SET state = 'running', lease_holder = ?, lease_until = ?, attempts = attempts + 1, "
            "started_at = ? WHERE id = ?");
        up.bind(1, holder).bind(2, to_millis(lease_until)).bind(3, to_millis(now)).bind(4, j.id).run();
        j.state = JobState::kRunning;
        j.lease_holder = holder;
        j.lease_until = lease_until;
        j.started_at = now;
        j.attempts += 1;
      }
    });
    return out;
  }

  bool complete(const std::string& id, const std::string& holder, TimePoint at, const nlohmann::json& result) override {
    return held_update(
        "UPDATE jobs SET state = 'done', finished_at = ?, result = ?, lease_holder = '', lease_until = 0, "
        "wait_reason = '' WHERE id = ? AND state = 'running' AND lease_holder = ?",
        [&](sqlite::Statement& st) { st.bind(1, to_millis(at)).bind(2, result.dump()).bind(3, id).bind(4, holder); });
  }

  bool later(const std::string& id, const std::string& holder, const std::string& reason, TimePoint run_after) override {
    // A wait is not an attempt: the claim's count is taken back.
    return held_update(
        "UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), waits = waits + 1, wait_reason = ?, "
        "run_after = ?, lease_holder = '', lease_until = 0 WHERE id = ? AND state = 'running' AND lease_holder = ?",
        [&](sqlite::Statement& st) { st.bind(1, reason).bind(2, to_millis(run_after)).bind(3, id).bind(4, holder); });
  }

  bool retry_later(const std::string& id, const std::string& holder, const std::string& error,
                   TimePoint run_after) override {
    return held_update(
        "UPDATE jobs SET state = 'queued', last_error = ?, wait_reason = '', run_after = ?, lease_holder = '', "
        "lease_until = 0 WHERE id = ? AND state = 'running' AND lease_holder = ?",
        [&](sqlite::Statement& st) { st.bind(1, error).bind(2, to_millis(run_after)).bind(3, id).bind(4, holder); });
  }

  bool fail(const std::string& id, const std::string& holder, const std::string& error, TimePoint at) override {
    return held_update(
        "UPDATE jobs SET state = 'failed', last_error = ?, wait_reason = '', finished_at = ?, lease_holder = '', "
        "lease_until = 0 WHERE id = ? AND state = 'running' AND lease_holder = ?",
        [&](sqlite::Statement& st) { st.bind(1, error).bind(2, to_millis(at)).bind(3, id).bind(4, holder); });
  }

  void retry(const std::string& user_id, const std::string& id, TimePoint now) override {
    db_.transaction([&] {
      const Job j = owned(user_id, id);
      if (j.state != JobState::kFailed && j.state != JobState::kCancelled)
        throw conflict("job " + id + " is " + std::string(to_string(j.state)) + ": only failed or cancelled jobs can be retried");
      db_.prepare(
             "UPDATE jobs SET state = 'queued', attempts = 0, waits = 0, run_after = ?, finished_at = 0, "
             "wait_reason = '' WHERE id = ?")
          .bind(1, to_millis(now))
          .bind(2, id)
          .run();
    });
  }

  void cancel(const std::string& user_id, const std::string& id, TimePoint now) override {
    db_.transaction([&] {
      const Job j = owned(user_id, id);
      if (j.state == JobState::kRunning) throw conflict("job " + id + " is running: it cannot be cancelled now");
      if (j.state == JobState::kDone || j.state == JobState::kCancelled)
        throw conflict("job " + id + " is already " + std::string(to_string(j.state)));
      db_.prepare("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ?")
          .bind(1, to_millis(now))
          .bind(2, id)
          .run();
    });
  }

  std::optional<Job> get(const std::string& id) override {
    auto st = db_.prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?");
    st.bind(1, id);
    std::optional<Job> out;
    if (st.step()) out = read_job(st);
    st.reset();
    return out;
  }

  std::vector<Job> list(const JobFilter& filter) override {
    std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE 1";
    if (filter.user_id) sql += " AND user_id = ?1";
    if (filter.kind) sql += " AND kind = ?2";
    if (!filter.states.empty()) {
      sql += " AND state IN (";
      for (size_t i = 0; i < filter.states.size(); ++i) sql += (i ? ",'" : "'") + std::string(to_string(filter.states[i])) + "'";
      sql += ")";
    }
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?3";
    auto st = db_.prepare(sql);
    if (filter.user_id) st.bind(1, *filter.user_id);
    if (filter.kind) st.bind(2, *filter.kind);
    st.bind(3, static_cast<int64_t>(filter.limit));
    std::vector<Job> out;
    while (st.step()) out.push_back(read_job(st));
    st.reset();
    return out;
  }

  std::map<std::string, int64_t> count_by_state(const std::optional<std::string>& user_id) override {
    auto st = db_.prepare(user_id ? "SELECT state, count(*) FROM jobs WHERE user_id = ? GROUP BY state"
                                  : "SELECT state, count(*) FROM jobs GROUP BY state");
    if (user_id) st.bind(1, *user_id);
    std::map<std::string, int64_t> out;
    for (const char* s : {"queued", "running", "done", "failed", "cancelled"}) out[s] = 0;
    while (st.step()) out[st.text(0)] = st.integer(1);
    st.reset();
    return out;
  }

  int64_t count_open(const std::string& user_id) override {
    auto st = db_.prepare("SELECT count(*) FROM jobs WHERE user_id = ? AND state IN ('queued', 'running')");
    st.bind(1, user_id);
    st.step();
    const int64_t n = st.integer(0);
    st.reset();
    return n;
  }

  int64_t prune_finished(TimePoint before) override {
    int64_t n = 0;
    db_.transaction([&] {
      db_.prepare("DELETE FROM jobs WHERE state IN ('done', 'cancelled') AND finished_at < ?")
          .bind(1, to_millis(before))
          .run();
      n = db_.changes();
      db_.prepare("DELETE FROM job_runs WHERE finished_at < ?").bind(1, to_millis(before)).run();
    });
    return n;
  }

  bool enqueue_for_slot(const std::string& schedule, int64_t slot, Job job) override {
    bool enqueued = false;
    db_.transaction([&] {
      auto st = db_.prepare("SELECT last_slot FROM job_schedules WHERE name = ?");
      st.bind(1, schedule);
      const bool known = st.step();
      const int64_t last = known ? st.integer(0) : 0;
      st.reset();
      if (known && last >= slot) return;
      db_.prepare(
             "INSERT INTO job_schedules(name, last_slot, updated_at) VALUES (?, ?, ?) "
             "ON CONFLICT(name) DO UPDATE SET last_slot = excluded.last_slot, updated_at = excluded.updated_at")
          .bind(1, schedule)
          .bind(2, slot)
          .bind(3, to_millis(clock_.now()))
          .run();
      insert(job);
      enqueued = true;
    });
    return enqueued;
  }

  std::optional<int64_t> last_slot(const std::string& schedule) override {
    auto st = db_.prepare("SELECT last_slot FROM job_schedules WHERE name = ?");
    st.bind(1, schedule);
    std::optional<int64_t> out;
    if (st.step()) out = st.integer(0);
    st.reset();
    return out;
  }

  void record_run(const ScheduledRun& run) override {
    db_.transaction([&] {
      auto st = db_.prepare(
          "INSERT INTO job_runs(schedule, job_id, started_at, finished_at, status, counts, error) "
          "VALUES (?,?,?,?,?,?,?)");
      st.bind(1, run.schedule).bind(2, run.job_id).bind(3, to_millis(run.started_at));
      st.bind(4, to_millis(run.finished_at)).bind(5, run.status).bind(6, run.counts.dump()).bind(7, run.error).run();
    });
  }

  std::vector<ScheduledRun> list_runs(const std::string& schedule, int limit) override {
    auto st = db_.prepare(
        "SELECT id, schedule, job_id, started_at, finished_at, status, counts, error FROM job_runs "
        "WHERE (?1 = '' OR schedule = ?1) ORDER BY started_at DESC, id DESC LIMIT ?2");
    st.bind(1, schedule).bind(2, static_cast<int64_t>(limit));
    std::vector<ScheduledRun> out;
    while (st.step()) {
      ScheduledRun r;
      r.id = st.integer(0);
      r.schedule = st.text(1);
      r.job_id = st.text(2);
      r.started_at = from_millis(st.integer(3));
      r.finished_at = from_millis(st.integer(4));
      r.status = st.text(5);
      r.counts = json_object_of(st.text(6));
      r.error = st.text(7);
      out.push_back(std::move(r));
    }
    st.reset();
    return out;
  }

 private:
  // Inside a transaction.
  std::string insert(Job& job) {
    const TimePoint now = clock_.now();
    if (!job.dedupe_key.empty()) {
      auto st = db_.prepare("SELECT id FROM jobs WHERE dedupe_key = ?");
      st.bind(1, job.dedupe_key);
      std::string existing = st.step() ? st.text(0) : "";
      st.reset();
      if (!existing.empty()) return existing;
    }
    if (job.id.empty()) job.id = new_uuid_v7(now);
    if (to_millis(job.created_at) == 0) job.created_at = now;
    if (to_millis(job.run_after) == 0) job.run_after = now;
    auto st = db_.prepare(
        "INSERT INTO jobs(id, user_id, kind, payload, state, dedupe_key, attempts, waits, max_attempts, last_error, "
        "wait_reason, created_at, run_after) VALUES (?,?,?,?,'queued',?,?,?,?,?,?,?,?)");
    st.bind(1, job.id).bind(2, job.user_id).bind(3, job.kind).bind(4, job.payload.dump());
    if (job.dedupe_key.empty())
      st.bind_null(5);
    else
      st.bind(5, job.dedupe_key);
    st.bind(6, job.attempts).bind(7, job.waits).bind(8, job.max_attempts).bind(9, job.last_error);
    st.bind(10, job.wait_reason).bind(11, to_millis(job.created_at)).bind(12, to_millis(job.run_after)).run();
    return job.id;
  }

  Job owned(const std::string& user_id, const std::string& id) {
    auto j = get(id);
    if (!j || j->user_id != user_id) throw not_found("no job with id " + id);
    return *j;
  }

  bool held_update(const std::string& sql, const std::function<void(sqlite::Statement&)>& bind) {
    bool held = false;
    db_.transaction([&] {
      auto st = db_.prepare(sql);
      bind(st);
      st.run();
      held = db_.changes() > 0;
    });
    return held;
  }

  sqlite::Database db_;
  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<JobStore> open_sqlite_job_store(const std::filesystem::path& path, const TimeSource& clock) {
  return std::make_unique<SqliteJobStore>(path, clock);
}

}  // namespace kioku
