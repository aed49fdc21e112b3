#include "embed/bert_embedder.h"

#include <Eigen/Core>
#include <omp.h>

#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "embed/encoder_kernels.h"
#include "embed/model_registry.h"
#include "embed/safetensors.h"

namespace kioku {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXf;

struct Linear {
  Matrix weight;  // [out, in], as stored by PyTorch
  Vector bias;
  // x [n, in] -> [n, out]
  Matrix apply(const Matrix& x) const {
    Matrix y = x * weight.transpose();
    y.rowwise() += bias.transpose();
    return y;
  }
};

struct LayerNorm {
  Vector gamma, beta;
  void apply(Matrix& x, float eps) const {
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      auto row = x.row(r);
      const float mean = row.mean();
      row.array() -= mean;
      const float var = row.squaredNorm() / static_cast<float>(row.size());
      row *= 1.0f / std::sqrt(var + eps);
      row = row.cwiseProduct(gamma.transpose()) + beta.transpose();
    }
  }
};

struct Layer {
  Linear query, key, value, attention_out, intermediate, output;
  LayerNorm attention_norm, output_norm;
  // The vector kernels' copies, packed once at load (Q, K and V as one
  // [3H, H] layer); the Eigen matrices above are then released.
  encoder_kernels::PackedLinear qkv, attention_out_packed, intermediate_packed, output_packed;
};

struct BertWeights {
  Matrix word, position, token_type;
  LayerNorm embedding_norm;
  std::vector<Layer> layers;
  bool packed = false;  // true: the forward pass runs on encoder_kernels
};

namespace {

encoder_kernels::PackedLinear pack_linear(Linear& l) {
  auto p = encoder_kernels::pack(l.weight.data(), l.bias.data(), static_cast<int>(l.weight.rows()),
                                 static_cast<int>(l.weight.cols()));
  l.weight.resize(0, 0);
  return p;
}

// Packs every layer for the vector kernels where this build has them and the
// model's head size fits; otherwise the Eigen path keeps the weights as read.
void prepare(BertWeights& w, const BertConfig& c) {
  if (!encoder_kernels::available() || c.hidden_size / c.num_heads > encoder_kernels::kMaxHeadSize) return;
  for (Layer& l : w.layers) {
    Matrix qkv(3 * l.query.weight.rows(), l.query.weight.cols());
    qkv << l.query.weight, l.key.weight, l.value.weight;
    Vector qkv_bias(3 * l.query.bias.size());
    qkv_bias << l.query.bias, l.key.bias, l.value.bias;
    l.qkv = encoder_kernels::pack(qkv.data(), qkv_bias.data(), static_cast<int>(qkv.rows()), static_cast<int>(qkv.cols()));
    for (Linear* q : {&l.query, &l.key, &l.value}) q->weight.resize(0, 0);
    l.attention_out_packed = pack_linear(l.attention_out);
    l.intermediate_packed = pack_linear(l.intermediate);
    l.output_packed = pack_linear(l.output);
  }
  w.packed = true;
}

}  // namespace

namespace {

class WeightReader {
 public:
  explicit WeightReader(std::map<std::string, Tensor> tensors) : tensors_(std::move(tensors)) {
    for (const auto& [name, t] : tensors_)
      if (name.rfind("bert.", 0) == 0) prefix_ = "bert.";
  }
  Matrix matrix(const std::string& name, int64_t rows, int64_t cols) {
    const Tensor& t = get(name);
    if (t.shape.size() != 2 || t.shape[0] != rows || t.shape[1] != cols)
      throw invalid_input("model tensor " + name + " has shape " + shape_of(t) + ", expected [" + std::to_string(rows) +
                          ", " + std::to_string(cols) + "]");
    return Eigen::Map<const Matrix>(t.data.data(), rows, cols);
  }
  Vector vector(const std::string& name, int64_t size) {
    const Tensor& t = get(name);
    if (t.elements() != size) throw invalid_input("model tensor " + name + " has the wrong size");
    return Eigen::Map<const Vector>(t.data.data(), size);
  }
  LayerNorm norm(const std::string& base, int64_t size) {
    // Old checkpoints call the parameters gamma/beta.
    const bool old = !has(base + ".weight") && has(base + ".gamma");
    return {vector(base + (old ? ".gamma" : ".weight"), size), vector(base + (old ? ".beta" : ".bias"), size)};
  }
  Linear linear(const std::string& base, int64_t out, int64_t in) {
    return {matrix(base + ".weight", out, in), vector(base + ".bias", out)};
  }

