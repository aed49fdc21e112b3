// The job system: leases, round robin, waits vs failures, the scheduler.
// Processes are real (fork + SIGKILL); the database is a real SQLite file.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.h"
#include "jobs/jobs.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

using namespace std::chrono_literals;

TimePoint at(int64_t ms) { return from_millis(ms); }

Job job_of(const std::string& kind, nlohmann::json payload = nlohmann::json::object()) {
  Job j;
  j.kind = kind;
  j.payload = std::move(payload);
  return j;
}

struct Fixture {
  testing::TempDir dir;
  std::filesystem::path db = dir / "memory.db";
  FakeTimeSource clock{at(1'700'000'000'000)};
  std::unique_ptr<JobStore> store = open_sqlite_job_store(db, clock);
};

// Regression: twenty photo descriptions that cannot run (no vision model)
// or run slowly must not delay a chat reply queued after them.
TEST(Jobs, QueuedPhotoDescriptionsDoNotDelayAChatReply) {
  for (bool vision : {false, true}) {
    Fixture f;
    for (int i = 0; i < 20; ++i) f.store->enqueue(job_of("describe_image", {{"n", i}}));
    f.clock.set(f.clock.now() + 1ms);
    f.store->enqueue(job_of("chat_reply"));
    std::vector<std::string> ran;
    JobRegistry registry;
    registry.add("describe_image", [&](const Job& j) {
      ran.push_back("describe_image");
      if (!vision) return JobOutcome::later("waits for a vision-capable model");
      return JobOutcome::finished();
    });
    registry.add("chat_reply", [&](const Job&) {
      ran.push_back("chat_reply");
      return JobOutcome::finished();
    });
    JobRunner runner(*f.store, registry, "test", f.clock);
    const auto report = runner.run_due(3, 10s);
    const auto pos = std::find(ran.begin(), ran.end(), "chat_reply");
    ASSERT_NE(pos, ran.end()) << "the chat reply did not run within the first 3 jobs";
    EXPECT_LE(pos - ran.begin(), 1);
    if (!vision) {
      // The kind that cannot run rests for the round: one try, then the reply.
      EXPECT_EQ(report.waiting, 1);
      EXPECT_EQ(report.done, 1);
      EXPECT_EQ(f.store->count_by_state(std::nullopt)["queued"], 20);
      JobFilter waiting;
      waiting.kind = "describe_image";
      bool reason_kept = false;
      for (const auto& j : f.store->list(waiting)) reason_kept |= j.wait_reason == "waits for a vision-capable model";
      EXPECT_TRUE(reason_kept);
    }
  }
}

TEST(Jobs, WaitsAreNotAttemptsButFailuresAreUntilTheJobFails) {
  Fixture f;
  const std::string waiting = f.store->enqueue(job_of("remote"));
  int calls = 0;
  JobRegistry registry;
  JobKindPolicy policy;
  policy.max_attempts = 3;
  registry.add("remote", [&](const Job&) -> JobOutcome {
    ++calls;
    if (calls <= 5) throw unavailable("provider down");  // waits, not attempts
    throw io_error("disk full");                         // attempts
  }, policy);
  JobRunner runner(*f.store, registry, "test", f.clock);
  for (int round = 0; round < 12; ++round) {
    runner.run_due(10, 10s);
    f.clock.set(f.clock.now() + 2h);  // past any backoff
  }
  const auto j = f.store->get(waiting);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->state, JobState::kFailed);
  EXPECT_EQ(j->waits, 5);
  EXPECT_EQ(j->attempts, 3);
  EXPECT_EQ(j->last_error, "disk full");
  EXPECT_EQ(calls, 8) << "a failed job is not run again";

  // Visible and retryable by its user, not by another.
  EXPECT_THROW(f.store->retry("someone-else", waiting, f.clock.now()), Error);
  f.store->retry("local", waiting, f.clock.now());
  EXPECT_EQ(f.store->get(waiting)->state, JobState::kQueued);
  EXPECT_EQ(f.store->get(waiting)->attempts, 0);
  f.store->cancel("local", waiting, f.clock.now());
  EXPECT_EQ(f.store->get(waiting)->state, JobState::kCancelled);
  EXPECT_EQ(runner.run_due(10, 10s).total(), 0);
}

