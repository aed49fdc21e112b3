#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <random>
#include <set>

#include "core/error.h"
#include "embed/hashing_embedder.h"
#include "search/hnsw_index.h"
#include "search/searcher.h"
#include "search/vector_index.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

// Clustered unit vectors: real embeddings are clustered, not uniform.
std::vector<std::vector<float>> clustered(size_t n, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<std::vector<float>> centers(32, std::vector<float>(static_cast<size_t>(dim)));
  for (auto& c : centers)
    for (auto& x : c) x = noise(rng);
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> v = centers[i % centers.size()];
    double norm = 0;
    for (auto& x : v) {
      x += 0.6f * noise(rng);
      norm += x * x;
    }
    for (auto& x : v) x = static_cast<float>(x / std::sqrt(norm));
    out.push_back(std::move(v));
  }
  return out;
}

TEST(HnswIndex, RecallAgainstExactScan) {
  const int dim = 32;
  auto data = clustered(4000, dim, 1);
  ExactVectorIndex exact(dim);
  HnswVectorIndex hnsw(dim);
  for (size_t i = 0; i < data.size(); ++i) {
    exact.upsert("m" + std::to_string(i), data[i]);
    hnsw.upsert("m" + std::to_string(i), data[i]);
  }
  auto queries = clustered(100, dim, 2);
  double found = 0;
  for (const auto& q : queries) {
    auto truth = exact.search(q, 10);
    auto approx = hnsw.search(q, 10);
    std::set<std::string> want;
    for (const auto& h : truth) want.insert(h.id);
    for (const auto& h : approx) found += want.count(h.id);
  }
  EXPECT_GE(found / (10.0 * queries.size()), 0.95);
}

TEST(HnswIndex, UpsertRemoveFilterAndParallelBuild) {
  const int dim = 8;
  auto data = clustered(500, dim, 3);
  HnswVectorIndex index(dim, {}, 16);  // grows as needed
  std::vector<std::string> ids;
  std::vector<float> rows;
  for (size_t i = 0; i < data.size(); ++i) {
    ids.push_back("m" + std::to_string(i));
    rows.insert(rows.end(), data[i].begin(), data[i].end());
  }
  index.add_parallel(ids, rows, 2);
  EXPECT_EQ(index.size(), 500u);
  EXPECT_EQ(index.search(data[7], 1)[0].id, "m7");
  index.remove("m7");
  for (const auto& h : index.search(data[7], 10)) EXPECT_NE(h.id, "m7");
  auto even = index.search(data[8], 5, [](const std::string& id) { return (id.back() - '0') % 2 == 0; });
  ASSERT_EQ(even.size(), 5u);
  for (const auto& h : even) EXPECT_EQ((h.id.back() - '0') % 2, 0);
  EXPECT_THROW(index.upsert("bad", {1.0f}), Error);
}

TEST(HnswIndex, SaveAndLoadKeepsEverything) {
  testing::TempDir dir;
  const int dim = 16;
  auto data = clustered(300, dim, 4);
  HnswVectorIndex index(dim);
  for (size_t i = 0; i < data.size(); ++i) index.upsert("m" + std::to_string(i), data[i]);
  index.remove("m3");
  index.save(dir / "idx.hnsw");
  auto loaded = HnswVectorIndex::load(dir / "idx.hnsw", dim);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->size(), 299u);
  EXPECT_FALSE(loaded->contains("m3"));
  EXPECT_EQ(loaded->search(data[42], 1)[0].id, "m42");
  EXPECT_FALSE(HnswVectorIndex::load(dir / "idx.hnsw", dim + 1));  // wrong model dimension
  EXPECT_FALSE(HnswVectorIndex::load(dir / "missing.hnsw", dim));
}

// Counts texts it is asked to embed, to check the cache.
class CountingEmbedder final : public Embedder {
 public:
  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts, EmbedPurpose p) override {
    calls += texts.size();
    return inner.embed(texts, p);
  }
  int dimension() const override { return inner.dimension(); }
  std::string model_id() const override { return inner.model_id(); }
  HashingEmbedder inner{64};
  size_t calls = 0;
};

TEST(SearcherIndexes, SameTextIsEmbeddedOnce) {
  testing::TempDir dir;
  auto store = open_sqlite_memory_store(dir / "memory.db");
  for (const char* user : {"a", "b", "c"}) {
    Memory m;
    m.user_id = user;
    m.content = "the same sentence for everyone";
    store->add(m);
  }
  CountingEmbedder embedder;
  Searcher searcher(*store, &embedder);
  EXPECT_EQ(searcher.index_pending(100), 3);
  EXPECT_EQ(embedder.calls, 1u);
  EXPECT_EQ(store->count_missing_embeddings(embedder.model_id()), 0);
}

// n notes over 17 topics ("note 5 about topic5").
void add_topic_notes(MemoryStore& store, int n) {
  std::vector<Memory> batch;
  for (int i = 0; i < n; ++i) {
    Memory m;
    m.content = "note " + std::to_string(i) + " about topic" + std::to_string(i % 17);
    batch.push_back(m);
  }
  store.add_batch(batch);
}

