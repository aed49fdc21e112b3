// PgJournalDraftStore: the open journal session of each user. An entry is
// committed (synchronous_commit as the server has it, on by default) before
// add_entry returns. Its tables are outside the row-level security
// policies (schema.cpp, v4): most calls name a session, not a user, so they
// run under Scope::none(), which sees no user-scoped row.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/id.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/store_base.h"

namespace kioku {
namespace {

using pg::Connection;

class PgJournalDraftStore final : public JournalDraftStore, pg::StoreBase {
 public:
  PgJournalDraftStore(const std::string& url, const TimeSource& clock) : StoreBase(url), clock_(clock) {}

  std::optional<JournalSession> open_session(const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) -> std::optional<JournalSession> {
      auto r = c.exec(
          "SELECT s.id, s.user_id, s.started_at, s.last_activity, "
          "(SELECT count(*) FROM journal_entries e WHERE e.session_id = s.id) FROM journal_sessions s "
          "WHERE s.user_id = $1",
          {user_id});
      if (!r.rows()) return std::nullopt;
      JournalSession s;
      s.id = r.text(0, 0);
      s.user_id = r.text(0, 1);
      s.started_at = from_millis(r.integer(0, 2));
      s.last_activity = from_millis(r.integer(0, 3));
      s.entry_count = static_cast<int>(r.integer(0, 4));
      return s;
    });
  }

  JournalSession start_session(const std::string& user_id, TimePoint at) override {
    JournalSession s;
    s.id = new_uuid_v7(at);
    s.user_id = user_id;
    s.started_at = at;
    s.last_activity = at;
    // user_id is UNIQUE: of two concurrent starts, one inserts.
    const bool inserted = with(pg::Scope::user(user_id), [&](Connection& c) {
      return c.exec(
                  "INSERT INTO journal_sessions(id, user_id, started_at, last_activity) VALUES ($1,$2,$3,$3) "
                  "ON CONFLICT (user_id) DO NOTHING",
                  {s.id, user_id, to_millis(at)})
                 .affected() > 0;
    });
    if (!inserted) throw conflict("a journal session is already open (finish it with `journal done`)");
    return s;
  }

  JournalEntry add_entry(const std::string& session_id, JournalEntry entry) override {
    transaction(pg::Scope::none(), [&](Connection& c) {
      const TimePoint now = clock_.now();
      if (entry.id.empty()) entry.id = new_uuid_v7(now);
      if (to_millis(entry.timestamp) == 0) entry.timestamp = now;
      entry.session_id = session_id;
      auto touched = c.exec("UPDATE journal_sessions SET last_activity = $1 WHERE id = $2", {to_millis(now), session_id});
      if (touched.affected() == 0) throw not_found("no open journal session " + session_id);
      c.exec(
          "INSERT INTO journal_entries(id, session_id, timestamp, type, content, media_path, image_description, "
          "created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
          {entry.id, session_id, to_millis(entry.timestamp), entry.type, entry.content, entry.media_path,
           entry.image_description, to_millis(now)});
    });
    return entry;
  }

  std::vector<JournalEntry> entries(const std::string& session_id) override {
    return with(pg::Scope::none(), [&](Connection& c) {
      auto r = c.exec(
          "SELECT id, session_id, timestamp, type, content, media_path, image_description FROM journal_entries "
          "WHERE session_id = $1 ORDER BY timestamp, created_at, id",
          {session_id});
      std::vector<JournalEntry> out;
      for (int i = 0; i < r.rows(); ++i) {
        JournalEntry e;
        e.id = r.text(i, 0);
        e.session_id = r.text(i, 1);
        e.timestamp = from_millis(r.integer(i, 2));
        e.type = r.text(i, 3);
        e.content = r.text(i, 4);
        e.media_path = r.text(i, 5);
        e.image_description = r.text(i, 6);
        out.push_back(std::move(e));
      }
      return out;
    });
  }

  void set_image_description(const std::string& entry_id, const std::string& description) override {
    with(pg::Scope::none(), [&](Connection& c) {
      c.exec("UPDATE journal_entries SET image_description = $1 WHERE id = $2", {description, entry_id});
    });
  }

  void discard_session(const std::string& session_id) override {
    transaction(pg::Scope::none(), [&](Connection& c) {
      c.exec("DELETE FROM journal_entries WHERE session_id = $1", {session_id});
      c.exec("DELETE FROM journal_sessions WHERE id = $1", {session_id});
    });
  }

  JournalSession continue_session(const std::string& session_id, const std::vector<std::string>& compiled_entry_ids,
                                  TimePoint at) override {
    JournalSession next;
    transaction(pg::Scope::none(), [&](Connection& c) {
      auto find = c.exec("SELECT user_id FROM journal_sessions WHERE id = $1 FOR UPDATE", {session_id});
      if (!find.rows()) throw not_found("no journal session " + session_id);
      next.user_id = find.text(0, 0);
      c.exec("UPDATE journal_sessions SET user_id = id || ' (ended)' WHERE id = $1", {session_id});
      next.id = new_uuid_v7(at);
      next.started_at = at;
      next.last_activity = at;
      c.exec("INSERT INTO journal_sessions(id, user_id, started_at, last_activity) VALUES ($1,$2,$3,$3)",
             {next.id, next.user_id, to_millis(at)});
      nlohmann::json compiled = compiled_entry_ids;
      next.entry_count = static_cast<int>(
          c.exec("UPDATE journal_entries SET session_id = $1 WHERE session_id = $2 "
                 "AND id NOT IN (SELECT jsonb_array_elements_text($3::jsonb))",
                 {next.id, session_id, compiled.dump()})
              .affected());
      c.exec("DELETE FROM journal_entries WHERE session_id = $1", {session_id});
      c.exec("DELETE FROM journal_sessions WHERE id = $1", {session_id});
    });
    return next;
  }

  void backup_to(const std::filesystem::path& destination) override {
    throw invalid_input("a PostgreSQL store is backed up with pg_dump (or `kioku migrate --to` a SQLite folder), not to " +
                        destination.string());
  }

 private:
  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<JournalDraftStore> open_postgres_journal_store(const std::string& url, const TimeSource& clock) {
  return std::make_unique<PgJournalDraftStore>(url, clock);
}

}  // namespace kioku
