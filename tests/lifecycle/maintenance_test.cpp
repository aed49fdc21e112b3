// Maintenance runs: summaries, weekly review, cold storage; a run stopped
// in the middle (the process dies: no destructors, no rollback) loses
// nothing and the next run finishes it; `kioku maintain --daily` killed
// with SIGKILL, then rerun; the CLI's graph and memory commands.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "core/error.h"
#include "embed/hashing_embedder.h"
#include "lifecycle/graph_builder.h"
#include "lifecycle/maintenance.h"
#include "search/searcher.h"
#include "store/knowledge.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

using std::chrono::hours;
TimePoint at(const char* iso) { return *parse_iso8601(iso); }
const TimePoint kStart = at("2026-03-02T09:00:00Z");

struct Rig {
  explicit Rig(const std::filesystem::path& dir, TimePoint now = kStart)
      : clock(now),
        memories(open_sqlite_memory_store(dir / "memory.db", clock)),
        knowledge(open_sqlite_knowledge_store(dir / "memory.db", clock)),
        searcher(*memories, &embedder, clock) {}
  FakeTimeSource clock;
  std::unique_ptr<MemoryStore> memories;
  std::unique_ptr<KnowledgeStore> knowledge;
  HashingEmbedder embedder;
  Searcher searcher;
  MaintenanceReport run(Period p, MaintenanceOptions o = {}) {
    return run_maintenance(p, clock, {*memories, *knowledge, &embedder, &searcher, nullptr}, o);
  }
};

Memory chat(const std::string& text, const char* role, TimePoint when) {
  Memory m;
  m.type = "chat";
  m.content = text;
  m.source = Source::kConversation;
  m.metadata = {{"role", role}};
  m.event_time = when;
  m.created_at = when;
  return m;
}

// A few hundred memories with names, places, duplicates and old chats.
void fill(const std::filesystem::path& dir) {
  Rig rig(dir);
  std::vector<Memory> batch;
  const char* cities[] = {"Osaka", "Kyoto", "Nagoya", "Sapporo", "Fukuoka", "Sendai", "Kobe"};
  for (int i = 0; i < 240; ++i) {
    Memory m;
    m.content = "Friend" + std::string(1, static_cast<char>('A' + i % 20)) + " moved to " + cities[i % 7] + " in " +
                std::to_string(2000 + i) + ".";
    m.event_time = kStart - hours(24 * (300 - i));
    batch.push_back(m);
  }
  for (int i = 0; i < 12; ++i) {
    Memory a, b;
    a.content = "remember the storage unit code " + std::to_string(1000 + i);
    b.content = "Remember the storage unit code " + std::to_string(1000 + i) + "!";
    a.event_time = kStart - hours(24 * 20) + std::chrono::minutes(2 * i);
    b.event_time = a.event_time + std::chrono::minutes(1);
    batch.push_back(a);
    batch.push_back(b);
  }
  const TimePoint old = kStart - hours(24 * 10);
  for (int s = 0; s < 3; ++s)
    for (int t = 0; t < 4; ++t)
      batch.push_back(chat("Session " + std::to_string(s) + " message " + std::to_string(t) + ": we talked about the trip to Kyoto and the ryokan.",
                           t % 2 ? "assistant" : "user", old + hours(3 * s) + std::chrono::minutes(2 * t)));
  rig.memories->add_batch(batch);
}

struct Snapshot {
  int64_t memories = 0;
  std::set<std::string> entities;
  std::multiset<std::string> facts;
  std::multiset<std::string> tiers;
  int64_t merged = 0;
  int64_t summaries = 0;
  int64_t unextracted = 0;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const std::filesystem::path& dir) {
  Rig rig(dir);
  Snapshot s;
  MemoryFilter all;
  all.approved.reset();
  s.memories = rig.memories->count(all);
  for (const auto& e : rig.knowledge->list_entities("local", "", 100000)) {
    EXPECT_TRUE(s.entities.insert(e.kind + ":" + e.name).second) << "entity twice: " << e.name;
  }
  FactQuery q;
  q.include_retired = true;
  q.limit = 100000;
  for (const auto& f : rig.knowledge->facts(q))
    s.facts.insert(describe_fact(f) + (f.invalidated_at ? " retired" : "") + (f.revision_of.empty() ? "" : " copy"));
  for (const auto& m : rig.memories->list(all, ListOrder::kOldestFirst, 100000, 0)) {
    s.tiers.insert(std::string(to_string(m.tier)) + ":" + m.content);
    s.merged += rig.knowledge->lifecycle(m.id).merged_into.empty() ? 0 : 1;
    s.summaries += m.type == "session_summary" ? 1 : 0;
  }
  s.unextracted = static_cast<int64_t>(rig.knowledge->unextracted("local", 100000).size());
  return s;
}

