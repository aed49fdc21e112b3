// The backend a suite's stores live on. By default SQLite files in the test's
// folder; with KIOKU_TEST_STORE set to a PostgreSQL URL (ctest registers the
// suites a second time, named .../postgres, with the test server's URL) the
// same tests run on PostgreSQL, in a schema per test folder. Suites opt in
// by opening their stores through these functions, and the kioku binary
// through run_binary() (which passes KIOKU_STORE_URL to it).
// An unreachable server under KIOKU_TEST_STORE throws: the test fails.
// Needs kioku_store and libpq (PkgConfig::LIBPQ).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "store/knowledge.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/postgres.h"
#include "testing/run_binary.h"

namespace kioku::testing {

inline const char* test_store_server() {
  const char* url = std::getenv("KIOKU_TEST_STORE");
  return url && *url ? url : nullptr;
}

// The store URL for the test whose files live in folder ("" on SQLite).
inline std::string test_store_url(const std::filesystem::path& folder) { return test_store_url_for(folder); }

// db: where the SQLite memory.db would be; its folder names the schema.
inline std::unique_ptr<MemoryStore> open_test_memory_store(const std::filesystem::path& db, const TimeSource& clock) {
  if (test_store_server()) return open_postgres_memory_store(test_store_url(db.parent_path()), clock);
  return open_sqlite_memory_store(db, clock);
}
inline std::unique_ptr<KnowledgeStore> open_test_knowledge_store(const std::filesystem::path& db,
                                                                 const TimeSource& clock) {
  if (test_store_server()) return open_postgres_knowledge_store(test_store_url(db.parent_path()), clock);
  return open_sqlite_knowledge_store(db, clock);
}
inline std::unique_ptr<JobStore> open_test_job_store(const std::filesystem::path& db, const TimeSource& clock) {
  if (test_store_server()) return open_postgres_job_store(test_store_url(db.parent_path()), clock);
  return open_sqlite_job_store(db, clock);
}

}  // namespace kioku::testing
