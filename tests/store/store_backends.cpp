#include "store/store_backends.h"

#include "store/sqlite/sqlite_store.h"

namespace kioku::testing {

std::vector<StoreBackend> store_backends() {
  return {
      {"sqlite",
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_memory_store(dir / "memory.db", clock); },
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_journal_store(dir / "journal.db", clock); },
       [](const TempDir& dir, const TimeSource& clock) { return open_sqlite_job_store(dir / "memory.db", clock); }},
  };
}

}  // namespace kioku::testing
