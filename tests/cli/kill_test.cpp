// kill -9 at random moments (issue 16): during an import, an add, a journal
// done, a server under load and uploads. A test fails on any acknowledged
// entry that is missing afterwards and on any entry stored twice. Each loop
// is bounded in time (a few seconds) and in cycles; the random moments come
// from a fixed seed so a failure can be replayed.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "testing/background_process.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

using Clock = std::chrono::steady_clock;
using testing::BackgroundProcess;

constexpr auto kLoopTime = std::chrono::seconds(4);

std::map<std::string, std::string> env_for(const std::filesystem::path& data) {
  return {{"KIOKU_HOME", data.string()}, {"KIOKU_EMBED_PROVIDER", "hashing"}};
}

testing::RunResult kioku(const std::filesystem::path& data, const std::vector<std::string>& args) {
  return testing::run_binary(KIOKU_BINARY, args, data.parent_path() / "cwd", env_for(data));
}

// Rows of memory.db read with plain SQLite (no Kioku code in between).
struct Rows {
  int64_t total = 0;
  int64_t distinct_hashes = 0;
  std::multiset<std::string> contents;
};

Rows read_rows(const std::filesystem::path& db, const std::string& where = "1=1") {
  Rows r;
  if (!std::filesystem::exists(db)) return r;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db;
    sqlite3_close(h);
    return r;
  }
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt* st = nullptr;
  const std::string sql = "SELECT content, content_hash FROM memories WHERE " + where;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    std::set<std::string> hashes;
    while (sqlite3_step(st) == SQLITE_ROW) {
      r.contents.insert(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
      // A hex SHA-256 is stored as its 32 bytes (memory.db v13): compare bytes.
      const auto* hash = static_cast<const char*>(sqlite3_column_blob(st, 1));
      hashes.insert(std::string(hash ? hash : "", static_cast<size_t>(sqlite3_column_bytes(st, 1))));
      ++r.total;
    }
    r.distinct_hashes = static_cast<int64_t>(hashes.size());
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return r;
}

class KillTest : public ::testing::Test {
 protected:
  std::mt19937 random{16};
  int delay_ms(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random); }
  testing::TempDir dir;
};

// 50 kill -9 cycles during 50k-row imports always left 0 or 50,000 rows: the
// import is one transaction.
TEST_F(KillTest, ImportIsAllOrNothing) {
  constexpr int kRows = 5000;
  std::string csv = "content,tags\n";
  for (int i = 0; i < kRows; ++i) csv += "row number " + std::to_string(i) + " of the killed import,bulk\n";
  const auto file = dir / "big.csv";
  std::ofstream(file) << csv;
  int cycles = 0, complete = 0, empty = 0;
  const auto until = Clock::now() + kLoopTime;
  while (Clock::now() < until && cycles < 10) {
    const auto data = dir / ("import-" + std::to_string(cycles)) / "data";
    std::filesystem::create_directories(data);
    {
      BackgroundProcess p(KIOKU_BINARY, {"import", file.string()}, data.parent_path() / "cwd", env_for(data));
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(20, 1200)));
      p.kill_hard();
    }
    const Rows rows = read_rows(data / "memory.db");
    EXPECT_TRUE(rows.total == 0 || rows.total == kRows) << "cycle " << cycles << ": " << rows.total << " rows";
    EXPECT_EQ(rows.total, rows.distinct_hashes) << "duplicates after cycle " << cycles;
    (rows.total == kRows ? complete : empty)++;
    ++cycles;
  }
  EXPECT_GE(cycles, 3);
  std::cout << "[ import ] " << cycles << " kill cycles: " << complete << " complete, " << empty << " empty\n";
}

