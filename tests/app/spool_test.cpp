// The write spool of the Engine (issue 14, "When the database is down"): on
// PostgreSQL, writes of user input taken while the database is unreachable
// wait in <data>/spool.db and are replayed by the background round, in
// order, each once. The "down" database is a URL whose socket does not
// exist; the one that comes back is the test server (ctest fixture
// `postgres`), reached by the same data directory with its URL.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "app/app_context.h"
#include "app/engine.h"
#include "app/write_spool.h"
#include "core/error.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/postgres.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

const std::string kDownUrl = "postgresql:///postgres?host=/nonexistent-kioku-socket-dir&user=kioku";

std::shared_ptr<Engine> engine_on(const testing::TempDir& dir, const std::string& url, bool spool_writes = true) {
  EngineOptions o;
  o.data_dir = dir / "data";
  const std::map<std::string, std::string> vars = {{"KIOKU_STORE_URL", url}, {"KIOKU_EMBED_PROVIDER", "hashing"}};
  o.env = [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  o.spool_writes = spool_writes;
  return Engine::open(std::move(o));
}

Memory note(AppContext& s, const std::string& content) {
  Memory m;
  m.user_id = s.user_id();
  m.content = content;
  return m;
}

ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;  // did not throw
}

int64_t count_with_content(AppContext& s, const std::string& content) {
  MemoryFilter f;
  f.user_id = s.user_id();
  f.approved = std::nullopt;
  int64_t n = 0;
  for (const auto& m : s.memories().list(f, ListOrder::kOldestFirst, 500, 0)) n += m.content == content;
  return n;
}

TEST(WriteSpool, TakesWritesWhileTheDatabaseIsDownAndTheStatusSaysSo) {
  testing::TempDir dir;
  auto down = engine_on(dir, kDownUrl);
  auto s = down->session();
  std::vector<std::string> ids;
  for (const char* content : {"the plumber comes on Tuesday", "Mia likes the blue bike", "call the bank"}) {
    const AddMemoryOutcome out = add_memory(*s, note(*s, content), true);
    EXPECT_TRUE(out.spooled);
    EXPECT_TRUE(out.created);
    EXPECT_EQ(out.memory.content, content);
    EXPECT_EQ(out.memory.id, out.id);
    ids.push_back(out.id);
  }
  EXPECT_LT(ids[0], ids[1]) << "ids decided in order (UUIDv7)";
  EXPECT_LT(ids[1], ids[2]);
  ASSERT_NE(down->spool(), nullptr);
  EXPECT_TRUE(down->spooling_writes());

  const auto status = status_document(*s, false);
  EXPECT_EQ(status["database"]["backend"], "postgresql");
  EXPECT_EQ(status["database"]["reachable"], false);
  EXPECT_NE(status["database"]["error"].get<std::string>().find("cannot connect"), std::string::npos) << status;
  EXPECT_EQ(status["spool"]["pending"], 3);
  EXPECT_EQ(status["spool"]["given_up"], 0);
  EXPECT_EQ(status["spool"]["active"], true);
  EXPECT_TRUE(status["spool"]["oldest_pending"].is_string());
  EXPECT_FALSE(status.contains("memories")) << "no counts without the database";

  // Reads fail with the clear error they always had (HTTP 503).
  EXPECT_EQ(code_of([&] { s->memories().get(s->user_id(), ids[0]); }), ErrorCode::kUnavailable);
  // The chat: the message is spooled before any AI step, the turn queued.
  const auto turn = spool_chat_if_down(*s, "are you there?");
  ASSERT_TRUE(turn.has_value());
  EXPECT_TRUE(turn->queued);
  EXPECT_FALSE(turn->user_memory_id.empty());
  EXPECT_EQ(down->spool()->counts().pending, 4);

  // A one-shot command (no spooling) fails at once instead, so its user knows.
  auto cli = engine_on(dir, kDownUrl, /*spool_writes=*/false);
  auto c = cli->session();
  EXPECT_EQ(code_of([&] { add_memory(*c, note(*c, "not taken"), true); }), ErrorCode::kUnavailable);
  EXPECT_FALSE(spool_chat_if_down(*c, "nor this").has_value());
  // ... but its status shows what waits in the data directory's spool.
  EXPECT_EQ(status_document(*c, false)["spool"]["pending"], 4);

  // On SQLite nothing is spooled: there is no database to be down.
  testing::TempDir local;
  auto sqlite = Engine::open(
      EngineOptions{local / "data", "", [](const std::string&) -> std::optional<std::string> { return std::nullopt; }});
  auto l = sqlite->session();
  EXPECT_EQ(sqlite->spool(), nullptr);
  EXPECT_FALSE(add_memory(*l, note(*l, "kept locally"), true).spooled);
  EXPECT_EQ(status_document(*l, false)["database"]["backend"], "sqlite");
  EXPECT_FALSE(std::filesystem::exists(local / "data" / "spool.db"));
}

