// SqliteSpoolStore (issue 14, "When the database is down"): spool.db keeps
// the writes taken while PostgreSQL is unreachable, in order, durably, with
// one replayer at a time.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/error.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

SpooledWrite write_of(const std::string& id, const std::string& content) {
  SpooledWrite w;
  w.kind = "memory";
  w.user_id = "ann";
  w.id = id;
  w.request = R"({"memory":{"content":")" + content + R"("}})";
  return w;
}

std::vector<std::string> pending_ids(SpoolStore& s) {
  std::vector<std::string> ids;
  for (const auto& w : s.pending(100)) ids.push_back(w.id);
  return ids;
}

TEST(SpoolStore, KeepsWritesInOrderAcrossReopens) {
  testing::TempDir dir;
  const auto file = dir / "spool.db";
  FakeTimeSource clock(from_millis(1'700'000'000'000));
  int64_t first = 0, last = 0;
  {
    auto s = open_sqlite_spool_store(file, clock);
    first = s->append(write_of("m1", "one"));
    clock.advance(std::chrono::milliseconds(5));
    s->append(write_of("m2", "two"));
    last = s->append(write_of("m3", "three"));
  }
  EXPECT_LT(first, last);
  auto s = open_sqlite_spool_store(file, clock);  // as after a restart
  const auto rows = s->pending(10);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(pending_ids(*s), (std::vector<std::string>{"m1", "m2", "m3"}));
  EXPECT_EQ(rows[0].user_id, "ann");
  EXPECT_EQ(rows[0].request, R"({"memory":{"content":"one"}})");
  EXPECT_EQ(to_millis(rows[0].spooled_at), 1'700'000'000'000);
  EXPECT_EQ(s->counts().pending, 3);
  EXPECT_EQ(to_millis(*s->counts().oldest_pending), 1'700'000'000'000);
  EXPECT_EQ(s->pending(2).size(), 2u);

  // Replayed rows go; a seq is never handed out twice, even for the newest.
  EXPECT_TRUE(s->remove(rows[2].seq));
  EXPECT_FALSE(s->remove(rows[2].seq)) << "already removed";
  const int64_t next = s->append(write_of("m4", "four"));
  EXPECT_GT(next, rows[2].seq);
  EXPECT_EQ(pending_ids(*s), (std::vector<std::string>{"m1", "m2", "m4"}));
  // A replayed batch goes at once; rows removed already do not count.
  EXPECT_EQ(s->remove(std::vector<int64_t>{rows[0].seq, rows[2].seq, next}), 2);
  EXPECT_EQ(pending_ids(*s), (std::vector<std::string>{"m2"}));
  EXPECT_THROW(s->append(write_of("", "no id")), Error);
}

TEST(SpoolStore, FailuresAreCountedAndGivenUpRowsLeaveTheQueue) {
  testing::TempDir dir;
  auto s = open_sqlite_spool_store(dir / "spool.db");
  const int64_t a = s->append(write_of("a", "alpha"));
  s->append(write_of("b", "beta"));
  s->note_failure(a, "database error: disk full", false);
  auto rows = s->pending(10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, "a") << "a retried row keeps its place";
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_EQ(rows[0].last_error, "database error: disk full");

  s->note_failure(a, "relation between unknown memories", true);
  EXPECT_EQ(pending_ids(*s), (std::vector<std::string>{"b"}));
  const SpoolCounts c = s->counts();
  EXPECT_EQ(c.pending, 1);
  EXPECT_EQ(c.given_up, 1);
  const auto kept = s->given_up(10);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].id, "a");
  EXPECT_EQ(kept[0].attempts, 2);
  EXPECT_TRUE(kept[0].given_up);
}

TEST(SpoolStore, OneReplayerHoldsTheLeaseUntilItEnds) {
  testing::TempDir dir;
  // Two connections to one file, as two kioku processes would have.
  auto a = open_sqlite_spool_store(dir / "spool.db");
  auto b = open_sqlite_spool_store(dir / "spool.db");
  const TimePoint t0 = from_millis(1'700'000'000'000);
  const auto ttl = std::chrono::milliseconds(60'000);
  EXPECT_TRUE(a->acquire_lease("proc-a", t0, ttl));
  EXPECT_FALSE(b->acquire_lease("proc-b", t0 + std::chrono::seconds(1), ttl));
  EXPECT_TRUE(a->acquire_lease("proc-a", t0 + std::chrono::seconds(30), ttl)) << "the holder renews";
  EXPECT_FALSE(b->acquire_lease("proc-b", t0 + std::chrono::seconds(80), ttl)) << "renewed until t0 + 90 s";
  b->release_lease("proc-b");  // not b's: changes nothing
  EXPECT_FALSE(b->acquire_lease("proc-b", t0 + std::chrono::seconds(85), ttl));
  EXPECT_TRUE(b->acquire_lease("proc-b", t0 + std::chrono::seconds(91), ttl)) << "an expired lease is anyone's";
  EXPECT_FALSE(a->acquire_lease("proc-a", t0 + std::chrono::seconds(92), ttl));
  b->release_lease("proc-b");
  EXPECT_TRUE(a->acquire_lease("proc-a", t0 + std::chrono::seconds(93), ttl)) << "released: free at once";
}

TEST(SpoolStore, CommittedRowsAreSeenByOtherConnectionsAndTheFileIsPrivate) {
  testing::TempDir dir;
  auto s = open_sqlite_spool_store(dir / "spool.db");
  s->append(write_of("m1", "one"));
  // Another connection sees the committed row at once (WAL), as a second
  // process would.
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "spool.db").c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, "SELECT count(*) FROM spooled_writes", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(st, 0), 1);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))), "wal");
  sqlite3_finalize(st);
  sqlite3_close(h);
  const auto perms = std::filesystem::status(dir / "spool.db").permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
}

}  // namespace
}  // namespace kioku
