// The in-process BERT encoder against an independent PyTorch reference
// (tests/embed/reference_bert.py) on small random-weight checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <iomanip>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "embed/bert_embedder.h"
#include "embed/safetensors.h"
#include "testing/run_binary.h"
#include "testing/shared_dir.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

const std::string kPython = "/usr/bin/python3";
const std::string kScript = std::string(KIOKU_SOURCE_DIR) + "/tests/embed/reference_bert.py";

bool torch_available() {
  static const bool ok = [] {
    testing::TempDir d;
    return testing::run_binary(kPython, {"-c", "import torch"}, d.path()).exit_code == 0;
  }();
  return ok;
}

std::filesystem::path vocab_path() { return testing::shared_dir() / "models/all-MiniLM-L6-v2-tokenizer/vocab.txt"; }

double cosine(const std::vector<float>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

struct Case {
  std::string pooling;
  std::string dtype;
};

class BertReference : public ::testing::TestWithParam<Case> {};

TEST_P(BertReference, SentenceEmbeddingsMatchPyTorch) {
  if (!torch_available()) GTEST_SKIP() << "python3-torch is not installed (apt-get install python3-torch)";
  if (!std::filesystem::exists(vocab_path())) GTEST_SKIP() << "tokenizer files not found at " << vocab_path();
  testing::TempDir dir;
  const auto model = dir / "tiny-bert";
  auto made = testing::run_binary(kPython, {kScript, "make", model.string(), vocab_path().string(), "--pooling",
                                            GetParam().pooling, "--dtype", GetParam().dtype},
                                  dir / "run");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  BertEmbedder encoder(model, 2);
  const std::vector<std::string> sentences = {
      "Hello world",
      "The quick brown fox jumps over the lazy dog near the riverbank.",
      "東京で寿司",
      "a",
      "My sister Hana lives in Osaka and loves matcha, but not coffee!",
  };
  std::vector<std::vector<int32_t>> ids;
  for (const auto& s : sentences) ids.push_back(encoder.tokenizer().encode(s, 64));
  std::ofstream(dir / "ids.json") << nlohmann::json(ids).dump();
  auto ref = testing::run_binary(kPython, {kScript, "embed", model.string(), (dir / "ids.json").string()}, dir / "run");
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  auto expected = nlohmann::json::parse(ref.out).get<std::vector<std::vector<double>>>();
  auto got = encoder.embed(sentences, EmbedPurpose::kPassage);  // batched, different lengths
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double c = cosine(got[i], expected[i]);
    std::cout << GetParam().pooling << "/" << GetParam().dtype << " sentence " << i << " cosine " << std::setprecision(9) << c << "\n";
    EXPECT_GE(c, 0.99999) << sentences[i];
  }
  // One at a time gives the same vectors as the batch.
  auto single = encoder.embed({sentences[1]}, EmbedPurpose::kPassage);
  for (size_t d = 0; d < single[0].size(); ++d) EXPECT_NEAR(single[0][d], got[1][d], 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Pooling, BertReference,
                         ::testing::Values(Case{"mean", "F32"}, Case{"cls", "F32"}, Case{"mean", "F16"}),
                         [](const auto& info) { return info.param.pooling + "_" + info.param.dtype; });

TEST(BertEmbedder, LongInputsAreTruncatedNotFatal) {
  if (!torch_available() || !std::filesystem::exists(vocab_path())) GTEST_SKIP() << "needs python3-torch and the tokenizer files";
  testing::TempDir dir;
  auto made = testing::run_binary(kPython, {kScript, "make", (dir / "m").string(), vocab_path().string()}, dir / "run");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  BertEmbedder encoder(dir / "m", 1);
  std::string huge;
  for (int i = 0; i < 5000; ++i) huge += "memory ";
  auto v = encoder.embed({huge, "", std::string(300, 'x')}, EmbedPurpose::kQuery);
  ASSERT_EQ(v.size(), 3u);
  for (const auto& e : v) EXPECT_EQ(static_cast<int>(e.size()), encoder.dimension());
}

TEST(BertEmbedder, BrokenModelFoldersAreClearErrors) {
  testing::TempDir dir;
  auto code = [](const std::filesystem::path& p) {
    try {
      BertEmbedder e(p);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  EXPECT_EQ(code(dir / "nothing"), ErrorCode::kNotFound);
  std::filesystem::create_directories(dir / "m");
  std::ofstream(dir / "m" / "config.json") << R"({"model_type": "bert", "vocab_size": 10, "hidden_size": 8,
      "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16})";
  std::ofstream(dir / "m" / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\nc\nd\ne\n";
  EXPECT_EQ(code(dir / "m"), ErrorCode::kNotFound);  // no weights
  std::ofstream(dir / "m" / "model.safetensors") << "\x10\x00\x00\x00\x00\x00\x00\x00{not json}     ";
  EXPECT_EQ(code(dir / "m"), ErrorCode::kInvalidInput);
  std::string header = R"({"embeddings.word_embeddings.weight": {"dtype": "F32", "shape": [10, 8], "data_offsets": [0, 320]}})";
  std::string file(8, '\0');
  file[0] = static_cast<char>(header.size());
  file += header + std::string(100, '\0');  // too short for its tensor
  std::ofstream(dir / "m" / "model.safetensors", std::ios::binary) << file;
  EXPECT_EQ(code(dir / "m"), ErrorCode::kInvalidInput);
  std::ofstream(dir / "m" / "config.json") << R"({"model_type": "gpt2"})";
  EXPECT_EQ(code(dir / "m"), ErrorCode::kInvalidInput);
}

TEST(BertEmbedder, RandomMiniLmShapedModelRuns) {
  BertConfig c;
  c.vocab_size = 1000;
  c.num_layers = 2;
  auto e = BertEmbedder::random(c, 1, 1);
  auto v = e->embed_ids({{101, 5, 6, 102}, {101, 7, 102}});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].size(), 384u);
  double norm = 0;
  for (float x : v[0]) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-4);
  EXPECT_THROW(e->embed_ids({{5000}}), Error);
  EXPECT_THROW(e->embed_ids({{}}), Error);
}

}  // namespace
}  // namespace kioku
