// HashingEmbedder: a deterministic bag-of-words embedder (signed feature
// hashing of word tokens). It needs no model file, so tests use it as the
// reference embedder and search can fall back to it offline. It captures word
// overlap, not meaning. Thread-safe (stateless).
#pragma once

#include "embed/embedder.h"

namespace kioku {

class HashingEmbedder final : public Embedder {
 public:
  explicit HashingEmbedder(int dimension = 256) : dimension_(dimension) {}
  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts, EmbedPurpose purpose) override;
  int dimension() const override { return dimension_; }
  std::string model_id() const override { return "hashing-" + std::to_string(dimension_); }

 private:
  int dimension_;
};

}  // namespace kioku
