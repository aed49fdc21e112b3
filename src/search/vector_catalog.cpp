#include "search/vector_catalog.h"

#include <cctype>
#include <unordered_set>

#include "core/hash.h"

namespace kioku {

VectorCatalog::~VectorCatalog() {
  try {
    save();
  } catch (...) {
    // Losing a saved index only costs a rebuild on the next start.
  }
}

std::shared_ptr<VectorCatalog::Entry> VectorCatalog::entry(const std::string& model, const std::string& user_id) {
  std::lock_guard<std::mutex> lock(map_mutex_);
  auto& slot = entries_[{model, user_id}];
  if (!slot) {
    slot = std::make_shared<Entry>();
    slot->model = model;
    slot->user_id = user_id;
  }
  return slot;
}

std::filesystem::path VectorCatalog::index_path(const std::string& model, const std::string& user_id) const {
  std::string name = model;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
  return config_.index_dir / (name + "-" + sha256_hex(user_id).substr(0, 16) + ".hnsw");
}

// Called with e.mutex held exclusively.
void VectorCatalog::load(Entry& e, VectorStore& store, int dim) {
  auto ids = store.embedding_ids(e.model, e.user_id);
  if (ids.size() >= config_.hnsw_threshold) {
    e.approximate = true;
    std::unique_ptr<HnswVectorIndex> hnsw;
    if (!config_.index_dir.empty()) hnsw = HnswVectorIndex::load(index_path(e.model, e.user_id), dim, config_.hnsw);
    if (hnsw) {
      // Reconcile with the store: vectors added or deleted since the save.
      std::unordered_set<std::string> in_store(ids.begin(), ids.end());
      std::vector<std::string> missing;
      for (const auto& id : ids)
        if (!hnsw->contains(id)) missing.push_back(id);
      for (const auto& id : hnsw->ids())
        if (!in_store.count(id)) {
          hnsw->remove(id);
          e.dirty = true;
        }
      for (auto& v : store.get_embeddings(e.model, missing)) {
        if (static_cast<int>(v.vector.size()) == dim) hnsw->upsert(v.memory_id, v.vector);
        e.dirty = true;
      }
    } else {
      hnsw = std::make_unique<HnswVectorIndex>(dim, config_.hnsw, ids.size() + 1024);
      std::vector<std::string> row_ids;
      std::vector<float> rows;
      for (auto& v : store.load_embeddings(e.model, e.user_id)) {
        if (static_cast<int>(v.vector.size()) != dim) continue;
        row_ids.push_back(v.memory_id);
        rows.insert(rows.end(), v.vector.begin(), v.vector.end());
      }
      hnsw->add_parallel(row_ids, rows, config_.build_threads);
      e.dirty = true;
    }
    e.index = std::move(hnsw);
  } else {
    auto exact = std::make_unique<ExactVectorIndex>(dim, config_.int8_vectors ? VectorEncoding::kInt8 : VectorEncoding::kFloat32);
    for (auto& v : store.load_embeddings(e.model, e.user_id))
      if (static_cast<int>(v.vector.size()) == dim) exact->upsert(v.memory_id, v.vector);
    e.index = std::move(exact);
  }
}

void VectorCatalog::read(VectorStore& store, const std::string& model, int dimension, const std::string& user_id,
                         const std::function<void(const VectorIndex&)>& fn) {
  auto e = entry(model, user_id);
  // int8 exact indexes answer through a view that rescores their best
  // candidates with the float vectors, read from the caller's store.
  auto run = [&](const VectorIndex& index) {
    const auto* exact = dynamic_cast<const ExactVectorIndex*>(&index);
    if (!exact || exact->encoding() != VectorEncoding::kInt8) return fn(index);
    RescoringVectorIndex rescored(index, [&](const std::vector<std::string>& ids) {
      std::unordered_map<std::string, std::vector<float>> floats;
      for (auto& v : store.get_embeddings(model, ids)) floats.emplace(v.memory_id, std::move(v.vector));
      return floats;
    });
    fn(rescored);
  };
  {
    std::shared_lock<std::shared_mutex> shared(e->mutex);
    if (e->index) {
      run(*e->index);
      return;
    }
  }
  std::unique_lock<std::shared_mutex> exclusive(e->mutex);
  if (!e->index) load(*e, store, dimension);
  run(*e->index);
}

void VectorCatalog::upsert(const std::string& model, const std::string& user_id, const std::vector<StoredVector>& vectors) {
  if (vectors.empty()) return;
  auto e = entry(model, user_id);
  std::unique_lock<std::shared_mutex> exclusive(e->mutex);
  if (!e->index) return;  // loads from the store, vectors included, on first use
  for (const auto& v : vectors)
    if (static_cast<int>(v.vector.size()) == e->index->dimension()) e->index->upsert(v.memory_id, v.vector);
  e->dirty = true;
}

void VectorCatalog::remove(const std::string& user_id, const std::string& memory_id) {
  std::vector<std::shared_ptr<Entry>> of_user;
  {
    std::lock_guard<std::mutex> lock(map_mutex_);
    for (auto& [key, e] : entries_)
      if (key.second == user_id) of_user.push_back(e);
  }
  for (auto& e : of_user) {
    std::unique_lock<std::shared_mutex> exclusive(e->mutex);
    if (!e->index) continue;
    e->index->remove(memory_id);
    e->dirty = true;
  }
}

void VectorCatalog::clear() {
  std::lock_guard<std::mutex> lock(map_mutex_);
  entries_.clear();
}

std::string VectorCatalog::kind(VectorStore& store, const std::string& model, int dimension, const std::string& user_id) {
  read(store, model, dimension, user_id, [](const VectorIndex&) {});
  auto e = entry(model, user_id);
  std::shared_lock<std::shared_mutex> shared(e->mutex);
  return e->approximate ? "hnsw" : "exact";
}

void VectorCatalog::save() {
  if (config_.index_dir.empty()) return;
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::lock_guard<std::mutex> lock(map_mutex_);
    for (auto& [key, e] : entries_) all.push_back(e);
  }
  for (auto& e : all) {
    std::unique_lock<std::shared_mutex> exclusive(e->mutex);
    if (!e->index || !e->approximate || !e->dirty) continue;
    static_cast<HnswVectorIndex&>(*e->index).save(index_path(e->model, e->user_id));
    e->dirty = false;
  }
}

}  // namespace kioku
