// Vector indexes over L2-normalised embeddings; scores are inner products
// (= cosine similarity). ExactVectorIndex scans everything and is the ground
// truth the approximate index is measured against.
//
// The scan is memory-bound: rows are read once with the widest vector
// instructions the CPU has (AVX-512 / AVX2+FMA / scalar, chosen at run time)
// on up to `threads` threads (the caller and helpers that claim slices of rows,
// each keeping its own top candidates; the caller never waits for a helper that
// has not started), so
// a search costs one pass over the data plus O(k log k).
// Storage: float32 rows, or (VectorEncoding::kInt8) one int8 code per
// dimension with a per-row scale, a quarter of the memory; int8 scores are
// approximate, so VectorCatalog rescoring them with the stored float vectors
// (RescoringVectorIndex) is how they are searched.
// Thread safety: none for writes; const methods (search) may run
// concurrently. The Searcher/VectorCatalog owns indexes and serialises writes.
#pragma once

#include <cstdint>
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

enum class VectorEncoding { kFloat32, kInt8 };

class ExactVectorIndex final : public VectorIndex {
 public:
  // threads <= 0: all cores. Small indexes are scanned on one thread anyway.
  explicit ExactVectorIndex(int dimension, VectorEncoding encoding = VectorEncoding::kFloat32, int threads = 0);
  int dimension() const override { return dimension_; }
  size_t size() const override { return ids_.size(); }
  VectorEncoding encoding() const { return encoding_; }
  // Bytes held by the vectors themselves (not the ids).
  size_t vector_bytes() const { return floats_.size() * sizeof(float) + codes_.size() + scales_.size() * sizeof(float); }
  void upsert(const std::string& id, const std::vector<float>& vector) override;
  // Room for `rows` rows, so a load of known size never holds the old and
  // the grown buffer at once.
  void reserve(size_t rows);
  void remove(const std::string& id) override;
  // Exact for float32; for int8 the scores are those of the dequantised rows.
  std::vector<VectorHit> search(const std::vector<float>& query, size_t k,
                                const std::function<bool(const std::string&)>& accept = {}) const override;

  // For building another index from this one without a second copy from
  // the store: the stored float vector of id (dimension() floats, valid until
  // the next change) or nullptr (also for every row of an int8 index), and
  // every id.
  const float* find(const std::string& id) const;
  bool contains(const std::string& id) const { return row_of_.count(id) > 0; }
  const std::vector<std::string>& ids() const { return ids_; }

  // The instruction set the scan runs on here: "avx512", "avx2" or "scalar".
  static const char* kernel_name();

  struct Candidate {  // a row and its score, inside a scan
    float score;
    uint32_t row;
  };

 private:
  // The best `count` rows by score (any order), accept ignored.
  std::vector<Candidate> top_rows(const float* query, size_t count) const;
  void set_row(size_t row, const std::vector<float>& vector);

  int dimension_;
  VectorEncoding encoding_;
  int threads_;
  std::vector<float> floats_;   // kFloat32: size() rows of dimension_
  std::vector<int8_t> codes_;   // kInt8: size() rows of dimension_ codes
  std::vector<float> scales_;   // kInt8: per row, value = code * scale
  std::vector<std::string> ids_;
  std::unordered_map<std::string, size_t> row_of_;
};

// A view that searches an int8 index for `candidates(k)` rows and rescores
// them with their float vectors (loaded by `load_floats`, e.g. from the
// store), returning the k best by exact inner product. Lives as long as one
// VectorCatalog::read call; write methods are not supported (kInternal).
class RescoringVectorIndex final : public VectorIndex {
 public:
  using FloatLoader = std::function<std::unordered_map<std::string, std::vector<float>>(const std::vector<std::string>&)>;
  RescoringVectorIndex(const VectorIndex& approximate, FloatLoader load_floats, size_t min_candidates = 50,
                       size_t candidates_per_hit = 4)
      : approximate_(approximate), load_(std::move(load_floats)), min_candidates_(min_candidates),
        per_hit_(candidates_per_hit) {}
  int dimension() const override { return approximate_.dimension(); }
  size_t size() const override { return approximate_.size(); }
  void upsert(const std::string& id, const std::vector<float>& vector) override;
  void remove(const std::string& id) override;
  std::vector<VectorHit> search(const std::vector<float>& query, size_t k,
                                const std::function<bool(const std::string&)>& accept = {}) const override;


 private:
  const VectorIndex& approximate_;
  FloatLoader load_;
  size_t min_candidates_;
  size_t per_hit_;
};

}  // namespace kioku
