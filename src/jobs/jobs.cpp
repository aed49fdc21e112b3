#include "jobs/jobs.h"

#include <unistd.h>

#include <algorithm>
#include <random>

#include "core/error.h"
#include "core/id.h"

namespace kioku {

void JobRegistry::add(const std::string& kind, JobHandler handler, JobKindPolicy policy) {
  entries_[kind] = Entry{std::move(handler), policy};
}

const JobRegistry::Entry* JobRegistry::find(const std::string& kind) const {
  auto it = entries_.find(kind);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> JobRegistry::kinds() const {
  std::vector<std::string> out;
  for (const auto& [kind, entry] : entries_) out.push_back(kind);
  return out;
}

namespace {

std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}

TimePoint plus(TimePoint t, JobDuration d) { return t + std::chrono::duration_cast<TimePoint::duration>(d); }

// Errors that no retry can fix: the job fails at once.
bool permanent(ErrorCode code) {
  return code != ErrorCode::kUnavailable && code != ErrorCode::kAuthFailed && code != ErrorCode::kIo &&
         code != ErrorCode::kInternal;
}

}  // namespace

JobDuration backoff_delay(JobDuration base, JobDuration max, int n) {
  const int shift = std::clamp(n - 1, 0, 30);
  const double raw = std::min(static_cast<double>(base.count()) * static_cast<double>(int64_t{1} << shift),
                              static_cast<double>(max.count()));
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return JobDuration(static_cast<int64_t>(raw * jitter(rng())));
}

std::string new_job_holder_id() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  std::uniform_int_distribution<uint32_t> d;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", d(rng()));
  return std::string(host[0] ? host : "host") + ":" + std::to_string(getpid()) + ":" + suffix;
}

JobRunner::JobRunner(JobStore& store, const JobRegistry& registry, std::string holder, const TimeSource& clock)
    : store_(store), registry_(registry), holder_(std::move(holder)), clock_(clock) {}

JobRunReport JobRunner::run_due(int max_jobs, std::chrono::steady_clock::duration budget) {
  return run_due_of(registry_.kinds(), max_jobs, budget);
}

JobRunReport JobRunner::run_due_of(const std::vector<std::string>& kinds, int max_jobs,
                                   std::chrono::steady_clock::duration budget) {
  JobRunReport report;
  const auto deadline = std::chrono::steady_clock::now() + budget;
  std::vector<std::string> active;
  for (const auto& k : kinds)
    if (registry_.find(k)) active.push_back(k);
  // Round robin: one job of each kind per pass, so a backlog of one kind
  // (twenty photo descriptions) never holds up another (a chat reply).
  while (!active.empty() && report.total() < max_jobs && std::chrono::steady_clock::now() < deadline) {
    std::vector<std::string> next;
    for (const auto& kind : active) {
      if (report.total() >= max_jobs || std::chrono::steady_clock::now() >= deadline) break;
      const auto* entry = registry_.find(kind);
      const TimePoint now = clock_.now();
      const TimePoint due_by = ignore_run_after_ ? plus(now, std::chrono::hours(24 * 365 * 100)) : now;
      auto claimed = store_.claim(kind, holder_, now, due_by, plus(now, entry->policy.lease), 1);
      if (claimed.empty()) continue;  // nothing due of this kind
      if (run_one(claimed.front(), *entry, report)) next.push_back(kind);
    }
    active.swap(next);
  }
  return report;
}

