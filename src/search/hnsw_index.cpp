#include "search/hnsw_index.h"

#include <hnswlib/hnswlib.h>

#include <fstream>
#include <thread>

#include "core/error.h"

namespace kioku {

HnswVectorIndex::HnswVectorIndex(int dimension, HnswParams params, size_t initial_capacity)
    : dimension_(dimension),
      params_(params),
      space_(std::make_unique<hnswlib::InnerProductSpace>(static_cast<size_t>(dimension))),
      graph_(std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), std::max<size_t>(initial_capacity, 16),
                                                               params.m, params.ef_construction)) {
  graph_->setEf(params_.ef_search);
}

HnswVectorIndex::~HnswVectorIndex() = default;

void HnswVectorIndex::set_ef_search(size_t ef) {
  params_.ef_search = ef;
  graph_->setEf(ef);
}

void HnswVectorIndex::reserve(size_t needed) {
  if (needed <= graph_->max_elements_) return;
  graph_->resizeIndex(std::max(needed, graph_->max_elements_ * 2));
}

void HnswVectorIndex::upsert(const std::string& id, const std::vector<float>& vector) {
  if (static_cast<int>(vector.size()) != dimension_) {
    throw invalid_input("vector of dimension " + std::to_string(vector.size()) + " does not fit an index of " +
                        std::to_string(dimension_));
  }
  auto it = label_of_.find(id);
  if (it != label_of_.end()) {
    graph_->addPoint(vector.data(), it->second);  // hnswlib updates an existing label in place
    return;
  }
  const size_t label = id_of_label_.size();
  reserve(graph_->cur_element_count + 1);
  graph_->addPoint(vector.data(), label);
  id_of_label_.push_back(id);
  label_of_.emplace(id, label);
}

void HnswVectorIndex::add_parallel(const std::vector<std::string>& ids, const std::vector<float>& rows, int threads) {
  if (rows.size() != ids.size() * static_cast<size_t>(dimension_)) throw invalid_input("rows do not match ids");
  const size_t first = id_of_label_.size();
  reserve(graph_->cur_element_count + ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (label_of_.count(ids[i])) throw invalid_input("add_parallel: id already present: " + ids[i]);
    id_of_label_.push_back(ids[i]);
    label_of_.emplace(ids[i], first + i);
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < ids.size(); i = next++) graph_->addPoint(rows.data() + i * dimension_, first + i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

void HnswVectorIndex::remove(const std::string& id) {
  auto it = label_of_.find(id);
  if (it == label_of_.end()) return;
  graph_->markDelete(it->second);
  id_of_label_[it->second].clear();
  label_of_.erase(it);
}

std::vector<std::string> HnswVectorIndex::ids() const {
  std::vector<std::string> out;
  out.reserve(label_of_.size());
  for (const auto& id : id_of_label_)
    if (!id.empty()) out.push_back(id);
  return out;
}

std::vector<VectorHit> HnswVectorIndex::search(const std::vector<float>& query, size_t k,
                                               const std::function<bool(const std::string&)>& accept) const {
  if (static_cast<int>(query.size()) != dimension_) throw invalid_input("query vector has the wrong dimension");
  std::vector<VectorHit> out;
  if (k == 0 || label_of_.empty()) return out;
  // Without filter support in this hnswlib version, filtered searches ask for
  // more neighbours until enough pass (or the whole index was seen).
  for (size_t want = k;; want *= 4) {
    want = std::min(want, label_of_.size());
    // searchKnn searches with max(ef, want): no setEf here, which would
    // write shared state while other threads search (VectorCatalog).
    auto heap = graph_->searchKnn(query.data(), want);
    std::vector<VectorHit> hits(heap.size());
    for (size_t i = heap.size(); i-- > 0;) {
      hits[i] = {id_of_label_[heap.top().second], 1.0f - heap.top().first};
      heap.pop();
    }
    out.clear();
    for (auto& h : hits) {
      if (h.id.empty() || (accept && !accept(h.id))) continue;
      out.push_back(std::move(h));
      if (out.size() == k) break;
    }
    if (out.size() == k || want >= label_of_.size()) return out;
  }
}

void HnswVectorIndex::save(const std::filesystem::path& path) const {
  std::filesystem::create_directories(path.parent_path());
  const auto tmp_graph = path.string() + ".tmp";
  const auto tmp_ids = path.string() + ".ids.tmp";
  try {
    graph_->saveIndex(tmp_graph);
  } catch (const std::exception& e) {
    throw io_error("cannot save vector index " + path.string() + ": " + e.what());
  }
  {
    std::ofstream out(tmp_ids, std::ios::binary | std::ios::trunc);
    out << "kioku-hnsw-ids 1 " << dimension_ << " " << id_of_label_.size() << "\n";
    for (const auto& id : id_of_label_) out << id << "\n";
    if (!out) throw io_error("cannot save vector index ids " + tmp_ids);
  }
  std::filesystem::rename(tmp_graph, path);
  std::filesystem::rename(tmp_ids, path.string() + ".ids");
}

std::unique_ptr<HnswVectorIndex> HnswVectorIndex::load(const std::filesystem::path& path, int dimension,
                                                       HnswParams params) {
  std::ifstream ids(path.string() + ".ids", std::ios::binary);
  if (!ids || !std::filesystem::exists(path)) return nullptr;
  std::string magic;
  int version = 0, dim = 0;
  size_t labels = 0;
  ids >> magic >> version >> dim >> labels;
  if (magic != "kioku-hnsw-ids" || version != 1 || dim != dimension) return nullptr;
  ids.ignore(1);
  auto index = std::make_unique<HnswVectorIndex>(dimension, params, 16);
  try {
    index->graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(index->space_.get(), path.string());
    index->graph_->setEf(params.ef_search);
  } catch (const std::exception&) {
    return nullptr;
  }
  index->id_of_label_.reserve(labels);
  std::string line;
  for (size_t label = 0; label < labels; ++label) {
    if (!std::getline(ids, line)) return nullptr;
    index->id_of_label_.push_back(line);
    if (!line.empty()) index->label_of_.emplace(line, label);
  }
  if (index->graph_->cur_element_count != labels) return nullptr;
  return index;
}

}  // namespace kioku