TEST(Jobs, PermanentErrorsFailAtOnce) {
  Fixture f;
  const std::string id = f.store->enqueue(job_of("llm"));
  JobRegistry registry;
  registry.add("llm", [](const Job&) -> JobOutcome { throw invalid_input("the API key was refused by openai"); });
  JobRunner runner(*f.store, registry, "test", f.clock);
  const auto r = runner.run_due(10, 10s);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(f.store->get(id)->state, JobState::kFailed);
  EXPECT_EQ(f.store->get(id)->attempts, 1);
}

TEST(Jobs, DedupeKeyMakesEnqueueIdempotent) {
  Fixture f;
  Job a = job_of("chat_reply");
  a.dedupe_key = "chat_reply:m1";
  const std::string first = f.store->enqueue(a);
  const std::string second = f.store->enqueue(a);
  EXPECT_EQ(first, second);
  EXPECT_EQ(f.store->list({}).size(), 1u);
}

TEST(Jobs, AnExpiredLeaseCannotCompleteATakenOverJob) {
  Fixture f;
  const std::string id = f.store->enqueue(job_of("k"));
  const TimePoint t0 = f.clock.now();
  ASSERT_EQ(f.store->claim("k", "a", t0, t0, t0 + 1s, 1).size(), 1u);
  EXPECT_TRUE(f.store->claim("k", "b", t0 + 500ms, t0 + 500ms, t0 + 2s, 1).empty()) << "held by a";
  ASSERT_EQ(f.store->claim("k", "b", t0 + 2s, t0 + 2s, t0 + 10s, 1).size(), 1u) << "a's lease expired";
  EXPECT_FALSE(f.store->complete(id, "a", t0 + 3s, {})) << "a no longer holds it";
  EXPECT_TRUE(f.store->complete(id, "b", t0 + 3s, {}));
  EXPECT_EQ(f.store->get(id)->attempts, 2);
}

// Regression: one message, two runners in two processes: answered once.
// Every child runs every due job it can claim; the effect (a line per run
// in a shared file, written before complete()) shows who ran what.
TEST(Jobs, TwoProcessesRunEachJobExactlyOnce) {
  testing::TempDir dir;
  const auto db = dir / "memory.db";
  const auto effects = dir / "effects.log";
  constexpr int kJobs = 60;
  {
    auto store = open_sqlite_job_store(db);
    for (int i = 0; i < kJobs; ++i) store->enqueue(job_of("chat_reply", {{"n", i}}));
  }
  std::vector<pid_t> children;
  for (int c = 0; c < 3; ++c) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        auto store = open_sqlite_job_store(db);
        JobRegistry registry;
        registry.add("chat_reply", [&](const Job& j) {
          const std::string line = std::to_string(j.payload.value("n", -1)) + "\n";
          const int fd = ::open(effects.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
          if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::abort();
          ::close(fd);
          std::this_thread::sleep_for(1ms);
          return JobOutcome::finished();
        });
        JobRunner runner(*store, registry);
        for (int round = 0; round < 200; ++round)
          if (runner.run_due(5, 10s).total() == 0 && round > 3) break;
      } catch (...) {
        rc = 1;
      }
      _exit(rc);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::map<int, int> runs;
  std::ifstream in(effects);
  for (int n; in >> n;) runs[n]++;
  EXPECT_EQ(static_cast<int>(runs.size()), kJobs);
  for (const auto& [n, count] : runs) EXPECT_EQ(count, 1) << "job " << n << " ran " << count << " times";
  auto store = open_sqlite_job_store(db);
  EXPECT_EQ(store->count_by_state(std::nullopt)["done"], kJobs);
}

