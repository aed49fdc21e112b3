#include "store/store_backends.h"

#include <map>
#include <memory>
#include <mutex>

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

}  // namespace

std::vector<StoreBackend> store_backends() {
  return {
      {"sqlite",
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_memory_store(dir / "memory.db", clock); },
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_journal_store(dir / "journal.db", clock); },
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_job_store(dir / "memory.db", clock); }},
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
       postgres_unavailable},
  };
}

}  // namespace kioku::testing