bool JobRunner::run_one(const Job& job, const JobRegistry::Entry& entry, JobRunReport& report) {
  const JobKindPolicy& policy = entry.policy;
  const int max_attempts = job.max_attempts > 0 ? job.max_attempts : policy.max_attempts;
  auto wait = [&](const std::string& reason, JobDuration delay, bool block) {
    if (delay.count() <= 0) delay = backoff_delay(policy.wait_base, policy.wait_max, job.waits + 1);
    if (!store_.later(job.id, holder_, reason, plus(clock_.now(), delay))) {
      ++report.lost;
      return true;
    }
    ++report.waiting;
    report.lines.push_back(job.kind + " " + job.id + " waits: " + reason);
    record_if_scheduled(job, "waiting", nlohmann::json::object(), reason);
    // Running "now" ignores run_after, so the job just requeued would be
    // claimed again at once: the kind rests for this round.
    return !block && !ignore_run_after_;
  };
  auto failed_attempt = [&](const std::string& error, bool give_up) {
    const TimePoint now = clock_.now();
    if (give_up || job.attempts >= max_attempts) {
      if (store_.fail(job.id, holder_, error, now)) {
        ++report.failed;
        report.lines.push_back(job.kind + " " + job.id + " failed: " + error);
        record_if_scheduled(job, "failed", nlohmann::json::object(), error);
      } else {
        ++report.lost;
      }
      return true;
    }
    if (store_.retry_later(job.id, holder_, error,
                           plus(now, backoff_delay(policy.backoff_base, policy.backoff_max, job.attempts)))) {
      ++report.retried;
      report.lines.push_back(job.kind + " " + job.id + " will be retried: " + error);
      record_if_scheduled(job, "failed", nlohmann::json::object(), error);
    } else {
      ++report.lost;
    }
    return true;
  };

  try {
    JobOutcome outcome = entry.handler(job);
    if (!outcome.done) return wait(outcome.reason, outcome.delay, outcome.block_kind);
    if (store_.complete(job.id, holder_, clock_.now(), outcome.counts)) {
      ++report.done;
      report.lines.push_back(job.kind + " " + job.id + " done");
      record_if_scheduled(job, "done", outcome.counts, "");
    } else {
      ++report.lost;  // effect is idempotent (invariant 2): the new holder finds it
    }
    return true;
  } catch (const Error& e) {
    // A service that is down, or refuses the key: the job waits (no attempt
    // counted) until it is back or the key is fixed, and so does its kind.
    if (e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kAuthFailed)
      return wait(e.what(), JobDuration{0}, true);
    return failed_attempt(e.what(), permanent(e.code()));
  } catch (const std::exception& e) {
    return failed_attempt(e.what(), false);
  }
}

void JobRunner::record_if_scheduled(const Job& job, const std::string& status, const nlohmann::json& counts,
                                    const std::string& error) {
  const std::string schedule = job.payload.value("schedule", "");
  if (schedule.empty()) return;
  ScheduledRun run;
  run.schedule = schedule;
  run.job_id = job.id;
  run.started_at = job.started_at;
  run.finished_at = clock_.now();
  run.status = status;
  run.counts = counts;
  run.error = error;
  try {
    store_.record_run(run);
  } catch (const Error&) {
    // The job's own state is what matters; a lost run record is only history.
  }
}

void Scheduler::add(Schedule schedule) {
  if (schedule.period.count() <= 0) throw invalid_input("schedule " + schedule.name + " needs a positive period");
  auto it = std::find_if(schedules_.begin(), schedules_.end(), [&](const Schedule& s) { return s.name == schedule.name; });
  if (it != schedules_.end())
    *it = std::move(schedule);
  else
    schedules_.push_back(std::move(schedule));
}

int64_t Scheduler::slot_of(const Schedule& s, TimePoint now) {
  const int64_t t = to_millis(now) - s.offset.count();
  const int64_t p = s.period.count();
  return t >= 0 ? t / p : -((-t + p - 1) / p);
}

std::vector<std::string> Scheduler::tick() {
  std::vector<std::string> enqueued;
  const TimePoint now = clock_.now();
  for (const auto& s : schedules_) {
    const int64_t slot = slot_of(s, now);
    Job job;
    job.user_id = s.user_id;
    job.kind = s.kind;
    job.payload = s.payload;
    job.payload["schedule"] = s.name;
    job.payload["slot"] = slot;
    job.dedupe_key = "schedule:" + s.name + ":" + std::to_string(slot);
    if (store_.enqueue_for_slot(s.name, slot, job)) enqueued.push_back(s.name);
  }
  return enqueued;
}

nlohmann::json to_json(const Job& j) {
  auto time_or_null = [](TimePoint t) { return to_millis(t) == 0 ? nlohmann::json() : nlohmann::json(format_iso8601(t)); };
  return {{"id", j.id},
          {"user_id", j.user_id},
          {"kind", j.kind},
          {"state", to_string(j.state)},
          {"payload", j.payload},
          {"attempts", j.attempts},
          {"waits", j.waits},
          {"last_error", j.last_error},
          {"wait_reason", j.wait_reason},
          {"created_at", time_or_null(j.created_at)},
          {"run_after", time_or_null(j.run_after)},
          {"lease_holder", j.lease_holder},
          {"lease_until", time_or_null(j.lease_until)},
          {"started_at", time_or_null(j.started_at)},
          {"finished_at", time_or_null(j.finished_at)},
          {"result", j.result}};
}

nlohmann::json to_json(const ScheduledRun& r) {
  return {{"id", r.id},
          {"schedule", r.schedule},
          {"job_id", r.job_id},
          {"started_at", format_iso8601(r.started_at)},
          {"finished_at", format_iso8601(r.finished_at)},
          {"status", r.status},
          {"counts", r.counts},
          {"error", r.error}};
}

}  // namespace kioku