// Every `kioku add` that printed its id is stored once; one killed before it
// answered is stored at most once.
TEST_F(KillTest, AddKeepsEveryAcknowledgedEntryOnce) {
  const auto data = dir / "add" / "data";
  ASSERT_EQ(kioku(data, {"init"}).exit_code, 0);
  std::set<std::string> acknowledged, attempted;
  int killed = 0;
  const auto until = Clock::now() + kLoopTime;
  for (int i = 0; Clock::now() < until && i < 200; ++i) {
    const std::string content = "added entry " + std::to_string(i);
    attempted.insert(content);
    BackgroundProcess p(KIOKU_BINARY, {"add", content, "--json"}, data.parent_path() / ("cwd" + std::to_string(i % 4)),
                        env_for(data));
    const bool kill_it = i % 2 == 1;
    const auto deadline = Clock::now() + std::chrono::milliseconds(kill_it ? delay_ms(1, 60) : 10000);
    while (!p.finished() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!p.finished()) {
      p.kill_hard();
      ++killed;
      continue;
    }
    if (p.exit_code() == 0 && p.out().find("\"id\"") != std::string::npos) acknowledged.insert(content);
  }
  const Rows rows = read_rows(data / "memory.db");
  for (const auto& c : acknowledged) EXPECT_EQ(rows.contents.count(c), 1u) << "lost or doubled: " << c;
  for (const auto& c : rows.contents) {
    EXPECT_TRUE(attempted.count(c)) << "unknown row " << c;
    EXPECT_EQ(rows.contents.count(c), 1u) << "stored twice: " << c;
  }
  EXPECT_GE(acknowledged.size(), 3u);
  std::cout << "[ add ] " << attempted.size() << " adds, " << killed << " killed, " << acknowledged.size()
            << " acknowledged, " << rows.total << " stored\n";
}

// journal done killed at a random moment, then a `journal add` (the entry
// of issue 16, defect 2) and another done: every entry ends in exactly one
// journal, none is lost.
TEST_F(KillTest, JournalDoneLosesAndDuplicatesNoEntry) {
  int cycles = 0, interrupted = 0;
  const auto until = Clock::now() + kLoopTime;
  while (Clock::now() < until && cycles < 8) {
    const auto data = dir / ("journal-" + std::to_string(cycles)) / "data";
    ASSERT_EQ(kioku(data, {"journal", "start"}).exit_code, 0);
    for (const char* e : {"alpha entry", "beta entry", "gamma entry"}) ASSERT_EQ(kioku(data, {"journal", "add", e}).exit_code, 0);
    {
      BackgroundProcess p(KIOKU_BINARY, {"journal", "done"}, data.parent_path() / "cwd", env_for(data));
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(5, 120)));
      if (!p.finished()) {
        p.kill_hard();
        ++interrupted;
      }
    }
    std::vector<std::string> expected = {"alpha entry", "beta entry", "gamma entry"};
    // After a crash the session may still be open: a late entry goes in too.
    auto status = nlohmann::json::parse(kioku(data, {"journal", "status", "--json"}).out);
    if (status["open"].get<bool>()) {
      ASSERT_EQ(kioku(data, {"journal", "add", "late entry"}).exit_code, 0);
      expected.push_back("late entry");
      auto done = kioku(data, {"journal", "done"});
      ASSERT_EQ(done.exit_code, 0) << done.err;
    }
    EXPECT_FALSE(nlohmann::json::parse(kioku(data, {"journal", "status", "--json"}).out)["open"].get<bool>());
    const Rows journals = read_rows(data / "memory.db", "type = 'journal'");
    for (const auto& entry : expected) {
      int found = 0;
      for (const auto& body : journals.contents) found += body.find(entry) != std::string::npos;
      EXPECT_EQ(found, 1) << "cycle " << cycles << ": '" << entry << "' is in " << found << " journals";
    }
    ++cycles;
  }
  EXPECT_GE(cycles, 2);
  std::cout << "[ journal done ] " << cycles << " cycles, " << interrupted << " killed mid-done\n";
}

// A started `kioku serve` with its port and token.
struct Served {
  std::unique_ptr<BackgroundProcess> process;
  int port = 0;
  std::string token;
};

Served serve(const std::filesystem::path& data, int port) {
  // Its own folder each time: a fresh stdout file cannot show an old port.
  static int started = 0;
  Served s;
  s.process = std::make_unique<BackgroundProcess>(
      KIOKU_BINARY, std::vector<std::string>{"serve", "--port", std::to_string(port), "--json", "--quiet", "--threads", "16"},
      data.parent_path() / ("serve-" + std::to_string(++started)), env_for(data));
  BackgroundProcess::wait_for([&] { return s.process->out().find("\"port\"") != std::string::npos; }, std::chrono::seconds(20));
  const std::string out = s.process->out();
  if (out.find("\"port\"") == std::string::npos) {
    ADD_FAILURE() << "kioku serve did not start: " << s.process->err();
    return s;
  }
  s.port = nlohmann::json::parse(out.substr(0, out.find('\n')))["port"].get<int>();
  s.token = testing::slurp(data / "token");
  while (!s.token.empty() && (s.token.back() == '\n' || s.token.back() == ' ')) s.token.pop_back();
  return s;
}

