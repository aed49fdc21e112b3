// The Engine: what its sessions share (vector indexes, the embedder, the
// settings snapshot) and the background round.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "app/app_context.h"
#include "app/engine.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

EnvLookup no_env() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

std::shared_ptr<Engine> hashing_engine(const testing::TempDir& dir) {
  std::filesystem::create_directories(dir / "data");
  std::ofstream(dir / "data" / "config.toml") << "[embed]\nprovider = \"hashing\"\n[backup]\ninterval_hours = 0\n";
  return Engine::open(EngineOptions{dir / "data", "", no_env()});
}

std::vector<SearchResult> vector_search(AppContext& s, const std::string& q) {
  SearchOptions o;
  o.mode = SearchMode::kVector;
  o.filter.user_id = s.user_id();
  o.record_access = false;
  return s.searcher().search(q, o);
}

// Regression: a session that loaded its vector index before a memory was
// added (the Telegram bot's, the chat context's) finds it once any session
// of the engine has embedded it, without reopening anything.
TEST(Engine, SessionsShareVectorIndexesThatGrowIncrementally) {
  testing::TempDir dir;
  auto engine = hashing_engine(dir);
  auto reader = engine->open_session();
  reader->ensure_initialized();
  EXPECT_TRUE(vector_search(*reader, "volcano documentary").empty());  // index loaded, empty

  {
    auto writer = engine->session();
    Memory m;
    m.user_id = writer->user_id();
    m.content = "We watched a volcano documentary in Iceland";
    writer->memories().add(m);
  }
  EXPECT_EQ(engine->run_background(std::chrono::seconds(5)).embedded, 1);
  auto hits = vector_search(*reader, "volcano documentary");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_NE(hits[0].memory.content.find("Iceland"), std::string::npos);
  EXPECT_EQ(reader->embedder(), engine->embedder()) << "one model for every session";
}

TEST(Engine, ConcurrentSessionsSearchWhileVectorsAreWritten) {
  testing::TempDir dir;
  auto engine = hashing_engine(dir);
  engine->session()->ensure_initialized();
  std::atomic<bool> done{false};
  std::atomic<int> searches{0}, failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done) {
        try {
          auto s = engine->session();
          vector_search(*s, "note about gardens");
          ++searches;
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    auto s = engine->session();
    Memory m;
    m.user_id = s->user_id();
    m.content = "note " + std::to_string(i) + " about gardens and roses";
    s->memories().add(m);
    s->searcher().index_pending(16);
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(searches, 0);
  auto s = engine->session();
  SearchOptions o;
  o.mode = SearchMode::kVector;
  o.limit = 500;
  o.filter.user_id = s->user_id();
  o.record_access = false;
  EXPECT_EQ(s->searcher().search("gardens roses", o).size(), 200u);
}

TEST(Engine, SettingsChangesReachNewSessionsOnly) {
  testing::TempDir dir;
  auto engine = hashing_engine(dir);
  auto before = engine->session();
  EXPECT_EQ(before->config().get_number("search.limit").value_or(10), 10);
  std::ofstream(dir / "data" / "config.toml", std::ios::app) << "[search]\nlimit = 3\n";
  engine->settings_changed();
  EXPECT_EQ(before->config().get_number("search.limit").value_or(10), 10) << "a session keeps its snapshot";
  auto fresh = engine->open_session();
  EXPECT_EQ(fresh->config().get_number("search.limit").value_or(10), 3);
}

}  // namespace
}  // namespace kioku

namespace kioku {
namespace {

// Issue 12: upkeep runs as scheduled jobs. One background round enqueues the
// hourly, daily and weekly slots once each, runs them, and records each run;
// the graph gets the entities of memories added before it.
TEST(Engine, MaintenanceRunsAsScheduledJobsAndIsRecorded) {
  testing::TempDir dir;
  auto engine = hashing_engine(dir);
  {
    auto s = engine->session();
    s->ensure_initialized();
    for (const char* text : {"Alice moved to Lisbon in March.", "Alice works at Acme Robotics with Bob.",
                             "Bob and Alice went hiking in Sintra."}) {
      Memory m;
      m.user_id = s->user_id();
      m.content = text;
      s->memories().add(m);
    }
  }
  std::vector<std::string> names;
  for (const auto& sched : engine->schedules()) names.push_back(sched.name);
  for (const char* want : {"maintain-hourly", "maintain-daily", "maintain-weekly"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;

  const auto first = engine->run_background(std::chrono::seconds(30));
  auto s = engine->session();
  for (const char* schedule : {"maintain-hourly", "maintain-daily", "maintain-weekly"}) {
    const auto runs = s->jobs().list_runs(schedule, 10);
    ASSERT_EQ(runs.size(), 1u) << schedule << " ran once in its slot";
    EXPECT_EQ(runs[0].status, "done") << schedule << ": " << runs[0].error;
  }
  const auto daily = s->jobs().list_runs("maintain-daily", 1);
  EXPECT_GE(daily[0].counts.value("memories_extracted", 0), 3) << daily[0].counts.dump();
  const auto alice = s->knowledge().entities_by_alias(s->user_id(), "alice");
  EXPECT_EQ(alice.size(), 1u) << "the graph knows Alice after the scheduled run";

  // The same slot is not run twice.
  engine->run_background(std::chrono::seconds(5));
  EXPECT_EQ(s->jobs().list_runs("maintain-daily", 10).size(), 1u);
  (void)first;
}

TEST(Engine, MaintenanceSchedulesCanBeTurnedOff) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "data");
  std::ofstream(dir / "data" / "config.toml")
      << "[embed]\nprovider = \"hashing\"\n[maintenance]\nweekly = false\n";
  auto engine = Engine::open(EngineOptions{dir / "data", "", no_env()});
  std::vector<std::string> names;
  for (const auto& sched : engine->schedules()) names.push_back(sched.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "maintain-daily"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "maintain-weekly"), names.end());
  std::ofstream(dir / "data" / "config.toml", std::ios::trunc)
      << "[embed]\nprovider = \"hashing\"\n[maintenance]\nenabled = false\n";
  auto off = Engine::open(EngineOptions{dir / "data", "", no_env()});
  for (const auto& sched : off->schedules()) EXPECT_EQ(sched.name.rfind("maintain-", 0), std::string::npos) << sched.name;
}

}  // namespace
}  // namespace kioku
