// CachedEmbedder: an Embedder that remembers every vector it was given in a
// file outside the store, so that re-running an evaluation with other search
// settings costs seconds instead of re-embedding the whole dataset.
// One file per model under the cache folder: <model id>.vectors, records of
// (SHA-256 of purpose + text, dimension floats) appended as they are made;
// a torn last record (a killed run) is ignored on load.
// Thread safety: as the wrapped embedder (one thread at a time).
// Failure: an unwritable cache throws kIo at construction; the wrapped
// embedder's errors pass through.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "embed/embedder.h"

namespace kioku {

class CachedEmbedder final : public Embedder {
 public:
  CachedEmbedder(Embedder& inner, const std::filesystem::path& cache_dir);
  ~CachedEmbedder() override;
  CachedEmbedder(const CachedEmbedder&) = delete;
  CachedEmbedder& operator=(const CachedEmbedder&) = delete;

  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts, EmbedPurpose purpose) override;
  int dimension() const override { return inner_.dimension(); }
  std::string model_id() const override { return inner_.model_id(); }

  size_t hits() const { return hits_; }
  size_t misses() const { return misses_; }
  const std::filesystem::path& file() const { return path_; }

 private:
  Embedder& inner_;
  std::filesystem::path path_;
  std::FILE* out_ = nullptr;
  std::unordered_map<std::string, std::vector<float>> vectors_;
  size_t hits_ = 0, misses_ = 0;
};

}  // namespace kioku
