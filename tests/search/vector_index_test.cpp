// The exact scan (SIMD kernels chosen at run time, one or two threads,
// per-thread top-k) against a plain double-precision brute force, and the
// int8 index with float rescoring against the float index.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "core/error.h"
#include "embed/hashing_embedder.h"
#include "search/searcher.h"
#include "search/vector_index.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

std::vector<std::vector<float>> unit_vectors(size_t n, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<std::vector<float>> out(n, std::vector<float>(static_cast<size_t>(dim)));
  for (auto& v : out) {
    double norm = 0;
    for (auto& x : v) {
      x = g(rng);
      norm += static_cast<double>(x) * x;
    }
    for (auto& x : v) x = static_cast<float>(x / std::sqrt(norm));
  }
  return out;
}

// Best k row indexes by exact inner product (ties: lower index first).
std::vector<size_t> brute_force(const std::vector<std::vector<float>>& rows, const std::vector<float>& q, size_t k,
                                const std::function<bool(size_t)>& accept = {}) {
  std::vector<double> s(rows.size());
  for (size_t i = 0; i < rows.size(); ++i)
    s[i] = std::inner_product(rows[i].begin(), rows[i].end(), q.begin(), 0.0);
  std::vector<size_t> order;
  for (size_t i = 0; i < rows.size(); ++i)
    if (!accept || accept(i)) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] > s[b]; });
  order.resize(std::min(k, order.size()));
  return order;
}

class ExactScan : public ::testing::TestWithParam<std::tuple<size_t, int>> {};

TEST_P(ExactScan, MatchesBruteForceWithAndWithoutFilter) {
  const auto [n, dim] = GetParam();
  const auto rows = unit_vectors(n, dim, 1);
  ExactVectorIndex index(dim, VectorEncoding::kFloat32, 2);
  for (size_t i = 0; i < n; ++i) index.upsert(std::to_string(i), rows[i]);
  const auto queries = unit_vectors(5, dim, 2);
  for (const auto& q : queries) {
    for (size_t k : {size_t{1}, size_t{10}, size_t{50}}) {
      const auto want = brute_force(rows, q, k);
      const auto got = index.search(q, k);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].id, std::to_string(want[i])) << "n " << n << " dim " << dim << " k " << k << " rank " << i;
        EXPECT_NEAR(got[i].score, std::inner_product(rows[want[i]].begin(), rows[want[i]].end(), q.begin(), 0.0), 1e-5);
      }
    }
    // A filter that keeps one row in 97: the scan must widen until it has k.
    auto keep = [](size_t i) { return i % 97 == 3; };
    const auto want = brute_force(rows, q, 10, keep);
    const auto got = index.search(q, 10, [&](const std::string& id) { return keep(std::stoul(id)); });
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i].id, std::to_string(want[i]));
  }
}

// Small (one thread), past the two-thread threshold, and dimensions that
// leave a tail for the vector kernels.
INSTANTIATE_TEST_SUITE_P(Sizes, ExactScan,
                         ::testing::Values(std::make_tuple(size_t{300}, 384), std::make_tuple(size_t{6000}, 384),
                                           std::make_tuple(size_t{5000}, 37), std::make_tuple(size_t{40}, 3)));

TEST(ExactScan, KernelIsReported) {
  const std::string k = ExactVectorIndex::kernel_name();
  EXPECT_TRUE(k == "avx512" || k == "avx2" || k == "scalar") << k;
}

