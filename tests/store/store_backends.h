// The backends the shared store suite runs against. A backend registers a
// factory here; every test in store_contract_test.cpp runs on each.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/time.h"
#include "store/job_store.h"
#include "store/knowledge.h"
#include "store/profile.h"
#include "store/store.h"
#include "store/user_store.h"
#include "testing/postgres.h"
#include "testing/temp_dir.h"

namespace kioku::testing {

struct StoreBackend {
  std::string name;
  // Opens a fresh, empty store that lives in dir (if file-based).
  std::function<std::unique_ptr<MemoryStore>(const TempDir& dir, const TimeSource& clock)> open_memory;
  std::function<std::unique_ptr<JournalDraftStore>(const TempDir& dir, const TimeSource& clock)> open_journal;
  // The jobs of the same store as open_memory's.
  std::function<std::unique_ptr<JobStore>(const TempDir& dir, const TimeSource& clock)> open_jobs;
  // The knowledge graph, users and profile of the same store.
  std::function<std::unique_ptr<KnowledgeStore>(const TempDir& dir, const TimeSource& clock)> open_knowledge;
  std::function<std::unique_ptr<UserStore>(const TempDir& dir, const TimeSource& clock)> open_users;
  std::function<std::unique_ptr<ProfileStore>(const TempDir& dir, const TimeSource& clock)> open_profile;
  // Rows of `table` with user_id = user, counted past the stores (and past
  // PostgreSQL's row-level security): what is really in the database.
  std::function<int64_t(const TempDir& dir, const std::string& table, const std::string& user)> count_rows;
  // Why the backend cannot run here ("" when it can): the suite then fails
  // under CI=true and skips elsewhere (a server the tests need is missing).
  std::function<std::string()> unavailable = [] { return std::string(); };
};

std::vector<StoreBackend> store_backends();

// A test run on every backend (INSTANTIATE_TEST_SUITE_P over store_backends()):
// a backend that cannot run here fails the test under CI=true, skips it elsewhere.
class BackendTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    if (const std::string why = GetParam().unavailable(); !why.empty()) {
      if (running_in_ci()) FAIL() << GetParam().name << " is required under CI=true: " << why;
      GTEST_SKIP() << GetParam().name << " is not available here: " << why;
    }
  }
  TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2026-03-01T10:00:00Z")};
};

}  // namespace kioku::testing