 private:
  bool has(const std::string& name) const { return tensors_.count(prefix_ + name) || tensors_.count(name); }
  const Tensor& get(const std::string& name) const {
    auto it = tensors_.find(prefix_ + name);
    if (it == tensors_.end()) it = tensors_.find(name);
    if (it == tensors_.end()) throw invalid_input("model weights lack tensor " + name);
    return it->second;
  }
  static std::string shape_of(const Tensor& t) {
    std::string s = "[";
    for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
    return s + "]";
  }
  std::map<std::string, Tensor> tensors_;
  std::string prefix_;
};

nlohmann::json read_json(const std::filesystem::path& p, bool required) {
  std::ifstream in(p);
  if (!in) {
    if (required) throw not_found("missing " + p.string());
    return nlohmann::json();
  }
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) throw invalid_input(p.string() + " is not valid JSON");
  return j;
}

float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

}  // namespace

BertEmbedder::~BertEmbedder() = default;

BertEmbedder::BertEmbedder(const std::filesystem::path& dir, int threads) : threads_(threads) {
  auto cfg = read_json(dir / "config.json", true);
  try {
    config_.vocab_size = cfg.at("vocab_size");
    config_.hidden_size = cfg.at("hidden_size");
    config_.num_layers = cfg.at("num_hidden_layers");
    config_.num_heads = cfg.at("num_attention_heads");
    config_.intermediate_size = cfg.at("intermediate_size");
    config_.max_position_embeddings = cfg.value("max_position_embeddings", 512);
    config_.type_vocab_size = cfg.value("type_vocab_size", 2);
    config_.layer_norm_eps = cfg.value("layer_norm_eps", 1e-12);
  } catch (const nlohmann::json::exception&) {
    throw invalid_input((dir / "config.json").string() + " lacks BERT settings (hidden_size, num_hidden_layers, ...)");
  }
  if (cfg.value("model_type", "bert") != "bert") throw invalid_input("only BERT models are supported, not " + cfg.value("model_type", std::string()));
  if (cfg.value("hidden_act", "gelu") != "gelu") throw invalid_input("unsupported activation " + cfg.value("hidden_act", std::string()));
  if (config_.hidden_size % config_.num_heads != 0) throw invalid_input("hidden_size is not a multiple of the head count");

  auto pooling = read_json(dir / "1_Pooling" / "config.json", false);
  if (pooling.is_object()) {
    if (pooling.value("pooling_mode_cls_token", false)) pooling_ = Pooling::kCls;
    else if (pooling.value("pooling_mode_max_tokens", false)) pooling_ = Pooling::kMax;
    else pooling_ = Pooling::kMean;
  }
  auto modules = read_json(dir / "modules.json", false);
  if (modules.is_array()) {
    normalize_ = false;
    for (const auto& m : modules)
      if (m.value("type", "").find("Normalize") != std::string::npos) normalize_ = true;
  }
  auto sbert = read_json(dir / "sentence_bert_config.json", false);
  max_seq_length_ = std::min(sbert.is_object() ? sbert.value("max_seq_length", 512) : 512, config_.max_position_embeddings);
  const std::string name = dir.filename().string();
  if (auto known = find_known_model(name)) {
    query_prefix_ = known->query_prefix;
    passage_prefix_ = known->passage_prefix;
    if (!pooling.is_object()) pooling_ = known->pooling == "cls" ? Pooling::kCls : Pooling::kMean;
    if (!modules.is_array()) normalize_ = true;
  }
  model_id_ = "local:" + name;
  tokenizer_ = std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::from_directory(dir));

  WeightReader r(load_safetensors(dir / "model.safetensors"));
  const int H = config_.hidden_size, I = config_.intermediate_size;
  weights_ = std::make_unique<BertWeights>();
  auto& w = *weights_;
  w.word = r.matrix("embeddings.word_embeddings.weight", config_.vocab_size, H);
  w.position = r.matrix("embeddings.position_embeddings.weight", config_.max_position_embeddings, H);
  w.token_type = r.matrix("embeddings.token_type_embeddings.weight", config_.type_vocab_size, H);
  w.embedding_norm = r.norm("embeddings.LayerNorm", H);
  for (int l = 0; l < config_.num_layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    Layer layer;
    layer.query = r.linear(p + "attention.self.query", H, H);
    layer.key = r.linear(p + "attention.self.key", H, H);
    layer.value = r.linear(p + "attention.self.value", H, H);
    layer.attention_out = r.linear(p + "attention.output.dense", H, H);
    layer.attention_norm = r.norm(p + "attention.output.LayerNorm", H);
    layer.intermediate = r.linear(p + "intermediate.dense", I, H);
    layer.output = r.linear(p + "output.dense", H, I);
    layer.output_norm = r.norm(p + "output.LayerNorm", H);
    w.layers.push_back(std::move(layer));
  }
  if (static_cast<int>(tokenizer_->vocab_size()) > config_.vocab_size)
    throw invalid_input("the vocabulary is larger than the model's embedding table");
  prepare(w, config_);
}

