// HnswVectorIndex: approximate nearest neighbours (hnswlib, inner product on
// normalised vectors) for large collections; ExactVectorIndex stays the
// ground truth it is measured against (bench/vector_bench.cpp).
//
// Persistence: save() writes the graph (<path>) and the label->id table
// (<path>.ids) next to it; load() maps them back, so a restart does not
// rebuild the graph. Callers reconcile the loaded index with the store
// (ids added or deleted since the save) through upsert()/remove().
// Thread safety: search() may run on many threads at once (it writes no shared
// state); upsert, remove, save need exclusive use (VectorCatalog locks). Build parallelism:
// add_parallel() uses several threads, which hnswlib supports for insertion.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "search/vector_index.h"

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
class InnerProductSpace;
}  // namespace hnswlib

namespace kioku {

struct HnswParams {
  size_t m = 16;                 // graph degree
  size_t ef_construction = 100;  // build-time beam width
  size_t ef_search = 128;        // query-time beam width: recall@10 0.98 at 1M (bench/README.md)
};

class HnswVectorIndex final : public VectorIndex {
 public:
  HnswVectorIndex(int dimension, HnswParams params = {}, size_t initial_capacity = 1024);
  ~HnswVectorIndex() override;

  int dimension() const override { return dimension_; }
  size_t size() const override { return label_of_.size(); }
  void upsert(const std::string& id, const std::vector<float>& vector) override;
  void remove(const std::string& id) override;
  std::vector<VectorHit> search(const std::vector<float>& query, size_t k,
                                const std::function<bool(const std::string&)>& accept = {}) const override;

  // Inserts many vectors with `threads` threads (ids must be new).
  void add_parallel(const std::vector<std::string>& ids, const std::vector<float>& rows, int threads);
  // Not while other threads search.
  void set_ef_search(size_t ef);
  bool contains(const std::string& id) const { return label_of_.count(id) > 0; }
  std::vector<std::string> ids() const;

  // Throws io_error on failure; a partial file is never left under path.
  void save(const std::filesystem::path& path) const;
  // Returns nullptr when the files are missing or do not match dimension.
  static std::unique_ptr<HnswVectorIndex> load(const std::filesystem::path& path, int dimension,
                                               HnswParams params = {});

 private:
  void reserve(size_t needed);

  int dimension_;
  HnswParams params_;
  std::unique_ptr<hnswlib::InnerProductSpace> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph_;
  std::unordered_map<std::string, size_t> label_of_;
  std::vector<std::string> id_of_label_;  // "" for deleted labels
};

}  // namespace kioku
