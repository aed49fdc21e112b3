// BertEmbedder: BERT-family sentence encoders run in process, from a
// model folder in the Hugging Face layout: config.json, model.safetensors,
// vocab.txt / tokenizer.json, 1_Pooling/config.json, modules.json.
// Supported: all-MiniLM-L6-v2 (mean pooling, normalised; the default),
// bge-small-en-v1.5 (CLS pooling, a query instruction), e5-small-v2
// ("query: " / "passage: " prefixes), and other BERT checkpoints.
//
// Computation: a batch's sequences are concatenated into one token matrix,
// so the dense layers (QKV fused, output, FFN) are single large GEMMs with no
// padding; attention runs per sequence and head. Sequences longer than the
// model's max_seq_length are truncated. Where the build has AVX-512 the
// weights are packed once at load and every stage runs on encoder_kernels.h;
// otherwise on Eigen.
// Threading: `threads` OpenMP threads (default: all cores). A batch runs
// sequence-parallel (runs of whole sequences per thread, no per-stage
// barrier); a single sequence splits each stage across the threads. embed()
// itself must be called from one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "embed/embedder.h"
#include "embed/wordpiece.h"

namespace kioku {

struct BertConfig {
  int vocab_size = 30522;
  int hidden_size = 384;
  int num_layers = 6;
  int num_heads = 12;
  int intermediate_size = 1536;
  int max_position_embeddings = 512;
  int type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
};

enum class Pooling { kMean, kCls, kMax };

struct BertWeights;  // private to bert_embedder.cpp

class BertEmbedder final : public Embedder {
 public:
  // Throws kNotFound / kInvalidInput with a clear message for missing or
  // inconsistent files.
  explicit BertEmbedder(const std::filesystem::path& model_dir, int threads = 0);
  ~BertEmbedder() override;

  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts, EmbedPurpose purpose) override;
  int dimension() const override { return config_.hidden_size; }
  std::string model_id() const override { return model_id_; }

  // The forward pass on token ids (no tokenization, no prefixes): for tests
  // and benchmarks.
  std::vector<std::vector<float>> embed_ids(const std::vector<std::vector<int32_t>>& ids) const;
  const WordPieceTokenizer& tokenizer() const { return *tokenizer_; }
  const BertConfig& config() const { return config_; }

  // A model with random weights in memory (benchmarks: a MiniLM-shaped
  // encoder without a download).
  static std::unique_ptr<BertEmbedder> random(const BertConfig& config, uint64_t seed, int threads = 0);

 private:
  BertEmbedder() = default;
  BertConfig config_;
  Pooling pooling_ = Pooling::kMean;
  bool normalize_ = true;
  int max_seq_length_ = 256;
  int threads_ = 0;
  std::string query_prefix_;
  std::string passage_prefix_;
  std::string model_id_;
  std::unique_ptr<WordPieceTokenizer> tokenizer_;
  std::unique_ptr<BertWeights> weights_;
};

}  // namespace kioku