std::unique_ptr<BertEmbedder> BertEmbedder::random(const BertConfig& config, uint64_t seed, int threads) {
  std::unique_ptr<BertEmbedder> e(new BertEmbedder());
  e->config_ = config;
  e->threads_ = threads;
  e->model_id_ = "random-bert";
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.02f);
  auto mat = [&](int rows, int cols) {
    Matrix m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(rng);
    return m;
  };
  auto vec = [&](int size, float base) {
    Vector v(size);
    for (int i = 0; i < size; ++i) v[i] = base + n(rng);
    return v;
  };
  const int H = config.hidden_size, I = config.intermediate_size;
  auto lin = [&](int out, int in) { return Linear{mat(out, in), vec(out, 0)}; };
  e->weights_ = std::make_unique<BertWeights>();
  auto& w = *e->weights_;
  w.word = mat(config.vocab_size, H);
  w.position = mat(config.max_position_embeddings, H);
  w.token_type = mat(config.type_vocab_size, H);
  w.embedding_norm = {vec(H, 1), vec(H, 0)};
  for (int l = 0; l < config.num_layers; ++l)
    w.layers.push_back({lin(H, H), lin(H, H), lin(H, H), lin(H, H), lin(I, H), lin(H, I), {vec(H, 1), vec(H, 0)}, {vec(H, 1), vec(H, 0)}});
  std::vector<std::string> vocab(static_cast<size_t>(config.vocab_size));
  for (int i = 0; i < config.vocab_size; ++i) vocab[static_cast<size_t>(i)] = "tok" + std::to_string(i);
  e->tokenizer_ = std::make_unique<WordPieceTokenizer>(vocab, TokenizerOptions{});
  prepare(w, config);
  return e;
}