// Regression: a holder killed with SIGKILL mid-job; its job is taken over
// once the lease has expired (and not before).
TEST(Jobs, AJobWhoseHolderIsKilledIsTakenOverAfterItsLease) {
  testing::TempDir dir;
  const auto db = dir / "memory.db";
  const auto started = dir / "started";
  std::string id;
  {
    auto store = open_sqlite_job_store(db);
    id = store->enqueue(job_of("slow"));
  }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = open_sqlite_job_store(db);
    JobRegistry registry;
    JobKindPolicy policy;
    policy.lease = 1500ms;
    registry.add("slow", [&](const Job&) {
      std::ofstream(started) << "1";
      std::this_thread::sleep_for(60s);  // killed long before
      return JobOutcome::finished();
    }, policy);
    JobRunner runner(*store, registry, "victim");
    runner.run_due(1, 120s);
    _exit(0);
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!std::filesystem::exists(started) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(std::filesystem::exists(started));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));

  auto store = open_sqlite_job_store(db);
  EXPECT_EQ(store->get(id)->state, JobState::kRunning);
  EXPECT_EQ(store->get(id)->lease_holder, "victim");
  int ran = 0;
  JobRegistry registry;
  registry.add("slow", [&](const Job&) {
    ++ran;
    return JobOutcome::finished();
  });
  JobRunner heir(*store, registry, "heir");
  if (std::chrono::steady_clock::now() < deadline) {
    // Within the lease nobody may take it (the lease is 1.5 s; this check
    // runs right after the kill, so it is well inside it).
    const auto early = store->get(id)->lease_until;
    if (system_time().now() < early - 200ms) EXPECT_EQ(heir.run_due(5, 5s).total(), 0);
  }
  std::this_thread::sleep_for(1600ms);
  EXPECT_EQ(heir.run_due(5, 5s).done, 1);
  EXPECT_EQ(ran, 1);
  const auto j = store->get(id);
  EXPECT_EQ(j->state, JobState::kDone);
  EXPECT_EQ(j->attempts, 2);
}

// Regression: the scheduler catches up a missed daily run once after
// downtime (injected clock), and records each run.
TEST(Jobs, SchedulerCatchesUpAMissedDailyRunOnce) {
  Fixture f;
  const int64_t day = 24 * 3600 * 1000LL;
  f.clock.set(at(20000 * day + 10 * 3600 * 1000LL));  // 10:00 UTC on some day
  Scheduler scheduler(*f.store, f.clock);
  Schedule daily;
  daily.name = "maintain-daily";
  daily.kind = "maintain";
  daily.period = std::chrono::hours(24);
  scheduler.add(daily);
  int runs = 0;
  JobRegistry registry;
  registry.add("maintain", [&](const Job&) {
    ++runs;
    return JobOutcome::finished({{"merged", 2}});
  });
  JobRunner runner(*f.store, registry, "test", f.clock);

  EXPECT_EQ(scheduler.tick().size(), 1u);  // first start: runs now
  EXPECT_TRUE(scheduler.tick().empty());   // same day: nothing
  runner.run_due(10, 10s);
  f.clock.set(f.clock.now() + 6h);  // 16:00, same slot
  EXPECT_TRUE(scheduler.tick().empty());

  // Down for five days: one catch-up run, not five.
  f.clock.set(f.clock.now() + std::chrono::hours(24 * 5));
  EXPECT_EQ(scheduler.tick().size(), 1u);
  EXPECT_TRUE(scheduler.tick().empty());
  runner.run_due(10, 10s);
  EXPECT_EQ(runs, 2);

  // A second process's scheduler on the same database agrees.
  auto other = open_sqlite_job_store(f.db, f.clock);
  Scheduler second(*other, f.clock);
  second.add(daily);
  EXPECT_TRUE(second.tick().empty());

  const auto recorded = f.store->list_runs("maintain-daily", 10);
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0].status, "done");
  EXPECT_EQ(recorded[0].counts["merged"], 2);
  EXPECT_GE(recorded[0].finished_at, recorded[0].started_at);

  // The next day's slot comes at midnight UTC.
  f.clock.set(at((Scheduler::slot_of(daily, f.clock.now()) + 1) * day));
  EXPECT_EQ(scheduler.tick().size(), 1u);
}

TEST(Jobs, BackoffGrowsWithJitterAndStopsAtItsCap) {
  const auto base = std::chrono::milliseconds(1000), cap = std::chrono::milliseconds(60000);
  for (int n = 1; n <= 12; ++n) {
    const double expected = std::min(1000.0 * (1 << (n - 1)), 60000.0);
    const auto d = backoff_delay(base, cap, n).count();
    EXPECT_GE(d, expected * 0.8 - 1) << n;
    EXPECT_LE(d, expected * 1.2 + 1) << n;
  }
}

}  // namespace
}  // namespace kioku