TEST(WriteSpool, ReplaysInOrderOnceEvenAfterACrashBetweenInsertAndDelete) {
  testing::PgSchema schema("spool_replay");
  KIOKU_REQUIRE_PG(schema);
  testing::TempDir dir;
  std::vector<std::string> ids;
  std::string chat_id;
  const std::vector<std::string> contents = {"first while down", "second while down", "third while down",
                                             "fourth while down"};
  {
    auto down = engine_on(dir, kDownUrl);
    auto s = down->session();
    ids.push_back(add_memory(*s, note(*s, contents[0]), true).id);
    ids.push_back(add_memory(*s, note(*s, contents[1]), false).id);
    // A write the database will refuse for good (a link to nothing): it is
    // kept aside, the ones behind it are replayed.
    Memory linked = note(*s, "linked to nothing");
    linked.relations.push_back({"no-such-memory", RelationKind::kRelated});
    add_memory(*s, linked, false);
    chat_id = spool_chat_if_down(*s, "hello while down")->user_memory_id;
    ids.push_back(add_memory(*s, note(*s, contents[2]), false).id);
    ids.push_back(add_memory(*s, note(*s, contents[3]), false).id);
  }

  auto up = engine_on(dir, schema.url());
  auto s = up->session();
  // A replay that stored the first write and died before deleting its row.
  auto raw = open_sqlite_spool_store(dir / "data" / "spool.db");
  const auto rows = raw->pending(10);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].id, ids[0]);
  replay_spooled_write(*s, rows[0]);
  ASSERT_EQ(count_with_content(*s, contents[0]), 1);

  // Another process holds the replay lease: this one waits.
  ASSERT_TRUE(raw->acquire_lease("another-process", system_time().now(), std::chrono::seconds(60)));
  up->run_background(std::chrono::seconds(5));
  EXPECT_EQ(raw->counts().pending, 6) << "nothing replayed under another's lease";
  EXPECT_TRUE(up->spooling_writes()) << "new writes still queue behind the spooled ones";
  raw->release_lease("another-process");

  const auto report = up->run_background(std::chrono::seconds(5));
  std::string lines;
  for (const auto& l : report.lines) lines += l + "\n";
  EXPECT_EQ(raw->counts().pending, 0) << lines;
  EXPECT_EQ(raw->counts().given_up, 1) << lines;
  EXPECT_NE(lines.find("given up"), std::string::npos) << lines;
  EXPECT_FALSE(up->spooling_writes()) << lines;

  // Each write once, under the id its client was given, in the spool's order.
  for (size_t i = 0; i < contents.size(); ++i) {
    EXPECT_EQ(count_with_content(*s, contents[i]), 1) << contents[i];
    const auto m = s->memories().get(s->user_id(), ids[i]);
    ASSERT_TRUE(m.has_value()) << contents[i];
    EXPECT_EQ(m->content, contents[i]);
    EXPECT_EQ(m->confidence.corroboration_count, 0) << "not added a second time";
    if (i > 0) {
      EXPECT_GE(m->created_at, s->memories().get(s->user_id(), ids[i - 1])->created_at) << "the time it was taken";
    }
  }
  EXPECT_EQ(count_with_content(*s, "linked to nothing"), 0);
  const auto chat = s->memories().get(s->user_id(), chat_id);
  ASSERT_TRUE(chat.has_value());
  EXPECT_EQ(chat->type, "chat");
  EXPECT_EQ(chat->metadata.value("role", ""), "user");
  JobFilter replies;
  replies.kind = "chat_reply";
  auto jobs = s->jobs().list(replies);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].payload.value("memory_id", ""), chat_id);
  // Replayed again (a crash before its delete): still one message, one reply job.
  SpooledWrite again = rows[3];
  ASSERT_EQ(again.id, chat_id);
  replay_spooled_write(*s, again);
  EXPECT_EQ(s->jobs().list(replies).size(), 1u);

  // And then as usual: embedded by the same background work, new writes
  // go straight to the database.
  up->run_background(std::chrono::seconds(5));
  EXPECT_EQ(s->memories().count_missing_embeddings(up->embedder()->model_id()), 0);
  const AddMemoryOutcome direct = add_memory(*s, note(*s, "after the outage"), true);
  EXPECT_FALSE(direct.spooled);
  EXPECT_TRUE(direct.created);
  EXPECT_EQ(status_document(*s, false)["database"]["reachable"], true);
  EXPECT_EQ(status_document(*s, false)["spool"]["pending"], 0);
}

}  // namespace
}  // namespace kioku