std::vector<std::vector<float>> BertEmbedder::embed(const std::vector<std::string>& texts, EmbedPurpose purpose) {
  const std::string& prefix = purpose == EmbedPurpose::kQuery ? query_prefix_ : passage_prefix_;
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(texts.size());
  for (const auto& t : texts) ids.push_back(tokenizer_->encode(prefix + t, max_seq_length_));
  // Batches of similar length share GEMMs best; 32 keeps memory small.
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (size_t start = 0; start < ids.size(); start += 32) {
    std::vector<std::vector<int32_t>> batch(ids.begin() + static_cast<long>(start),
                                            ids.begin() + static_cast<long>(std::min(ids.size(), start + 32)));
    for (auto& v : embed_ids(batch)) out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::vector<float>> BertEmbedder::embed_ids(const std::vector<std::vector<int32_t>>& batch) const {
  const BertWeights& w = *weights_;
  const int H = config_.hidden_size;
  const int heads = config_.num_heads;
  const int d = H / heads;
  const float eps = static_cast<float>(config_.layer_norm_eps);
  const int threads = threads_ > 0 ? threads_ : omp_get_max_threads();

  std::vector<int> offsets = {0};
  for (const auto& seq : batch) {
    if (seq.empty()) throw invalid_input("cannot embed an empty token sequence");
    if (static_cast<int>(seq.size()) > config_.max_position_embeddings)
      throw invalid_input("token sequence longer than the model's " + std::to_string(config_.max_position_embeddings) + " positions");
    for (const int32_t id : seq)
      if (id < 0 || id >= config_.vocab_size) throw invalid_input("token id " + std::to_string(id) + " outside the vocabulary");
    offsets.push_back(offsets.back() + static_cast<int>(seq.size()));
  }
  const int total = offsets.back();
  Matrix x(total, H);
  const int sequences = static_cast<int>(batch.size());
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && sequences > 1)
  for (int s = 0; s < sequences; ++s) {
    const auto& seq = batch[static_cast<size_t>(s)];
    for (size_t t = 0; t < seq.size(); ++t)
      x.row(offsets[static_cast<size_t>(s)] + static_cast<int>(t)) =
          w.word.row(seq[t]) + w.position.row(static_cast<Eigen::Index>(t)) + w.token_type.row(0);
  }

  if (w.packed) {
    // Every stage on the vector kernels; the residual adds and GELU ride in
    // the GEMMs' epilogues. forward() runs the layers over a run of whole
    // sequences (rows of x), in place.
    using encoder_kernels::Epilogue;
    const int I = config_.intermediate_size;
    auto forward = [&](float* rows, int first_seq, int last_seq, int kernel_threads) {
      std::vector<int> local = {0};
      for (int s = first_seq; s < last_seq; ++s)
        local.push_back(local.back() + offsets[static_cast<size_t>(s) + 1] - offsets[static_cast<size_t>(s)]);
      const int n = local.back();
      encoder_kernels::layer_norm(rows, n, H, w.embedding_norm.gamma.data(), w.embedding_norm.beta.data(), eps,
                                  kernel_threads);
      Matrix qkv(n, 3 * H), context(n, H), attended(n, H), inner(n, I);
      for (const Layer& layer : w.layers) {
        encoder_kernels::dense(rows, n, layer.qkv, qkv.data(), Epilogue::kBias, nullptr, kernel_threads);
        encoder_kernels::attention(qkv.data(), local, H, heads, context.data(), kernel_threads);
        encoder_kernels::dense(context.data(), n, layer.attention_out_packed, attended.data(), Epilogue::kBiasResidual,
                               rows, kernel_threads);
        encoder_kernels::layer_norm(attended.data(), n, H, layer.attention_norm.gamma.data(),
                                    layer.attention_norm.beta.data(), eps, kernel_threads);
        encoder_kernels::dense(attended.data(), n, layer.intermediate_packed, inner.data(), Epilogue::kBiasGelu, nullptr,
                               kernel_threads);
        encoder_kernels::dense(inner.data(), n, layer.output_packed, rows, Epilogue::kBiasResidual, attended.data(),
                               kernel_threads);
        encoder_kernels::layer_norm(rows, n, H, layer.output_norm.gamma.data(), layer.output_norm.beta.data(), eps,
                                    kernel_threads);
      }
    };
    if (threads > 1 && sequences >= 2 * threads) {
      // A batch: each thread runs whole sequences through every layer, two
      // runs of ~equal tokens per thread handed out dynamically. No barrier
      // per stage, so on a shared machine a thread that loses its core only
      // delays its own run, and the other thread takes the rest.
      const int runs = 2 * threads;
      std::vector<int> cut = {0};
      for (int s = 1; s < sequences && static_cast<int>(cut.size()) < runs; ++s)
        if (offsets[static_cast<size_t>(s)] >= static_cast<long>(total) * static_cast<int>(cut.size()) / runs)
          cut.push_back(s);
      cut.push_back(sequences);
      const int chunks = static_cast<int>(cut.size()) - 1;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
      for (int c = 0; c < chunks; ++c)
        forward(x.data() + static_cast<size_t>(offsets[static_cast<size_t>(cut[static_cast<size_t>(c)])]) * H,
                cut[static_cast<size_t>(c)], cut[static_cast<size_t>(c) + 1], 1);
    } else {
      // One or a few sequences (a query): the threads share each stage.
      forward(x.data(), 0, sequences, threads);
    }
  } else {
    Eigen::setNbThreads(threads);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    w.embedding_norm.apply(x, eps);
    Matrix context(total, H);
    for (const Layer& layer : w.layers) {
      const Matrix q = layer.query.apply(x);
      const Matrix k = layer.key.apply(x);
      const Matrix v = layer.value.apply(x);
      for (size_t s = 0; s < batch.size(); ++s) {
        const int begin = offsets[s], len = offsets[s + 1] - offsets[s];
        for (int h = 0; h < heads; ++h) {
          Matrix scores = q.block(begin, h * d, len, d) * k.block(begin, h * d, len, d).transpose() * scale;
          for (int r = 0; r < len; ++r) {
            auto row = scores.row(r);
            const float max = row.maxCoeff();
            row = (row.array() - max).exp();
            row /= row.sum();
          }
          context.block(begin, h * d, len, d).noalias() = scores * v.block(begin, h * d, len, d);
        }
      }
      Matrix attended = layer.attention_out.apply(context);
      attended += x;
      layer.attention_norm.apply(attended, eps);
      Matrix inner = layer.intermediate.apply(attended);
      inner = inner.unaryExpr([](float f) { return gelu(f); });
      Matrix out = layer.output.apply(inner);
      out += attended;
      layer.output_norm.apply(out, eps);
      x = std::move(out);
    }
  }

  std::vector<std::vector<float>> result;
  result.reserve(batch.size());
  for (size_t s = 0; s < batch.size(); ++s) {
    const int begin = offsets[s], len = offsets[s + 1] - offsets[s];
    Vector pooled;
    switch (pooling_) {
      case Pooling::kCls: pooled = x.row(begin).transpose(); break;
      case Pooling::kMax: pooled = x.block(begin, 0, len, H).colwise().maxCoeff().transpose(); break;
      case Pooling::kMean: pooled = x.block(begin, 0, len, H).colwise().mean().transpose(); break;
    }
    if (normalize_) {
      const float norm = pooled.norm();
      if (norm > 0) pooled /= norm;
    }
    result.emplace_back(pooled.data(), pooled.data() + H);
  }
  return result;
}

}  // namespace kioku
