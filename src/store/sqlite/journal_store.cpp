// SqliteJournalDraftStore: journal.db, the drafts of open journal sessions.
// Entries are committed (WAL, synchronous=FULL for this file) before
// add_entry returns: a journal entry is user input and must survive a crash.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/id.h"
#include "store/sqlite/database.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {
namespace {

const std::vector<std::string> kJournalMigrations = {
    R"sql(
CREATE TABLE journal_sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL UNIQUE,
  started_at INTEGER NOT NULL,
  last_activity INTEGER NOT NULL
);
CREATE TABLE journal_entries (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES journal_sessions(id) ON DELETE CASCADE,
  timestamp INTEGER NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  media_path TEXT NOT NULL DEFAULT '',
  image_description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX idx_journal_entries_session ON journal_entries(session_id, timestamp);
)sql",
};

class SqliteJournalDraftStore final : public JournalDraftStore {
 public:
  SqliteJournalDraftStore(const std::filesystem::path& path, const TimeSource& clock) : db_(path), clock_(clock) {
    db_.exec("PRAGMA synchronous = FULL");
    db_.migrate(kJournalMigrations);
  }

  std::optional<JournalSession> open_session(const std::string& user_id) override {
    auto st = db_.prepare(
        "SELECT s.id, s.user_id, s.started_at, s.last_activity, "
        "(SELECT count(*) FROM journal_entries e WHERE e.session_id = s.id) FROM journal_sessions s "
        "WHERE s.user_id = ?");
    st.bind(1, user_id);
    std::optional<JournalSession> out;
    if (st.step()) {
      JournalSession s;
      s.id = st.text(0);
      s.user_id = st.text(1);
      s.started_at = from_millis(st.integer(2));
      s.last_activity = from_millis(st.integer(3));
      s.entry_count = static_cast<int>(st.integer(4));
      out = s;
    }
    st.reset();
    return out;
  }

  JournalSession start_session(const std::string& user_id, TimePoint at) override {
    JournalSession s;
    db_.transaction([&] {
      if (open_session(user_id)) throw conflict("a journal session is already open (finish it with `journal done`)");
      s.id = new_uuid_v7(at);
      s.user_id = user_id;
      s.started_at = at;
      s.last_activity = at;
      auto st = db_.prepare("INSERT INTO journal_sessions(id, user_id, started_at, last_activity) VALUES (?,?,?,?)");
      st.bind(1, s.id).bind(2, user_id).bind(3, to_millis(at)).bind(4, to_millis(at)).run();
    });
    return s;
  }

  JournalEntry add_entry(const std::string& session_id, JournalEntry entry) override {
    db_.transaction([&] {
      const TimePoint now = clock_.now();
      if (entry.id.empty()) entry.id = new_uuid_v7(now);
      if (to_millis(entry.timestamp) == 0) entry.timestamp = now;
      entry.session_id = session_id;
      auto st = db_.prepare(
          "INSERT INTO journal_entries(id, session_id, timestamp, type, content, media_path, image_description, "
          "created_at) VALUES (?,?,?,?,?,?,?,?)");
      st.bind(1, entry.id).bind(2, session_id).bind(3, to_millis(entry.timestamp)).bind(4, entry.type);
      st.bind(5, entry.content).bind(6, entry.media_path).bind(7, entry.image_description).bind(8, to_millis(now));
      st.run();
      auto touch = db_.prepare("UPDATE journal_sessions SET last_activity = ? WHERE id = ?");
      touch.bind(1, to_millis(now)).bind(2, session_id).run();
      if (db_.changes() == 0) throw not_found("no open journal session " + session_id);
    });
    return entry;
  }

  std::vector<JournalEntry> entries(const std::string& session_id) override {
    auto st = db_.prepare(
        "SELECT id, session_id, timestamp, type, content, media_path, image_description FROM journal_entries "
        "WHERE session_id = ? ORDER BY timestamp, created_at, id");
    st.bind(1, session_id);
    std::vector<JournalEntry> out;
    while (st.step()) {
      JournalEntry e;
      e.id = st.text(0);
      e.session_id = st.text(1);
      e.timestamp = from_millis(st.integer(2));
      e.type = st.text(3);
      e.content = st.text(4);
      e.media_path = st.text(5);
      e.image_description = st.text(6);
      out.push_back(std::move(e));
    }
    st.reset();
    return out;
  }

  void set_image_description(const std::string& entry_id, const std::string& description) override {
    db_.transaction([&] {
      db_.prepare("UPDATE journal_entries SET image_description = ? WHERE id = ?").bind(1, description).bind(2, entry_id).run();
    });
  }

  void discard_session(const std::string& session_id) override {
    db_.transaction([&] {
      db_.prepare("DELETE FROM journal_entries WHERE session_id = ?").bind(1, session_id).run();
      db_.prepare("DELETE FROM journal_sessions WHERE id = ?").bind(1, session_id).run();
    });
  }

  JournalSession continue_session(const std::string& session_id, const std::vector<std::string>& compiled_entry_ids,
                                  TimePoint at) override {
    JournalSession next;
    db_.transaction([&] {
      auto find = db_.prepare("SELECT user_id FROM journal_sessions WHERE id = ?");
      find.bind(1, session_id);
      if (!find.step()) {
        find.reset();
        throw not_found("no journal session " + session_id);
      }
      next.user_id = find.text(0);
      find.reset();
      // user_id is UNIQUE: the old row lets go of it before the new one
      // takes it; both changes commit together or not at all.
      db_.prepare("UPDATE journal_sessions SET user_id = id || ' (ended)' WHERE id = ?").bind(1, session_id).run();
      next.id = new_uuid_v7(at);
      next.started_at = at;
      next.last_activity = at;
      db_.prepare("INSERT INTO journal_sessions(id, user_id, started_at, last_activity) VALUES (?,?,?,?)")
          .bind(1, next.id)
          .bind(2, next.user_id)
          .bind(3, to_millis(at))
          .bind(4, to_millis(at))
          .run();
      nlohmann::json compiled = compiled_entry_ids;
      db_.prepare(
             "UPDATE journal_entries SET session_id = ?1 WHERE session_id = ?2 "
             "AND id NOT IN (SELECT value FROM json_each(?3))")
          .bind(1, next.id)
          .bind(2, session_id)
          .bind(3, compiled.dump())
          .run();
      next.entry_count = static_cast<int>(db_.changes());
      db_.prepare("DELETE FROM journal_entries WHERE session_id = ?").bind(1, session_id).run();
      db_.prepare("DELETE FROM journal_sessions WHERE id = ?").bind(1, session_id).run();
    });
    return next;
  }

  void backup_to(const std::filesystem::path& destination) override { db_.backup_to(destination); }

 private:
  sqlite::Database db_;
  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<JournalDraftStore> open_sqlite_journal_store(const std::filesystem::path& path,
                                                             const TimeSource& clock) {
  return std::make_unique<SqliteJournalDraftStore>(path, clock);
}

}  // namespace kioku
