#include <gtest/gtest.h>

#include "core/error.h"
#include "embed/hashing_embedder.h"
#include "search/query.h"
#include "search/searcher.h"
#include "search/vector_index.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

TEST(QueryTerms, DropsStopWordsAndSyntax) {
  EXPECT_EQ(query_terms("\"foo AND ("), (std::vector<std::string>{"foo"}));
  EXPECT_EQ(query_terms("What did Caroline paint?"), (std::vector<std::string>{"caroline", "paint"}));
  EXPECT_EQ(query_terms("who am I"), (std::vector<std::string>{"who", "am", "i"}));
  EXPECT_TRUE(query_terms("  ()*: ").empty());
}

TEST(ExactVectorIndex, FindsNearestAndSupportsRemoveAndFilter) {
  ExactVectorIndex index(2);
  index.upsert("east", {1, 0});
  index.upsert("north", {0, 1});
  index.upsert("northeast", {0.7071f, 0.7071f});
  auto hits = index.search({1, 0.1f}, 2);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, "east");
  EXPECT_EQ(hits[1].id, "northeast");
  index.remove("east");
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.search({1, 0.1f}, 1)[0].id, "northeast");
  auto filtered = index.search({1, 0.1f}, 1, [](const std::string& id) { return id == "north"; });
  EXPECT_EQ(filtered[0].id, "north");
  EXPECT_THROW(index.upsert("bad", {1, 2, 3}), Error);
  index.upsert("north", {1, 0});  // replace
  EXPECT_EQ(index.search({1, 0}, 1)[0].id, "north");
}

class SearcherTest : public ::testing::Test {
 protected:
  void SetUp() override { store = open_sqlite_memory_store(dir / "memory.db", clock); }
  std::string add(const std::string& content, double importance = 0.5, const std::string& at = "2025-01-01",
                  const std::string& type = "note") {
    Memory m;
    m.content = content;
    m.importance = importance;
    m.type = type;
    m.event_time = *parse_iso8601(at);
    return store->add(m).id;
  }
  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2025-02-01T00:00:00Z")};
  std::unique_ptr<MemoryStore> store;
};

TEST_F(SearcherTest, LexicalFindsAndRecordsAccess) {
  auto id = add("My sister Hana lives in Osaka");
  add("Bought new running shoes");
  Searcher searcher(*store, nullptr, clock);
  SearchOptions o;
  auto results = searcher.search("where does Hana live?", o);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].memory.id, id);
  EXPECT_EQ(results[0].lexical_rank, 1);
  EXPECT_EQ(store->get("local", id)->access_count, 1);
  o.record_access = false;
  searcher.search("Hana", o);
  EXPECT_EQ(store->get("local", id)->access_count, 1);
}

TEST_F(SearcherTest, HostileQueriesDoNotError) {
  add("foo bar");
  Searcher searcher(*store, nullptr, clock);
  for (const char* q : {"\"foo AND (", "NEAR(foo bar", ")))", "foo*", "", "\"", "content:foo"}) {
    EXPECT_NO_THROW(searcher.search(q, SearchOptions{})) << q;
  }
  EXPECT_EQ(searcher.search("\"foo AND (", SearchOptions{}).size(), 1u);
}

TEST_F(SearcherTest, VectorSearchUsesEmbeddingsAndIndexesPending) {
  auto tea = add("green tea ceremony in Kyoto");
  add("debugging a segfault");
  HashingEmbedder embedder(128);
  Searcher searcher(*store, &embedder, clock);
  EXPECT_EQ(searcher.index_pending(100), 2);
  EXPECT_EQ(searcher.index_pending(100), 0);
  SearchOptions o;
  o.mode = SearchMode::kVector;
  auto results = searcher.search("kyoto tea", o);
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(results[0].memory.id, tea);
  EXPECT_GT(results[0].vector_rank, 0);
  EXPECT_EQ(results[0].lexical_rank, 0);
  // A memory added after the index was loaded is found once indexed.
  auto later = add("matcha latte recipe");
  searcher.index_pending(100);
  results = searcher.search("matcha", o);
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(results[0].memory.id, later);
}

TEST_F(SearcherTest, HybridFusesBothListsAndHonoursFilters) {
  auto a = add("hiking trip to Mount Takao", 0.5, "2025-01-10", "journal");
  auto b = add("hiking boots need new laces", 0.5, "2025-01-11", "note");
  HashingEmbedder embedder(128);
  Searcher searcher(*store, &embedder, clock);
  searcher.index_pending(100);
  SearchOptions o;
  auto results = searcher.search("hiking", o);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_GT(results[0].lexical_rank, 0);
  EXPECT_GT(results[0].vector_rank, 0);
  o.filter.types = {"journal"};
  results = searcher.search("hiking", o);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].memory.id, a);
  o.filter.types.clear();
  o.filter.since = *parse_iso8601("2025-01-11");
  results = searcher.search("hiking", o);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].memory.id, b);
}

TEST_F(SearcherTest, RecencyAndImportanceBreakTies) {
  auto old_one = add("weekly groceries list", 0.5, "2023-01-01");
  auto new_one = add("weekly groceries plan", 0.5, "2025-01-31");
  Searcher searcher(*store, nullptr, clock);
  SearchOptions o;
  auto results = searcher.search("weekly groceries", o);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].memory.id, new_one);
  Memory m = *store->get("local", old_one);
  m.importance = 1.0;
  store->update(m);
  o.recency_weight = 0;
  results = searcher.search("weekly groceries", o);
  EXPECT_EQ(results[0].memory.id, old_one);
}

TEST_F(SearcherTest, DeletedMemoriesLeaveTheVectorIndex) {
  auto a = add("volcano documentary");
  HashingEmbedder embedder(64);
  Searcher searcher(*store, &embedder, clock);
  searcher.index_pending(10);
  SearchOptions o;
  o.mode = SearchMode::kVector;
  EXPECT_EQ(searcher.search("volcano", o).size(), 1u);
  store->remove("local", a);
  searcher.forget("local", a);
  EXPECT_TRUE(searcher.search("volcano", o).empty());
}

TEST(HashingEmbedder, DeterministicAndNormalised) {
  HashingEmbedder e(64);
  auto v = e.embed({"Tea in Kyoto", "tea in kyoto", ""}, EmbedPurpose::kPassage);
  EXPECT_EQ(v[0], v[1]);
  double norm = 0;
  for (float x : v[0]) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  for (float x : v[2]) EXPECT_EQ(x, 0.0f);
}

}  // namespace
}  // namespace kioku
