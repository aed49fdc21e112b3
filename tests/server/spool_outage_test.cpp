// The database-down test (issue 14, "When the database is down"): `kioku
// serve` on a PostgreSQL server of this test's own, clients writing
// memories in a loop, the server stopped (pg_ctl stop -m fast) in the middle
// of the load and started again. Every write answered with success must be
// in the database exactly once, under the id its client was given; none
// answered with an error may be there twice.
#include <gtest/gtest.h>
#include <httplib.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "testing/background_process.h"
#include "testing/postgres.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A throw-away server (scripts/pg-test-server) that this test stops and
// starts; removed at scope exit.
class OwnPostgres {
 public:
  explicit OwnPostgres(const std::filesystem::path& work) : work_(work), dir_(work / "pg") {}
  ~OwnPostgres() { script("stop"); }
  testing::RunResult script(const std::string& command) {
    return testing::run_binary(KIOKU_PG_TEST_SERVER, {command, dir_.string()}, work_ / "script");
  }
  std::string url() const { return "postgresql:///postgres?host=" + (dir_ / "run").string() + "&user=kioku"; }

 private:
  std::filesystem::path work_, dir_;
};

struct Answer {
  std::string content;
  int status = 0;  // 0: no answer (connection failed)
  std::string id;
  int phase = 0;  // 0 before the outage, 1 while down, 2 once the spool was replayed
};

json get_json(httplib::Client& c, const std::string& path) {
  auto res = c.Get(path);
  if (!res || res->status != 200) return json();
  auto j = json::parse(res->body, nullptr, false);
  return j.is_discarded() ? json() : j;
}