// Clients POST memories (and uploads) to `kioku serve`, which is killed -9
// mid-load and restarted on the same data; every 201 must be there after.
void load_and_kill(const std::filesystem::path& data, bool uploads, std::mt19937& random, int& acknowledged_total,
                   int& cycles) {
  std::set<std::string> acknowledged;
  std::mutex mutex;
  int port = 0;
  const auto until = Clock::now() + kLoopTime;
  for (cycles = 0; Clock::now() < until && cycles < 4; ++cycles) {
    Served s = serve(data, port);
    if (s.port == 0) return;
    port = s.port;  // the same port again: the old one is free at once after a kill
    std::atomic<bool> go{true};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&, t] {
        httplib::Client c("127.0.0.1", s.port);
        c.set_bearer_token_auth(s.token);
        c.set_connection_timeout(2);
        c.set_read_timeout(5);
        for (int i = 0; go; ++i) {
          const std::string content = "load " + std::to_string(cycles) + "-" + std::to_string(t) + "-" + std::to_string(i) +
                                      (uploads ? " uploaded note about herons" : " posted note");
          httplib::Result res = uploads ? c.Post("/api/upload", httplib::MultipartFormDataItems{{"file", content + "\n", "n.md", "text/markdown"}})
                                        : c.Post("/api/memory", nlohmann::json{{"content", content}}.dump(), "application/json");
          if (res && res->status == 201) {
            std::lock_guard<std::mutex> lock(mutex);
            acknowledged.insert(content);
          } else if (!res) {
            return;  // the server is gone
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 900)(random)));
    s.process->kill_hard();
    go = false;
    for (auto& c : clients) c.join();
  }
  // A clean start afterwards (it also sweeps interrupted uploads).
  {
    Served s = serve(data, 0);
    if (s.port) {
      httplib::Client c("127.0.0.1", s.port);
      c.set_bearer_token_auth(s.token);
      c.set_read_timeout(10);
      auto res = c.Get("/api/health");
      EXPECT_TRUE(res && res->status == 200) << (res ? res->body : httplib::to_string(res.error())) << "\n"
                                             << s.process->err();
    }
  }
  const Rows rows = read_rows(data / "memory.db");
  for (const auto& content : acknowledged) EXPECT_EQ(rows.contents.count(content), 1u) << "lost or doubled: " << content;
  EXPECT_EQ(rows.total, rows.distinct_hashes) << "duplicates";
  if (uploads) {
    // Every kept original belongs to a committed upload; nothing is left
    // half-way in .incoming.
    size_t kept = 0;
    for (const auto& e : std::filesystem::directory_iterator(data / "uploads")) kept += e.is_regular_file();
    EXPECT_LE(kept, static_cast<size_t>(rows.total));
    if (std::filesystem::exists(data / "uploads" / ".incoming")) {
      EXPECT_TRUE(std::filesystem::is_empty(data / "uploads" / ".incoming"));
    }
  }
  acknowledged_total = static_cast<int>(acknowledged.size());
}

TEST_F(KillTest, ServeUnderLoadKeepsEveryAcknowledgedPost) {
  const auto data = dir / "serve" / "data";
  ASSERT_EQ(kioku(data, {"init"}).exit_code, 0);
  int acknowledged = 0, cycles = 0;
  load_and_kill(data, false, random, acknowledged, cycles);
  EXPECT_GE(acknowledged, 20);
  std::cout << "[ serve ] " << cycles << " kill cycles, " << acknowledged << " acknowledged POSTs, all present\n";
}

TEST_F(KillTest, UploadsKeepEveryAcknowledgedFile) {
  const auto data = dir / "upload" / "data";
  ASSERT_EQ(kioku(data, {"init"}).exit_code, 0);
  int acknowledged = 0, cycles = 0;
  load_and_kill(data, true, random, acknowledged, cycles);
  EXPECT_GE(acknowledged, 10);
  std::cout << "[ upload ] " << cycles << " kill cycles, " << acknowledged << " acknowledged uploads, all present\n";
}

}  // namespace
}  // namespace kioku
