#include "store/store_backends.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/postgres.h"

namespace kioku::testing {

namespace {

// One schema per test: the test's TempDir names it, so open_memory,
// open_journal and open_jobs of one test (and a reopen) see the same store.
const PgSchema& schema_for(const TempDir& dir) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<PgSchema>> schemas;
  std::lock_guard lock(mu);
  auto& s = schemas[dir.path().string()];
  if (!s) s = std::make_unique<PgSchema>("store");
  return *s;
}

std::string postgres_unavailable() {
  static const std::string why = [] {
    PgSchema probe("probe");
    return probe.ok() ? std::string() : probe.error();
  }();
  return why;
}

int64_t sqlite_count(const std::filesystem::path& db, const std::string& table, const std::string& user) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(h, ("SELECT count(*) FROM " + table + " WHERE user_id = ?").c_str(), -1, &st, nullptr) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, user.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  if (n < 0) throw std::runtime_error("cannot count " + table);
  return n;
}

// As the server's superuser, in the test's schema: row-level security does
// not apply, so this is every row there is.
int64_t postgres_count(const PgSchema& schema, const std::string& table, const std::string& user) {
  PGconn* c = PQconnectdb(PgSchema::admin_url().c_str());
  const std::string sql = "SELECT count(*) FROM " + schema.name() + "." + table + " WHERE user_id = $1";
  const char* values[] = {user.c_str()};
  PGresult* r = PQexecParams(c, sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0);
  int64_t n = -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK) n = std::strtoll(PQgetvalue(r, 0, 0), nullptr, 10);
  const std::string why = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (n < 0) throw std::runtime_error("cannot count " + table + ": " + why);
  return n;
}

}  // namespace

std::vector<StoreBackend> store_backends() {
  return {
      {"sqlite",
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_memory_store(dir / "memory.db", clock); },
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_journal_store(dir / "journal.db", clock); },
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_job_store(dir / "memory.db", clock); },
       [](const TempDir& dir, const TimeSource& clock) {
         return open_sqlite_knowledge_store(dir / "memory.db", clock);
       },
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_user_store(dir / "memory.db", clock); },
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_profile_store(dir / "memory.db", clock); },
       [](const TempDir& dir, const std::string& table, const std::string& user) {
         return sqlite_count(dir / "memory.db", table, user);
       }},
      {"postgres",
       [](const TempDir& dir, const TimeSource& clock) {
         return open_postgres_memory_store(schema_for(dir).url(), clock);
       },
       [](const TempDir& dir, const TimeSource& clock) {
         return open_postgres_journal_store(schema_for(dir).url(), clock);
       },
       [](const TempDir& dir, const TimeSource& clock) {
         return open_postgres_job_store(schema_for(dir).url(), clock);
       },
       [](const TempDir& dir, const TimeSource& clock) {
         return open_postgres_knowledge_store(schema_for(dir).url(), clock);
       },
       [](const TempDir& dir, const TimeSource& clock) {
         return open_postgres_user_store(schema_for(dir).url(), clock);
       },
       [](const TempDir& dir, const TimeSource& clock) {
         return open_postgres_profile_store(schema_for(dir).url(), clock);
       },
       [](const TempDir& dir, const std::string& table, const std::string& user) {
         return postgres_count(schema_for(dir), table, user);
       },
       postgres_unavailable},
  };
}

}  // namespace kioku::testing