TEST(Int8Index, QuarterOfTheMemoryAndRescoredToTheFloatAnswer) {
  const int dim = 384;
  const size_t n = 2000;
  const auto rows = unit_vectors(n, dim, 3);
  ExactVectorIndex floats(dim, VectorEncoding::kFloat32), codes(dim, VectorEncoding::kInt8);
  for (size_t i = 0; i < n; ++i) {
    floats.upsert(std::to_string(i), rows[i]);
    codes.upsert(std::to_string(i), rows[i]);
  }
  EXPECT_LE(static_cast<double>(codes.vector_bytes()), 0.26 * static_cast<double>(floats.vector_bytes()));
  RescoringVectorIndex rescored(codes, [&](const std::vector<std::string>& ids) {
    std::unordered_map<std::string, std::vector<float>> m;
    for (const auto& id : ids) m.emplace(id, rows[std::stoul(id)]);
    return m;
  });
  size_t same = 0, total = 0;
  for (const auto& q : unit_vectors(20, dim, 4)) {
    const auto want = floats.search(q, 10);
    const auto got = rescored.search(q, 10);
    ASSERT_EQ(got.size(), 10u);
    std::set<std::string> truth;
    for (const auto& h : want) truth.insert(h.id);
    for (const auto& h : got) {
      same += truth.count(h.id);
      // Rescored hits carry the exact float score.
      const auto& r = rows[std::stoul(h.id)];
      EXPECT_NEAR(h.score, std::inner_product(r.begin(), r.end(), q.begin(), 0.0), 1e-5);
    }
    total += 10;
    // Without rescoring the int8 scores are close but approximate.
    const auto plain = codes.search(q, 1);
    EXPECT_NEAR(plain[0].score, want[0].score, 0.02);
  }
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(total), 0.99);
  EXPECT_THROW(rescored.upsert("x", rows[0]), Error);
}

TEST(Int8Index, UpsertReplaceAndRemoveKeepRowsDense) {
  ExactVectorIndex index(3, VectorEncoding::kInt8);
  index.upsert("east", {1, 0, 0});
  index.upsert("north", {0, 1, 0});
  index.upsert("up", {0, 0, 1});
  index.upsert("zero", {0, 0, 0});  // a zero vector quantises without dividing by zero
  EXPECT_EQ(index.search({1, 0.1f, 0}, 1)[0].id, "east");
  index.remove("east");
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.search({0, 0, 1}, 1)[0].id, "up");
  index.upsert("north", {1, 0, 0});  // replace
  EXPECT_EQ(index.search({1, 0, 0}, 1)[0].id, "north");
  EXPECT_NEAR(index.search({1, 0, 0}, 1)[0].score, 1.0f, 1e-6);
  EXPECT_THROW(index.upsert("bad", {1, 2}), Error);
}

// Through the Searcher: [search] int8_vectors gives the float answers (the
// catalog rescores with the vectors in the store).
TEST(Int8Index, SearcherWithInt8VectorsMatchesFloat) {
  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2025-02-01T00:00:00Z")};
  auto store = open_sqlite_memory_store(dir / "memory.db", clock);
  const std::vector<std::string> texts = {"green tea ceremony in Kyoto", "debugging a segfault in the parser",
                                          "matcha latte recipe with oat milk", "hiking Mount Takao in autumn",
                                          "the cat knocked the tea cup over", "quarterly tax return is due",
                                          "learning Japanese kanji every morning", "ramen shop near Shinjuku station"};
  for (const auto& t : texts) {
    Memory m;
    m.content = t;
    store->add(m);
  }
  HashingEmbedder embedder(256);
  SearcherConfig int8_config;
  int8_config.int8_vectors = true;
  Searcher floats(*store, &embedder, clock);
  Searcher codes(*store, &embedder, clock, int8_config);
  floats.index_pending(100);
  SearchOptions o;
  o.mode = SearchMode::kVector;
  o.record_access = false;
  for (const std::string q : {"kyoto tea", "tax", "japanese study", "ramen"}) {
    const auto want = floats.search(q, o);
    const auto got = codes.search(q, o);
    ASSERT_EQ(got.size(), want.size()) << q;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].memory.id, want[i].memory.id) << q << " rank " << i;
      EXPECT_NEAR(got[i].score, want[i].score, 1e-6) << q;
    }
  }
}

}  // namespace
}  // namespace kioku
