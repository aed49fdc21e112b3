// What only the PostgreSQL backend has: jobs shared by concurrent claimers
// (FOR UPDATE SKIP LOCKED), migrations racing from several pools, the pool
// size in the URL, and passwords kept out of every message.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "core/error.h"
#include "store/postgres/postgres_store.h"
#include "testing/postgres.h"

namespace kioku {
namespace {

TEST(PostgresStore, ConcurrentClaimersShareTheJobsAndNeverTakeOneTwice) {
  testing::PgSchema schema("claims");
  KIOKU_REQUIRE_PG(schema);
  FakeTimeSource clock{*parse_iso8601("2025-01-01T00:00:00Z")};
  constexpr int kJobs = 200;
  {
    auto jobs = open_postgres_job_store(schema.url(), clock);
    for (int i = 0; i < kJobs; ++i) {
      Job j;
      j.kind = "work";
      j.payload = {{"n", i}};
      jobs->enqueue(j);
    }
  }
  // Each worker its own pool (another pool_size makes another URL): as
  // separate processes would be.
  std::mutex mu;
  std::multiset<std::string> claimed;
  std::vector<std::thread> workers;
  for (int w = 0; w < 6; ++w) {
    workers.emplace_back([&, w] {
      auto jobs = open_postgres_job_store(schema.url() + "&pool_size=" + std::to_string(w + 1), clock);
      const TimePoint now = clock.now();
      for (int round = 0; round < 100; ++round) {
        auto got = jobs->claim("work", "w" + std::to_string(w), now, now, now + std::chrono::minutes(5), 3);
        if (got.empty()) break;
        for (const auto& j : got) {
          EXPECT_TRUE(jobs->complete(j.id, "w" + std::to_string(w), now, {}));
          std::lock_guard lock(mu);
          claimed.insert(j.id);
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(), static_cast<size_t>(kJobs))
      << "a job was claimed twice";
  auto jobs = open_postgres_job_store(schema.url(), clock);
  EXPECT_EQ(jobs->count_by_state(std::nullopt)["done"], kJobs);
}

TEST(PostgresStore, ALeaseThatEndedIsTakenOverAndTheOldHolderCannotFinish) {
  testing::PgSchema schema("lease");
  KIOKU_REQUIRE_PG(schema);
  FakeTimeSource clock{*parse_iso8601("2025-01-01T00:00:00Z")};
  auto a = open_postgres_job_store(schema.url(), clock);
  Job j;
  j.kind = "work";
  const std::string id = a->enqueue(j);
  const TimePoint now = clock.now();
  ASSERT_EQ(a->claim("work", "a", now, now, now + std::chrono::seconds(30), 1).size(), 1u);
  const TimePoint later = now + std::chrono::minutes(1);
  auto b = open_postgres_job_store(schema.url() + "&pool_size=2", clock);
  auto taken = b->claim("work", "b", later, later, later + std::chrono::seconds(30), 1);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].attempts, 2);
  EXPECT_FALSE(a->complete(id, "a", later, {}));
  EXPECT_TRUE(b->complete(id, "b", later, {}));
}

TEST(PostgresStore, ABatchTheServerRejectsHalfwayStoresNothingAndTheStoreGoesOn) {
  testing::PgSchema schema("batch");
  KIOKU_REQUIRE_PG(schema);
  auto store = open_postgres_memory_store(schema.url());
  std::vector<Memory> batch(5);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].content = "note " + std::to_string(i);
  batch[2].content = "bad \xff\xfe bytes";  // PostgreSQL refuses text that is not UTF-8
  try {
    store->add_batch(batch);
    FAIL() << "the server accepted invalid UTF-8";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo) << e.what();
  }
  EXPECT_EQ(store->count(MemoryFilter{}), 0);
  batch[2].content = "note 2, fixed";
  batch.push_back(batch[0]);  // the same content twice in one batch: one memory, corroborated
  auto out = store->add_batch(batch);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_FALSE(out[5].created);
  EXPECT_EQ(out[5].id, out[0].id);
  EXPECT_EQ(store->count(MemoryFilter{}), 5);
  EXPECT_EQ(store->get("local", out[0].id)->confidence.corroboration_count, 1);
}

TEST(PostgresStore, ProcessesStartingTogetherMigrateOnce) {
  testing::PgSchema schema("migrate");
  KIOKU_REQUIRE_PG(schema);
  std::atomic<int> failures{0};
  std::vector<std::thread> openers;
  for (int i = 0; i < 4; ++i) {
    openers.emplace_back([&, i] {
      try {
        auto store = open_postgres_memory_store(schema.url() + "&pool_size=" + std::to_string(i + 1));
        Memory m;
        m.content = "opened by " + std::to_string(i);
        store->add(m);
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& t : openers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(open_postgres_memory_store(schema.url())->count(MemoryFilter{}), 4);
}

TEST(PostgresStore, PasswordsNeverAppearInMessages) {
  EXPECT_EQ(mask_store_url("postgresql://kioku:s3cret-pw@db.example:5432/kioku?sslmode=require"),
            "postgresql://kioku:***@db.example:5432/kioku?sslmode=require");
  EXPECT_EQ(mask_store_url("postgresql://db.example/kioku?password=s3cret-pw&sslmode=verify-full"),
            "postgresql://db.example/kioku?password=***&sslmode=verify-full");
  // Nothing listens on port 9: the error names the server, not the password.
  for (const std::string url : {"postgresql://kioku:s3cret-pw@127.0.0.1:9/kioku?connect_timeout=2",
                                "postgresql://127.0.0.1:9/kioku?password=s3cret-pw&connect_timeout=2"}) {
    try {
      open_postgres_memory_store(url);
      FAIL() << "connected to nothing";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
      EXPECT_EQ(std::string(e.what()).find("s3cret-pw"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
    }
  }
}

TEST(PostgresStore, PoolSizeComesFromTheUrlAndIsChecked) {
  EXPECT_THROW(open_postgres_memory_store("postgresql://127.0.0.1:9/kioku?pool_size=0"), Error);
  try {
    open_postgres_memory_store("postgresql://127.0.0.1:9/kioku?pool_size=lots");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
  }
}

TEST(PostgresStore, FullTextRanksTheDenserMatchFirst) {
  testing::PgSchema schema("rank");
  KIOKU_REQUIRE_PG(schema);
  auto store = open_postgres_memory_store(schema.url());
  Memory a, b, c;
  a.content = "A long note about the garden, the weather, the neighbours, and once, briefly, the piano";
  b.content = "Piano lesson: piano scales, then the piano piece";
  c.content = "Nothing to see here";
  const auto ida = store->add(a).id, idb = store->add(b).id;
  store->add(c);
  auto hits = store->search_text({"piano"}, MemoryFilter{}, 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, idb);
  EXPECT_EQ(hits[1].id, ida);
  EXPECT_GT(hits[0].score, hits[1].score);
}

}  // namespace
}  // namespace kioku
