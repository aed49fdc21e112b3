#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "embed/bert_embedder.h"
#include "embed/hashing_embedder.h"
#include "eval/locomo.h"
#include "eval/vector_cache.h"
#include "testing/real_model.h"
#include "testing/shared_dir.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

const std::filesystem::path kDevSplit = testing::shared_dir() / "data/locomo/locomo-dev.json";
// Measured with the final defaults (docs/RETRIEVAL.md); floors a little below.
// Whole split, lexical only, default settings: measured 0.779 (0.717 before
// the speaker, session and coverage signals, 0.636 before neighbours).
constexpr double kLexicalRecall10Floor = 0.76;
// First conversation (149 questions), default settings: hybrid measured
// recall@10 0.811, NDCG@10 0.579; lexical 0.766.
constexpr int kRealSubsetConversations = 1;
constexpr double kRealHybridRecall10Floor = 0.79;
constexpr double kRealHybridNdcg10Floor = 0.56;
constexpr double kRealSubsetLexicalRecall10Floor = 0.75;

TEST(Locomo, ParsesSessionStamps) {
  EXPECT_EQ(format_iso8601(*parse_locomo_datetime("1:56 pm on 8 May, 2023")), "2023-05-08T13:56:00.000Z");
  EXPECT_EQ(format_iso8601(*parse_locomo_datetime("12:09 am on 13 September, 2023")), "2023-09-13T00:09:00.000Z");
  EXPECT_FALSE(parse_locomo_datetime("sometime"));
}

TEST(Locomo, TinyDatasetScoresExactly) {
  testing::TempDir dir;
  nlohmann::json data = nlohmann::json::array();
  data.push_back({{"sample_id", "s1"},
                  {"conversation",
                   {{"speaker_a", "Ann"},
                    {"speaker_b", "Bo"},
                    {"session_1_date_time", "1:00 pm on 1 May, 2023"},
                    {"session_1",
                     {{{"speaker", "Ann"}, {"dia_id", "D1:1"}, {"text", "I adopted a puppy named Pixel"}},
                      {{"speaker", "Bo"}, {"dia_id", "D1:2"}, {"text", "My guitar lessons start Monday"}},
                      {{"speaker", "Ann"}, {"dia_id", "D1:3"}, {"text", "Look!"}, {"blip_caption", "a dog on a beach"}}}}}},
                  {"qa",
                   {{{"question", "What is the name of Ann's puppy?"}, {"evidence", {"D1:1"}}, {"category", 4}},
                    {{"question", "When do Bo's guitar lessons start?"}, {"evidence", {"D1:2", "D9:9"}}, {"category", 2}},
                    {{"question", "Where was the dog photographed?"}, {"evidence", {"D1:3"}}, {"category", 1}},
                    {{"question", "Unanswerable?"}, {"evidence", {"D1:1"}}, {"category", 5}}}}});
  std::ofstream(dir / "tiny.json") << data.dump();
  LocomoOptions o;
  o.ks = {1, 2};
  o.work_dir = dir / "work";
  LocomoReport r = evaluate_locomo(dir / "tiny.json", o);
  EXPECT_EQ(r.questions, 3);  // category 5 excluded
  EXPECT_EQ(r.skipped_evidence, 1);
  EXPECT_DOUBLE_EQ(r.recall[1], 1.0);
  auto j = r.to_json();
  EXPECT_EQ(j["recall@2"], 1.0);
  EXPECT_EQ(j["by_category"]["4"]["questions"], 1);
}

TEST(Locomo, MalformedFilesAreClearErrors) {
  testing::TempDir dir;
  std::ofstream(dir / "bad.json") << "{not json";
  LocomoOptions o;
  o.work_dir = dir / "work";
  EXPECT_THROW(evaluate_locomo(dir / "bad.json", o), Error);
  EXPECT_THROW(evaluate_locomo(dir / "missing.json", o), Error);
  std::ofstream(dir / "obj.json") << "{}";
  EXPECT_THROW(evaluate_locomo(dir / "obj.json", o), Error);
}

// The bar: lexical search alone beats plain BM25 (0.61 recall@10).
TEST(Locomo, DevSplitLexicalBeatsPlainBm25) {
  if (!std::filesystem::exists(kDevSplit)) GTEST_SKIP() << "LoCoMo dev split not found at " << kDevSplit;
  testing::TempDir dir;
  LocomoOptions o;
  o.work_dir = dir / "work";
  LocomoReport r = evaluate_locomo(kDevSplit, o);
  std::cout << r.to_json().dump() << "\n";
  EXPECT_GT(r.questions, 350);
  EXPECT_GT(r.recall[10], 0.61);
  // Issue 13: lexical search with the default settings (neighbour turns, time
  // boost, speaker, session and coverage signals) is above what it was before
  // them (0.636, then 0.717).
  EXPECT_GE(r.recall[10], kLexicalRecall10Floor);
}

