// The backends the shared store suite runs against. A backend registers a
// factory here; every test in store_contract_test.cpp runs on each.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/time.h"
#include "store/job_store.h"
#include "store/store.h"
#include "testing/temp_dir.h"

namespace kioku::testing {

struct StoreBackend {
  std::string name;
  // Opens a fresh, empty store that lives in dir (if file-based).
  std::function<std::unique_ptr<MemoryStore>(const TempDir& dir, const TimeSource& clock)> open_memory;
  std::function<std::unique_ptr<JournalDraftStore>(const TempDir& dir, const TimeSource& clock)> open_journal;
  // The jobs of the same store as open_memory's.
  std::function<std::unique_ptr<JobStore>(const TempDir& dir, const TimeSource& clock)> open_jobs;
  // Why the backend cannot run here ("" when it can): the suite then fails
  // under CI=true and skips elsewhere (a server the tests need is missing).
  std::function<std::string()> unavailable = [] { return std::string(); };
};

std::vector<StoreBackend> store_backends();

}  // namespace kioku::testing