TEST(Maintenance, SessionSummariesOncePerOldConversation) {
  testing::TempDir dir;
  fill(dir.path());
  Rig rig(dir.path());
  MaintenanceReport r = rig.run(Period::kDaily);
  EXPECT_EQ(r.sessions_summarised, 3);
  MemoryFilter f;
  f.types = {"session_summary"};
  auto summaries = rig.memories->list(f, ListOrder::kOldestFirst, 10, 0);
  ASSERT_EQ(summaries.size(), 3u);
  EXPECT_NE(summaries[0].content.find("Kyoto"), std::string::npos);
  EXPECT_EQ(summaries[0].metadata["summariser"], "extractive");
  EXPECT_EQ(summaries[0].metadata["message_ids"].size(), 4u);
  EXPECT_EQ(summaries[0].relations.size(), 4u);
  MemoryFilter chats;
  chats.types = {"chat"};
  EXPECT_EQ(rig.memories->count(chats), 12) << "the conversation itself stays";
  EXPECT_EQ(rig.run(Period::kDaily).sessions_summarised, 0);
  EXPECT_EQ(r.duplicates_merged, 12);
}

TEST(Maintenance, WeeklyReviewIsAJournalWrittenOnceAndColdStorageKeepsFullText) {
  testing::TempDir dir;
  Rig rig(dir.path());
  Memory old;
  old.content = "The old bicycle lock combination is 4471.";
  old.event_time = old.created_at = kStart - hours(24 * 100);
  const std::string old_id = rig.memories->add(old).id;
  Memory fresh;
  fresh.content = "Hana lives in Osaka.";
  fresh.event_time = kStart - hours(24 * 400);
  rig.memories->add(fresh);
  rig.clock.advance(hours(1));
  Memory moved;
  moved.content = "Hana moved to Kyoto.";
  rig.memories->add(moved);
  rig.run(Period::kDaily);
  rig.searcher.index_pending(100);
  EXPECT_EQ(rig.memories->embedding_ids(rig.embedder.model_id(), "local").size(), 3u);

  MaintenanceReport w = rig.run(Period::kWeekly);
  ASSERT_EQ(w.reviews.size(), 1u);
  auto journal = rig.memories->get_journal("local", w.reviews[0]);
  ASSERT_TRUE(journal);
  EXPECT_NE(journal->body.find("## What was learned"), std::string::npos);
  EXPECT_NE(journal->body.find("Hana lives in Kyoto"), std::string::npos);
  EXPECT_NE(journal->body.find("## Contradictions found"), std::string::npos);
  EXPECT_NE(journal->body.find("no longer current: Hana lives in Osaka"), std::string::npos) << journal->body;
  EXPECT_EQ(w.memories_cold, 1) << "the lock code, stored 100 days ago (Osaka happened long ago but was stored today)";
  EXPECT_TRUE(rig.knowledge->lifecycle(old_id).cold_since);
  EXPECT_EQ(rig.memories->embedding_ids(rig.embedder.model_id(), "local").size(), 2u) << "out of the hot vector index";
  MemoryFilter all;
  auto hits = rig.memories->search_text({"bicycle"}, all, 10);
  ASSERT_EQ(hits.size(), 1u) << "still found by full text";
  EXPECT_EQ(hits[0].id, old_id);
  rig.searcher.index_pending(100);  // the review journal gets its vector; the cold memory does not come back
  auto hot = rig.memories->embedding_ids(rig.embedder.model_id(), "local");
  EXPECT_EQ(std::find(hot.begin(), hot.end(), old_id), hot.end());
  EXPECT_EQ(rig.memories->count_missing_embeddings(rig.embedder.model_id()), 0);

  MaintenanceReport again = rig.run(Period::kWeekly);
  EXPECT_TRUE(again.reviews.empty()) << "one review per week";
  EXPECT_EQ(again.memories_cold, 0);
  EXPECT_EQ(rig.memories->list_journals("local", 10).size(), 1u);
}

class DailyCrash : public ::testing::TestWithParam<std::pair<const char*, int>> {};

