// The Embedder interface: text in, fixed-size float vectors out.
//
// Implementations: the in-process BERT encoder (embed/bert/...), remote
// providers (Ollama, OpenAI-compatible), and HashingEmbedder, a deterministic
// bag-of-words embedder used in tests and as an offline fallback.
// Thread safety: embed() may be called from one thread at a time unless an
// implementation says otherwise.
#pragma once

#include <string>
#include <vector>

namespace kioku {

// Asymmetric models (e5, bge) embed queries and passages differently.
enum class EmbedPurpose { kQuery, kPassage };

class Embedder {
 public:
  virtual ~Embedder() = default;
  // One L2-normalised vector of dimension() floats per input text, in order.
  // Throws kioku::Error (kUnavailable for unreachable services).
  virtual std::vector<std::vector<float>> embed(const std::vector<std::string>& texts, EmbedPurpose purpose) = 0;
  virtual int dimension() const = 0;
  // Identifies the model, e.g. "minilm:all-MiniLM-L6-v2"; stored next to each
  // vector so that a model switch can tell which vectors are stale.
  virtual std::string model_id() const = 0;
};

}  // namespace kioku
