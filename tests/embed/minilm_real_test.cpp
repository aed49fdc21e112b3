// Kioku's encoder on the real all-MiniLM-L6-v2 weights against an independent
// implementation: sentence-transformers (PyTorch) on the same model, run by
// tests/embed/minilm_reference.py. The oracle's output is cached (keyed by
// the script's SHA-256) by scripts/fetch-test-models; this test recomputes it
// when it is missing or stale and the venv is there.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <numeric>

#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "embed/bert_embedder.h"
#include "testing/real_model.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

const std::filesystem::path kOracle = std::filesystem::path(KIOKU_SOURCE_DIR) / "tests/embed/minilm_reference.py";

double cosine(const std::vector<float>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

std::vector<int> top10(const std::vector<float>& query, const std::vector<std::vector<float>>& corpus) {
  std::vector<double> scores;
  for (const auto& c : corpus) {
    double dot = 0;
    for (size_t i = 0; i < c.size(); ++i) dot += static_cast<double>(query[i]) * c[i];
    scores.push_back(dot);
  }
  std::vector<int> order(corpus.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  order.resize(10);
  return order;
}

// The reference for this version of the oracle: from the cache, else computed now.
std::optional<nlohmann::json> load_reference(std::string& why) {
  const std::string key = sha256_hex(testing::slurp(kOracle)).substr(0, 16);
  const auto cached = testing::test_cache_dir() / "reference" / ("minilm-" + key + ".json");
  if (!std::filesystem::exists(cached)) {
    if (!std::filesystem::exists(testing::reference_python())) {
      why = "sentence-transformers venv not found at " + testing::reference_python().string();
      return std::nullopt;
    }
    testing::TempDir work;
    auto run = testing::run_binary(testing::reference_python().string(),
                                   {kOracle.string(), "--model", testing::real_minilm_dir().string(), "--cache",
                                    cached.parent_path().string()},
                                   work.path());
    if (run.exit_code != 0) {
      why = "the sentence-transformers oracle failed: " + run.err;
      return std::nullopt;
    }
  }
  std::ifstream in(cached);
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) {
    why = cached.string() + " is not valid JSON";
    return std::nullopt;
  }
  return j;
}

TEST(MiniLmReal, MatchesSentenceTransformers) {
  KIOKU_REQUIRE_REAL_MINILM();
  std::string why;
  auto ref = load_reference(why);
  KIOKU_REQUIRE_TEST_ASSET(ref.has_value(), why);
  BertEmbedder encoder(testing::real_minilm_dir(), 2);
  EXPECT_EQ(encoder.model_id(), "local:all-MiniLM-L6-v2");
  EXPECT_EQ(encoder.dimension(), 384);
  const auto sentences = (*ref)["sentences"].get<std::vector<std::string>>();
  const auto expected = (*ref)["vectors"].get<std::vector<std::vector<double>>>();
  const auto token_ids = (*ref)["token_ids"].get<std::vector<std::vector<int32_t>>>();
  const auto untruncated = (*ref)["untruncated_tokens"].get<std::vector<int>>();
  ASSERT_GE(sentences.size(), 300u);
  // The set really covers inputs past the 256-token limit.
  EXPECT_GE(std::count_if(untruncated.begin(), untruncated.end(), [](int n) { return n > 256; }), 15);

  // Tokenization first: a mismatch here explains a cosine failure below.
  int token_mismatches = 0;
  for (size_t i = 0; i < sentences.size(); ++i) {
    if (encoder.tokenizer().encode(sentences[i], 256) != token_ids[i]) {
      ++token_mismatches;
      ADD_FAILURE() << "token ids differ for: " << sentences[i];
    }
  }
  EXPECT_EQ(token_mismatches, 0);

  const auto got = encoder.embed(sentences, EmbedPurpose::kPassage);
  ASSERT_EQ(got.size(), expected.size());
  double worst = 1;
  size_t worst_at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double c = cosine(got[i], expected[i]);
    if (c < worst) worst = c, worst_at = i;
    EXPECT_GE(c, 0.99999) << "sentence " << i << ": " << sentences[i].substr(0, 80);
  }
  std::cout << "oracle: " << (*ref)["oracle"].get<std::string>() << "; " << got.size()
            << " sentences, worst cosine " << std::setprecision(9) << worst << " (" << sentences[worst_at].substr(0, 40)
            << ")\n";
}

TEST(MiniLmReal, SameTopTenNeighboursAsSentenceTransformers) {
  KIOKU_REQUIRE_REAL_MINILM();
  std::string why;
  auto ref = load_reference(why);
  KIOKU_REQUIRE_TEST_ASSET(ref.has_value(), why);
  BertEmbedder encoder(testing::real_minilm_dir(), 2);
  const auto corpus = encoder.embed((*ref)["corpus"].get<std::vector<std::string>>(), EmbedPurpose::kPassage);
  const auto queries = (*ref)["queries"].get<std::vector<std::string>>();
  const auto expected = (*ref)["top10"].get<std::vector<std::vector<int>>>();
  const auto margins = (*ref)["top10_margins"].get<std::vector<double>>();
  const auto query_vectors = encoder.embed(queries, EmbedPurpose::kQuery);
  ASSERT_EQ(queries.size(), expected.size());
  ASSERT_GE(queries.size(), 30u);
  int identical_order = 0;
  for (size_t q = 0; q < queries.size(); ++q) {
    auto got = top10(query_vectors[q], corpus);
    auto got_set = got, want_set = expected[q];
    std::sort(got_set.begin(), got_set.end());
    std::sort(want_set.begin(), want_set.end());
    EXPECT_EQ(got_set, want_set) << "query '" << queries[q] << "' (gap between 10th and 11th: " << margins[q] << ")";
    identical_order += got == expected[q];
  }
  // The order within the ten, too, save for near ties.
  EXPECT_GE(identical_order, static_cast<int>(queries.size()) - 2);
  std::cout << identical_order << " of " << queries.size() << " top-10 lists in the same order\n";
}

}  // namespace
}  // namespace kioku
