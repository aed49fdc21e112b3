// Vector indexes over L2-normalised embeddings; scores are inner products
// (= cosine similarity). ExactVectorIndex scans everything and is the ground
// truth the approximate index is measured against.
// Thread safety: none; the Searcher owns its indexes and serialises access.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace kioku {

struct VectorHit {
  std::string id;
  float score = 0;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  virtual int dimension() const = 0;
  virtual size_t size() const = 0;
  // Adds or replaces the vector of id. Throws invalid_input on a wrong dimension.
  virtual void upsert(const std::string& id, const std::vector<float>& vector) = 0;
  virtual void remove(const std::string& id) = 0;
  // The k best hits, best first; accept (if set) filters candidates by id.
  virtual std::vector<VectorHit> search(const std::vector<float>& query, size_t k,
                                        const std::function<bool(const std::string&)>& accept = {}) const = 0;
};

class ExactVectorIndex final : public VectorIndex {
 public:
  explicit ExactVectorIndex(int dimension) : dimension_(dimension) {}
  int dimension() const override { return dimension_; }
  size_t size() const override { return ids_.size(); }
  void upsert(const std::string& id, const std::vector<float>& vector) override;
  void remove(const std::string& id) override;
  std::vector<VectorHit> search(const std::vector<float>& query, size_t k,
                                const std::function<bool(const std::string&)>& accept = {}) const override;

  // For building another index from this one without a second copy from
  // the store: the stored vector of id (dimension() floats, valid until the
  // next change) or nullptr, and every id.
  const float* find(const std::string& id) const;
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  int dimension_;
  std::vector<float> data_;  // row-major, size() rows of dimension_ floats
  std::vector<std::string> ids_;
  std::unordered_map<std::string, size_t> row_of_;
};

}  // namespace kioku