// The process dies in the middle of a step of the daily run.
TEST_P(DailyCrash, TheNextRunFinishesWhatWasLeftAndLosesNothing) {
  const auto [step, after] = GetParam();
  testing::TempDir reference, crashed;
  fill(reference.path());
  fill(crashed.path());
  {
    MaintenanceReport r = Rig(reference.path(), kStart + hours(24 * 4)).run(Period::kDaily);
    ASSERT_TRUE(r.errors.empty()) << r.to_json().dump();
  }
  const Snapshot before = snapshot(crashed.path());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Rig rig(crashed.path(), kStart + hours(24 * 4));
    MaintenanceOptions o;
    const std::string wanted = step;
    o.on_progress = [&](std::string_view s, int64_t done) {
      if (s == wanted && done >= after) _exit(42);
    };
    rig.run(Period::kDaily, o);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 42) << "the crash point was not reached";
  const Snapshot midway = snapshot(crashed.path());
  EXPECT_GE(midway.memories, before.memories) << "nothing the user wrote is lost";
  {
    // The rerun comes an hour later, as the next scheduled run would. (It
    // must not share the crashed child's millisecond: a forked child starts
    // with this process's random state, so both would make the same ids.)
    MaintenanceReport rerun = Rig(crashed.path(), kStart + hours(24 * 4 + 1)).run(Period::kDaily);
    EXPECT_TRUE(rerun.errors.empty()) << rerun.to_json().dump();
  }
  const Snapshot finished = snapshot(crashed.path());
  const Snapshot expected = snapshot(reference.path());
  EXPECT_EQ(finished.memories, expected.memories);
  EXPECT_EQ(finished.entities, expected.entities);
  EXPECT_EQ(finished.facts, expected.facts);
  EXPECT_EQ(finished.tiers, expected.tiers);
  EXPECT_EQ(finished.merged, expected.merged);
  EXPECT_EQ(finished.summaries, expected.summaries);
  EXPECT_LE(finished.unextracted, finished.summaries) << "only new summaries wait for the next run";
  EXPECT_EQ(expected.merged, 12);
  EXPECT_EQ(expected.summaries, 3);
}

INSTANTIATE_TEST_SUITE_P(Steps, DailyCrash,
                         ::testing::Values(std::make_pair("extract", 100), std::make_pair("merge", 5),
                                           std::make_pair("promote", 20), std::make_pair("summarise", 1)),
                         [](const auto& info) { return std::string(info.param.first); });

// ---------- the kioku binary ----------

struct Cli {
  testing::TempDir dir;
  std::map<std::string, std::string> env = {{"KIOKU_EMBED_PROVIDER", "hashing"}};
  testing::RunResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--data-dir", (dir / "data").string()});
    return testing::run_binary(KIOKU_BINARY, args, dir / "work", env);
  }
};

