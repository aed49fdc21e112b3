// SqliteSpoolStore: spool.db in the data directory. WAL with synchronous =
// FULL, unlike the other databases: a spooled write was answered as taken,
// so its commit must survive a power cut, not only a crash of kioku.
// seq is an AUTOINCREMENT key, so numbers are never reused, even after the
// newest rows were replayed and deleted.
#include "store/spool_store.h"
#include "core/error.h"
#include "store/sqlite/database.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {
namespace {

const std::vector<std::string>& spool_migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE spooled_writes ("
      "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  kind TEXT NOT NULL,"
      "  user_id TEXT NOT NULL,"
      "  id TEXT NOT NULL,"
      "  request TEXT NOT NULL,"
      "  spooled_at INTEGER NOT NULL,"
      "  attempts INTEGER NOT NULL DEFAULT 0,"
      "  last_error TEXT NOT NULL DEFAULT '',"
      "  given_up INTEGER NOT NULL DEFAULT 0);"
      "CREATE INDEX spooled_writes_pending ON spooled_writes(given_up, seq);"
      // One row: who replays, until when.
      "CREATE TABLE replay_lease (slot INTEGER PRIMARY KEY CHECK (slot = 1), holder TEXT NOT NULL,"
      "  lease_until INTEGER NOT NULL);"};
  return m;
}

constexpr const char* kColumns = "seq, kind, user_id, id, request, spooled_at, attempts, last_error, given_up";

SpooledWrite read_row(const sqlite::Statement& st) {
  SpooledWrite w;
  w.seq = st.integer(0);
  w.kind = st.text(1);
  w.user_id = st.text(2);
  w.id = st.text(3);
  w.request = st.text(4);
  w.spooled_at = from_millis(st.integer(5));
  w.attempts = static_cast<int>(st.integer(6));
  w.last_error = st.text(7);
  w.given_up = st.integer(8) != 0;
  return w;
}

class SqliteSpoolStore final : public SpoolStore {
 public:
  SqliteSpoolStore(const std::filesystem::path& path, const TimeSource& clock) : db_(path), clock_(clock) {
    db_.exec("PRAGMA synchronous = FULL");
    db_.migrate(spool_migrations());
  }

  int64_t append(const SpooledWrite& w) override {
    if (w.kind.empty() || w.id.empty()) throw invalid_input("a spooled write needs a kind and an id");
    int64_t seq = 0;
    db_.transaction([&] {
      auto st = db_.prepare("INSERT INTO spooled_writes(kind, user_id, id, request, spooled_at) VALUES (?,?,?,?,?)");
      const TimePoint at = to_millis(w.spooled_at) != 0 ? w.spooled_at : clock_.now();
      st.bind(1, w.kind).bind(2, w.user_id).bind(3, w.id).bind(4, w.request).bind(5, to_millis(at)).run();
      seq = sqlite3_last_insert_rowid(db_.handle());
    });
    return seq;
  }

  std::vector<SpooledWrite> pending(int limit) override {
    return select(std::string("SELECT ") + kColumns + " FROM spooled_writes WHERE given_up = 0 ORDER BY seq LIMIT ?",
                  limit);
  }

  std::vector<SpooledWrite> given_up(int limit) override {
    return select(std::string("SELECT ") + kColumns + " FROM spooled_writes WHERE given_up = 1 ORDER BY seq LIMIT ?",
                  limit);
  }

  bool remove(int64_t seq) override {
    bool removed = false;
    db_.transaction([&] {
      db_.prepare("DELETE FROM spooled_writes WHERE seq = ?").bind(1, seq).run();
      removed = db_.changes() > 0;
    });
    return removed;
  }

  int64_t remove(const std::vector<int64_t>& seqs) override {
    int64_t removed = 0;
    db_.transaction([&] {
      for (const int64_t seq : seqs) {
        db_.prepare("DELETE FROM spooled_writes WHERE seq = ?").bind(1, seq).run();
        removed += db_.changes();
      }
    });
    return removed;
  }

  void note_failure(int64_t seq, const std::string& error, bool give_up) override {
    db_.transaction([&] {
      db_.prepare("UPDATE spooled_writes SET attempts = attempts + 1, last_error = ?, given_up = ? WHERE seq = ?")
          .bind(1, error)
          .bind(2, give_up ? 1 : 0)
          .bind(3, seq)
          .run();
    });
  }

  SpoolCounts counts() override {
    SpoolCounts c;
    auto st = db_.prepare(
        "SELECT coalesce(sum(given_up = 0), 0), coalesce(sum(given_up = 1), 0), min(CASE WHEN given_up = 0 THEN "
        "spooled_at END) FROM spooled_writes");
    if (st.step()) {
      c.pending = st.integer(0);
      c.given_up = st.integer(1);
      if (!st.is_null(2)) c.oldest_pending = from_millis(st.integer(2));
    }
    st.reset();
    return c;
  }

  bool acquire_lease(const std::string& holder, TimePoint now, std::chrono::milliseconds ttl) override {
    bool got = false;
    db_.transaction([&] {
      // BEGIN IMMEDIATE holds the write lock: no other process can read the
      // old row and take the lease between our read and our write.
      auto st = db_.prepare(
          "INSERT INTO replay_lease(slot, holder, lease_until) VALUES (1, ?1, ?2) ON CONFLICT(slot) DO UPDATE SET "
          "holder = excluded.holder, lease_until = excluded.lease_until WHERE replay_lease.holder = ?1 OR "
          "replay_lease.lease_until < ?3");
      st.bind(1, holder).bind(2, to_millis(now + ttl)).bind(3, to_millis(now)).run();
      got = db_.changes() > 0;
    });
    return got;
  }

  void release_lease(const std::string& holder) override {
    db_.transaction([&] { db_.prepare("DELETE FROM replay_lease WHERE holder = ?").bind(1, holder).run(); });
  }

 private:
  std::vector<SpooledWrite> select(const std::string& sql, int limit) {
    auto st = db_.prepare(sql);
    st.bind(1, static_cast<int64_t>(limit));
    std::vector<SpooledWrite> out;
    while (st.step()) out.push_back(read_row(st));
    st.reset();
    return out;
  }

  sqlite::Database db_;
  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<SpoolStore> open_sqlite_spool_store(const std::filesystem::path& path, const TimeSource& clock) {
  return std::make_unique<SqliteSpoolStore>(path, clock);
}

}  // namespace kioku