TEST(SearcherIndexes, LargeCollectionsUseAPersistedHnswIndex) {
  testing::TempDir dir;
  auto store = open_sqlite_memory_store(dir / "memory.db");
  add_topic_notes(*store, 300);
  HashingEmbedder embedder(512);
  SearcherConfig config;
  config.index_dir = dir / "index";
  config.hnsw_threshold = 100;
  SearchOptions vector_only;
  vector_only.mode = SearchMode::kVector;
  vector_only.record_access = false;
  {
    Searcher searcher(*store, &embedder, system_time(), config);
    searcher.index_pending(1000);
    // The first search answers from the exact index while the HNSW index is
    // built in the background (never inside the request).
    const std::string first_kind = searcher.index_kind("local");
    EXPECT_TRUE(first_kind == "exact" || first_kind == "hnsw") << first_kind;
    const auto exact_answer = searcher.search("topic5", vector_only);
    ASSERT_FALSE(exact_answer.empty());
    searcher.wait_for_indexes();
    EXPECT_EQ(searcher.index_kind("local"), "hnsw");
    // A memory added while the index was being replaced is in it.
    Memory late;
    late.content = "a late giraffe memory";
    const std::string late_id = store->add(late).id;
    searcher.index_pending(10);
    const auto after = searcher.search("giraffe", vector_only);
    ASSERT_FALSE(after.empty());
    EXPECT_EQ(after[0].memory.id, late_id);
    EXPECT_EQ(searcher.search("topic5", vector_only).at(0).memory.id, exact_answer.at(0).memory.id);
    ASSERT_TRUE(store->remove("local", late_id));
    searcher.forget("local", late_id);
  }  // saved on destruction
  ASSERT_TRUE(std::filesystem::exists(config.index_dir));
  auto files = std::distance(std::filesystem::directory_iterator(config.index_dir), {});
  EXPECT_EQ(files, 2);  // graph + ids
  // After a restart with one memory added and one deleted meanwhile, the
  // saved graph is reused and reconciled.
  Memory extra;
  extra.content = "a brand new zebra memory";
  const std::string extra_id = store->add(extra).id;
  auto victim = store->list(MemoryFilter{}, ListOrder::kOldestFirst, 1, 0)[0].id;
  store->remove("local", victim);
  {
    Searcher searcher(*store, &embedder, system_time(), config);
    searcher.index_pending(10);
    searcher.index_kind("local");  // loads: the saved graph is read and reconciled in the background
    searcher.wait_for_indexes();
    EXPECT_EQ(searcher.index_kind("local"), "hnsw");
    auto results = searcher.search("zebra", vector_only);
    ASSERT_FALSE(results.empty());
    EXPECT_EQ(results[0].memory.id, extra_id);
    for (const auto& r : searcher.search("note topic0", vector_only)) EXPECT_NE(r.memory.id, victim);
  }
}

// With a store of its own for the build (the Engine's way), the index loads
// as int8 codes that answer, rescored, while the graph reads the float
// vectors from the store; what changes meanwhile is replayed into the graph.
TEST(SearcherIndexes, GraphBuildsFromTheStoreWhileInt8CodesAnswer) {
  testing::TempDir dir;
  auto store = open_sqlite_memory_store(dir / "memory.db");
  add_topic_notes(*store, 300);
  HashingEmbedder embedder(512);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> opened{0};
  SearcherConfig config;
  config.index_dir = dir / "index";
  config.hnsw_threshold = 100;
  config.open_build_store = [&]() -> std::shared_ptr<VectorStore> {
    ++opened;
    released.wait();  // the build holds here until the test has made its changes
    return open_sqlite_memory_store(dir / "memory.db");
  };
  SearchOptions vector_only;
  vector_only.mode = SearchMode::kVector;
  vector_only.record_access = false;
  Searcher searcher(*store, &embedder, system_time(), config);
  struct Release {  // before the searcher waits for its build, whatever fails
    std::promise<void>& p;
    bool done = false;
    void now() {
      if (!done) p.set_value();
      done = true;
    }
    ~Release() { now(); }
  } guard{release};
  searcher.index_pending(1000);
  SearcherConfig float_exact;
  float_exact.hnsw_threshold = 1u << 30;
  Searcher reference(*store, &embedder, system_time(), float_exact);

  EXPECT_EQ(searcher.index_kind("local"), "exact");
  auto ids = [](const std::vector<SearchResult>& results, size_t n) {
    std::vector<std::string> out;
    for (size_t i = 0; i < std::min(n, results.size()); ++i) out.push_back(results[i].memory.id);
    return out;
  };
  for (const char* q : {"topic5", "note 17 about topic3", "topic11 note"}) {
    const auto coded = searcher.search(q, vector_only);
    const auto exact = reference.search(q, vector_only);
    ASSERT_FALSE(exact.empty()) << q;
    EXPECT_EQ(ids(coded, 5), ids(exact, 5)) << q;
  }
  Memory late;
  late.content = "a late giraffe memory";
  const std::string late_id = store->add(late).id;
  searcher.index_pending(10);
  ASSERT_FALSE(searcher.search("giraffe", vector_only).empty());
  EXPECT_EQ(searcher.search("giraffe", vector_only)[0].memory.id, late_id);
  const std::string victim = reference.search("topic5", vector_only).at(0).memory.id;
  ASSERT_TRUE(store->remove("local", victim));
  searcher.forget("local", victim);

  guard.now();
  searcher.wait_for_indexes();
  EXPECT_EQ(opened.load(), 1);
  EXPECT_EQ(searcher.index_kind("local"), "hnsw");
  const auto after = searcher.search("giraffe", vector_only);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after[0].memory.id, late_id);
  for (const auto& r : searcher.search("topic5", vector_only)) EXPECT_NE(r.memory.id, victim);
  const auto exact = reference.search("note 17 about topic3", vector_only);
  ASSERT_FALSE(exact.empty());
  EXPECT_EQ(searcher.search("note 17 about topic3", vector_only).at(0).memory.id, exact[0].memory.id);
}

}  // namespace
}  // namespace kioku