TEST(MaintainCli, KilledWithSigkillMidRunThenRerunFinishes) {
  Cli cli;
  ASSERT_EQ(cli.run({"init"}).exit_code, 0);
  const int n = 3000;
  {
    FakeTimeSource clock(kStart - hours(24 * 5));
    auto store = open_sqlite_memory_store(cli.dir / "data" / "memory.db", clock);
    std::vector<Memory> batch;
    for (int i = 0; i < n; ++i) {
      Memory m;
      m.content = "Person" + std::to_string(i % 500) + " moved to Town" + std::to_string(i % 97) + " on day " +
                  std::to_string(i) + ".";
      batch.push_back(m);
    }
    store->add_batch(batch);
  }
  const std::string data = (cli.dir / "data").string();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("KIOKU_EMBED_PROVIDER", "hashing", 1);
    unsetenv("KIOKU_LLM_PROVIDER");
    execl(KIOKU_BINARY, "kioku", "--data-dir", data.c_str(), "maintain", "--daily", static_cast<char*>(nullptr));
    _exit(127);
  }
  {
    auto knowledge = open_sqlite_knowledge_store(cli.dir / "data" / "memory.db");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (knowledge->unextracted("local", n).size() < static_cast<size_t>(n)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed (exit " << WEXITSTATUS(status) << ")";
  {
    auto store = open_sqlite_memory_store(cli.dir / "data" / "memory.db");
    auto knowledge = open_sqlite_knowledge_store(cli.dir / "data" / "memory.db");
    MemoryFilter all;
    EXPECT_EQ(store->count(all), n);
    const size_t left = knowledge->unextracted("local", n).size();
    EXPECT_GT(left, 0u) << "killed before the extraction finished";
  }
  auto rerun = cli.run({"--json", "maintain", "--daily"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  auto report = nlohmann::json::parse(rerun.out);
  EXPECT_GT(report["memories_extracted"].get<int>(), 0);
  auto store = open_sqlite_memory_store(cli.dir / "data" / "memory.db");
  auto knowledge = open_sqlite_knowledge_store(cli.dir / "data" / "memory.db");
  MemoryFilter all;
  EXPECT_EQ(store->count(all), n);
  EXPECT_TRUE(knowledge->unextracted("local", n).empty());
  std::set<std::string> names;
  for (const auto& e : knowledge->list_entities("local", "", 100000))
    EXPECT_TRUE(names.insert(e.kind + ":" + e.name).second) << "entity twice: " << e.name;
  EXPECT_EQ(names.size(), 500u + 97u + 1u) << "people, towns and the user";
}

TEST(MaintainCli, GraphMemoryWhyAndGetJson) {
  Cli cli;
  ASSERT_EQ(cli.run({"add", "My sister Hana moved to Osaka in 2019.", "--at", "2020-01-05"}).exit_code, 0);
  ASSERT_EQ(cli.run({"add", "Hana Tanaka moved from Osaka to Kyoto in April 2024.", "--at", "2024-04-10"}).exit_code, 0);
  auto m = cli.run({"--json", "maintain", "--hourly"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(nlohmann::json::parse(m.out)["memories_extracted"], 2);

  auto entities = cli.run({"--json", "graph", "entities"});
  ASSERT_EQ(entities.exit_code, 0) << entities.err;
  std::set<std::string> names;
  for (const auto& e : nlohmann::json::parse(entities.out)) names.insert(e["name"]);
  EXPECT_EQ(names, (std::set<std::string>{"Hana", "Osaka", "Kyoto", "me"}));

  auto in_2023 = cli.run({"--json", "graph", "facts", "Hana-chan", "--at", "2023-06-01"});
  ASSERT_EQ(in_2023.exit_code, 0) << in_2023.err;
  std::set<std::string> objects;
  const nlohmann::json in_2023_json = nlohmann::json::parse(in_2023.out);
  for (const auto& f : in_2023_json["facts"])
    if (f["predicate"] == "lives_in") objects.insert(f["object"]);
  EXPECT_EQ(objects, std::set<std::string>{"Osaka"});
  auto now = cli.run({"graph", "facts", "my sister Hana"});
  EXPECT_NE(now.out.find("Hana lives in Kyoto (since 2024-04-01)"), std::string::npos) << now.out;
  auto show = cli.run({"graph", "show", "Hana"});
  EXPECT_NE(show.out.find("Hana Tanaka"), std::string::npos) << show.out;
  EXPECT_EQ(cli.run({"graph", "show", "Nobody"}).exit_code, exit_code(ErrorCode::kNotFound));
  EXPECT_NE(cli.run({"graph", "facts", "Hana", "--at", "not a date"}).exit_code, 0);

  auto list = cli.run({"--json", "list"});
  std::string first_id;
  for (const auto& x : nlohmann::json::parse(list.out))
    if (x["content"].get<std::string>().starts_with("My sister")) first_id = x["id"];
  ASSERT_FALSE(first_id.empty());
  auto get = cli.run({"--json", "get", first_id});
  auto g = nlohmann::json::parse(get.out);
  EXPECT_EQ(g["confidence"]["contradiction_count"], 1) << "the move contradicted where she lived";
  ASSERT_TRUE(g.contains("lifecycle"));
  EXPECT_TRUE(g["lifecycle"]["tier_history"].empty());
  auto validate = cli.run({"memory", "validate", first_id});
  ASSERT_EQ(validate.exit_code, 0) << validate.err;
  auto why = cli.run({"memory", "why", first_id});
  EXPECT_NE(why.out.find("short_term -> long_term  by short_to_long:validated"), std::string::npos) << why.out;
  auto get2 = nlohmann::json::parse(cli.run({"--json", "get", first_id}).out);
  EXPECT_EQ(get2["tier"], "long_term");
  EXPECT_EQ(get2["lifecycle"]["tier_history"][0]["rule"], "short_to_long:validated");

  EXPECT_EQ(cli.run({"maintain"}).exit_code, exit_code(ErrorCode::kInvalidInput));
  auto weekly = cli.run({"--json", "maintain", "--weekly"});
  ASSERT_EQ(weekly.exit_code, 0) << weekly.err;
  EXPECT_EQ(nlohmann::json::parse(weekly.out)["reviews"].size(), 1u);
  auto archive = cli.run({"--json", "memory", "archive"});
  EXPECT_EQ(nlohmann::json::parse(archive.out).size(), 0u);
}

}  // namespace
}  // namespace kioku