// Issue 3's bar for the lexical-first fusion (kScores): it must not hurt when
// vectors are weak. A bag-of-words hashing embedder (coarse and fine) and a
// random-weight encoder stand in for weak embedders. (The default, kConvex,
// is tuned for a real encoder: RealMiniLmHybridRecall.)
TEST(Locomo, DevSplitLexicalFirstFusionNeverBelowLexical) {
  if (!std::filesystem::exists(kDevSplit)) GTEST_SKIP() << "LoCoMo dev split not found at " << kDevSplit;
  testing::TempDir dir;
  LocomoOptions o;
  o.work_dir = dir / "work";
  o.search.fusion = FusionMethod::kScores;
  o.search.vector_share = 0.15;
  // The guarantee is the fusion's: with neighbour propagation on, weak
  // vector-only hits also lend to their neighbours and it no longer holds
  // (hashing-64: 0.7146 against 0.7172).
  o.search.neighbour_weight = 0;
  o.search.time_boost = 0;
  // Likewise the speaker, session and coverage signals (they lift whatever
  // the vectors brought in, weak or not).
  o.search.speaker_boost = 0;
  o.search.session_weight = 0;
  o.search.coverage_weight = 0;
  const auto lexical = evaluate_locomo(kDevSplit, o);
  HashingEmbedder coarse(64), fine(1024);
  BertConfig tiny;
  tiny.num_layers = 1;
  auto noise = BertEmbedder::random(tiny, 3, 2);
  for (Embedder* e : std::vector<Embedder*>{&coarse, &fine, noise.get()}) {
    o.embedder = e;
    o.mode = SearchMode::kHybrid;
    const auto hybrid = evaluate_locomo(kDevSplit, o);
    std::cout << e->model_id() << ": lexical " << lexical.recall.at(10) << " hybrid " << hybrid.recall.at(10) << "\n";
    EXPECT_GE(hybrid.recall.at(10), lexical.recall.at(10) - 1e-9) << e->model_id();
    EXPECT_GE(hybrid.recall.at(5), lexical.recall.at(5) - 1e-9) << e->model_id();
  }
}

TEST(Locomo, VectorCacheServesRepeatsAndSurvivesATornRecord) {
  testing::TempDir dir;
  HashingEmbedder inner(32);
  std::vector<float> first;
  {
    CachedEmbedder cached(inner, dir / "cache");
    first = cached.embed({"alpha beta", "gamma"}, EmbedPurpose::kPassage)[0];
    EXPECT_EQ(cached.misses(), 2u);
    cached.embed({"alpha beta"}, EmbedPurpose::kPassage);
    cached.embed({"alpha beta"}, EmbedPurpose::kQuery);  // another purpose is another vector
    EXPECT_EQ(cached.hits(), 1u);
    EXPECT_EQ(cached.misses(), 3u);
  }
  const auto file = dir / "cache" / ("hashing-32-32.vectors");
  ASSERT_TRUE(std::filesystem::exists(file));
  std::ofstream(file, std::ios::binary | std::ios::app) << "torn";
  CachedEmbedder again(inner, dir / "cache");
  EXPECT_EQ(again.embed({"alpha beta"}, EmbedPurpose::kPassage)[0], first);
  EXPECT_EQ(again.hits(), 1u);
  again.embed({"delta"}, EmbedPurpose::kPassage);
  CachedEmbedder third(inner, dir / "cache");
  third.embed({"delta", "gamma"}, EmbedPurpose::kPassage);
  EXPECT_EQ(third.hits(), 2u);
}

// Issue 13's bar, on a subset that keeps the test short: the embedded default
// (real all-MiniLM-L6-v2, no server, no LLM) with the default search settings.
// The full dev-split figures are in docs/RETRIEVAL.md.
TEST(Locomo, RealMiniLmHybridRecall) {
  if (!std::filesystem::exists(kDevSplit)) GTEST_SKIP() << "LoCoMo dev split not found at " << kDevSplit;
  KIOKU_REQUIRE_REAL_MINILM();
  testing::TempDir dir;
  BertEmbedder minilm(testing::real_minilm_dir(), 2);
  // Vectors are kept between runs beside the model (outside the repository).
  CachedEmbedder cached(minilm, testing::test_cache_dir() / "eval-vectors");
  LocomoOptions o;
  o.work_dir = dir / "work";
  o.max_conversations = kRealSubsetConversations;
  const auto lexical = evaluate_locomo(kDevSplit, o);
  o.embedder = &cached;
  o.mode = SearchMode::kHybrid;
  const auto hybrid = evaluate_locomo(kDevSplit, o);
  std::cout << "lexical " << lexical.to_json().dump() << "\nhybrid " << hybrid.to_json().dump() << "\n";
  EXPECT_GE(hybrid.recall.at(10), kRealHybridRecall10Floor);
  EXPECT_GE(hybrid.ndcg.at(10), kRealHybridNdcg10Floor);
  EXPECT_GE(lexical.recall.at(10), kRealSubsetLexicalRecall10Floor);
  EXPECT_GE(hybrid.recall.at(10), lexical.recall.at(10));
}

}  // namespace
}  // namespace kioku