TEST(DatabaseOutage, EveryWriteAnsweredWithSuccessIsStoredOnce) {
  testing::TempDir work;
  OwnPostgres pg(work.path());
  const auto started = pg.script("start");
  if (started.exit_code != 0 || started.out.find("postgresql://") == std::string::npos) {
    if (testing::running_in_ci()) FAIL() << "cannot start PostgreSQL: " << started.err;
    GTEST_SKIP() << "cannot start PostgreSQL: " << started.err;
  }
  const std::map<std::string, std::string> env = {
      {"KIOKU_HOME", (work / "data").string()}, {"KIOKU_STORE_URL", pg.url()}, {"KIOKU_EMBED_PROVIDER", "hashing"}};
  // Upkeep merges near-duplicates, and these writes differ by a number only.
  std::filesystem::create_directories(work / "data");
  std::ofstream(work / "data" / "config.toml") << "[maintenance]\nenabled = false\n";
  testing::BackgroundProcess serve(KIOKU_BINARY, {"serve", "--port", "0", "--json"}, work / "serve", env);
  std::string out;
  ASSERT_TRUE(testing::BackgroundProcess::wait_for([&] { return (out = serve.out()).find('\n') != std::string::npos; },
                                                   seconds(30)))
      << serve.err();
  const int port = json::parse(out.substr(0, out.find('\n')))["port"].get<int>();
  const std::string token = testing::slurp(work / "data" / "token").substr(0, 64);
  auto client = [&] {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_bearer_token_auth(token);
    c->set_read_timeout(seconds(20));
    return c;
  };

  std::atomic<bool> stop{false};
  std::atomic<int> phase{0};
  std::mutex answers_mutex;
  std::vector<Answer> answers;
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      auto c = client();
      for (int i = 0; !stop; ++i) {
        Answer a;
        a.content = "outage write " + std::to_string(t) + "-" + std::to_string(i);
        a.phase = phase;
        auto res = c->Post("/api/memory", json{{"content", a.content}}.dump(), "application/json");
        if (res) {
          a.status = res->status;
          auto body = json::parse(res->body, nullptr, false);
          if (!body.is_discarded() && body.contains("id")) a.id = body["id"].get<std::string>();
        }
        {
          std::lock_guard lock(answers_mutex);
          answers.push_back(std::move(a));
        }
        std::this_thread::sleep_for(milliseconds(10));
      }
    });
  }
  auto finish = [&] {
    stop = true;
    for (auto& w : writers) w.join();
    writers.clear();
  };

  std::this_thread::sleep_for(milliseconds(1500));
  const auto halted = pg.script("halt");
  phase = 1;
  if (halted.exit_code != 0) finish();
  ASSERT_EQ(halted.exit_code, 0) << halted.err;
  std::this_thread::sleep_for(seconds(3));

  // While it is down: writes are taken, the status says so.
  auto status_client = client();
  const json down = get_json(*status_client, "/api/status");
  EXPECT_EQ(down["database"]["reachable"], false) << down;
  EXPECT_GT(down["spool"]["pending"].get<int64_t>(), 0) << down;
  const auto read = status_client->Get("/api/memory?limit=5");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 503) << "reads fail clearly: " << read->body;
  EXPECT_NE(read->body.find("\"code\""), std::string::npos) << read->body;

  const auto restarted = pg.script("start");
  if (restarted.exit_code != 0) finish();
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  json up;
  const bool replayed = testing::BackgroundProcess::wait_for(
      [&] {
        up = get_json(*status_client, "/api/status");
        return up["database"]["reachable"] == true && up["spool"]["pending"] == 0 && up["spool"]["active"] == false;
      },
      seconds(20));
  phase = 2;
  std::this_thread::sleep_for(milliseconds(500));  // and writes go straight to the database again
  finish();
  ASSERT_TRUE(replayed) << up << "\n" << serve.err().substr(0, 4000);
  // Then embedded by the background work as usual.
  EXPECT_TRUE(testing::BackgroundProcess::wait_for(
      [&] { return get_json(*status_client, "/api/status")["queues"]["embeddings_pending"] == 0; }, seconds(20)));
  EXPECT_EQ(serve.stop(), 0);

  // What the database holds, by content.
  PGconn* db = PQconnectdb(pg.url().c_str());
  ASSERT_EQ(PQstatus(db), CONNECTION_OK) << PQerrorMessage(db);
  // Contents are unique, so a write applied twice would show as a second row
  // or (deduplicated on content) as a corroboration.
  PGresult* r = PQexec(db, "SELECT content, id, corroboration_count FROM memories WHERE content LIKE 'outage write %'");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(db);
  std::map<std::string, std::vector<std::string>> ids_by_content;
  for (int i = 0; i < PQntuples(r); ++i) {
    ids_by_content[PQgetvalue(r, i, 0)].push_back(PQgetvalue(r, i, 1));
    EXPECT_STREQ(PQgetvalue(r, i, 2), "0") << PQgetvalue(r, i, 0) << " was written twice";
  }
  PQclear(r);
  PQfinish(db);

  int created = 0, spooled = 0, failed = 0, direct_after = 0;
  for (const auto& a : answers) {
    const auto it = ids_by_content.find(a.content);
    const size_t stored = it == ids_by_content.end() ? 0 : it->second.size();
    if (a.status == 201 || a.status == 202) {
      EXPECT_EQ(stored, 1u) << a.content << " answered " << a.status;
      if (stored == 1) EXPECT_EQ(it->second[0], a.id) << a.content << ": stored under the id its client got";
      (a.status == 201 ? created : spooled)++;
      if (a.status == 201 && a.phase == 2) ++direct_after;
    } else {
      EXPECT_LE(stored, 1u) << a.content << " answered " << a.status;
      ++failed;
    }
  }
  for (const auto& [content, ids] : ids_by_content) EXPECT_EQ(ids.size(), 1u) << content;
  std::cout << "writes: " << answers.size() << " (201: " << created << ", 202 spooled: " << spooled
            << ", errors: " << failed << ", 201 after the replay: " << direct_after << ")\n";
  EXPECT_GT(spooled, 0) << "the outage took writes into the spool";
  EXPECT_GT(direct_after, 0) << "after the replay, writes go straight to the database";
  EXPECT_LT(failed, 20) << "an outage answers writes, it does not refuse them";
}

}  // namespace
}  // namespace kioku
