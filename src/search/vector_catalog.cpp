#include "search/vector_catalog.h"

#include <cctype>
#include <unordered_set>

#include "core/hash.h"

namespace kioku {

VectorCatalog::~VectorCatalog() {
  stopping_ = true;
  wait_for_builds();
  try {
    save();
  } catch (...) {
    // Losing a saved index only costs a rebuild on the next start.
  }
}

void VectorCatalog::wait_for_builds() {
  for (;;) {
    std::vector<std::thread> running;
    {
      std::lock_guard<std::mutex> lock(map_mutex_);
      running.swap(builders_);
    }
    if (running.empty()) return;
    for (auto& t : running) t.join();
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

// Called with e->mutex held exclusively: the exact index, from the store's
// vectors; an approximate one is then prepared in the background (design
// notes 4 and 5).
void VectorCatalog::load(const std::shared_ptr<Entry>& e, VectorStore& store, int dim) {
  const auto count = static_cast<size_t>(store.count_embeddings(e->model, e->user_id));
  // int8 vectors stay in the exact index at every size (its quarter-size
  // codes are the point; the rescoring view keeps the answers float-exact).
  const bool will_build = count >= config_.hnsw_threshold && !stopping_ && !config_.int8_vectors;
  const bool codes = config_.int8_vectors || (will_build && config_.open_build_store);
  auto exact = std::make_unique<ExactVectorIndex>(dim, codes ? VectorEncoding::kInt8 : VectorEncoding::kFloat32);
  // Streamed into a buffer of the right size: the index's copy is the only
  // one (issue 15, peak memory).
  exact->reserve(count);
  store.for_each_embedding(e->model, e->user_id, [&](const std::string& id, std::vector<float>& v) {
    if (static_cast<int>(v.size()) == dim) exact->upsert(id, v);
  });
  e->index = std::move(exact);
  e->approximate = false;
  if (!will_build) return;
  e->building = true;
  e->changed.clear();
  std::lock_guard<std::mutex> lock(map_mutex_);
  builders_.emplace_back([this, e, dim] {
    try {
      build(e, dim);
    } catch (...) {
      // The exact index keeps answering; the next process tries again.
      std::unique_lock<std::shared_mutex> exclusive(e->mutex);
      e->building = false;
      e->changed.clear();
    }
  });
}

namespace {

// The float rows of those of `wanted` that have one, appended to got/rows:
// from the store when the exact index holds int8 codes, else from the exact
// index (the caller holds its lock).
void float_rows(VectorStore* store, const std::string& model, const ExactVectorIndex* exact, int dim,
                const std::vector<std::string>& wanted, std::vector<std::string>& got, std::vector<float>& rows) {
  if (store) {
    for (const auto& v : store->get_embeddings(model, wanted))
      if (static_cast<int>(v.vector.size()) == dim) {
        got.push_back(v.memory_id);
        rows.insert(rows.end(), v.vector.begin(), v.vector.end());
      }
    return;
  }
  for (const auto& id : wanted)
    if (const float* v = exact->find(id)) {
      got.push_back(id);
      rows.insert(rows.end(), v, v + dim);
    }
}

}  // namespace

// On a background thread: see design notes 4 and 5.
void VectorCatalog::build(const std::shared_ptr<Entry>& e, int dim) {
  std::vector<std::string> ids;
  bool from_store = false;
  {
    std::shared_lock<std::shared_mutex> shared(e->mutex);
    const auto& exact = static_cast<const ExactVectorIndex&>(*e->index);
    ids = exact.ids();
    from_store = exact.encoding() == VectorEncoding::kInt8;
  }
  std::shared_ptr<VectorStore> store;
  if (from_store) {
    store = config_.open_build_store();
    if (!store) throw std::runtime_error("no store for the index build");
  }
  bool dirty = false;
  std::unique_ptr<HnswVectorIndex> hnsw;
  if (!config_.index_dir.empty()) hnsw = HnswVectorIndex::load(index_path(e->model, e->user_id), dim, config_.hnsw);
  std::vector<std::string> to_add;
  if (hnsw) {
    // Reconcile the saved graph with the vectors loaded now.
    std::unordered_set<std::string> current(ids.begin(), ids.end());
    for (const auto& id : hnsw->ids())
      if (!current.count(id)) {
        hnsw->remove(id);
        dirty = true;
      }
    for (const auto& id : ids)
      if (!hnsw->contains(id)) to_add.push_back(id);
  } else {
    hnsw = std::make_unique<HnswVectorIndex>(dim, config_.hnsw, ids.size() + 1024);
    to_add = std::move(ids);
  }
  const size_t chunk = 1024;  // rows in flight beside the graph: a few MB
  std::vector<std::string> wanted, chunk_ids;
  std::vector<float> rows;
  for (size_t from = 0; from < to_add.size(); from += chunk) {
    if (stopping_) throw std::runtime_error("stopping");
    wanted.assign(to_add.begin() + static_cast<long>(from),
                  to_add.begin() + static_cast<long>(std::min(to_add.size(), from + chunk)));
    chunk_ids.clear();
    rows.clear();
    if (store) {
      // Those removed since have no vector any more; those changed are replayed below.
      float_rows(store.get(), e->model, nullptr, dim, wanted, chunk_ids, rows);
    } else {
      std::shared_lock<std::shared_mutex> shared(e->mutex);
      float_rows(nullptr, e->model, &static_cast<const ExactVectorIndex&>(*e->index), dim, wanted, chunk_ids, rows);
    }
    hnsw->add_parallel(chunk_ids, rows, config_.build_threads);
    dirty = true;
  }
  std::vector<float>().swap(rows);
  std::unique_lock<std::shared_mutex> exclusive(e->mutex);
  const auto& exact = static_cast<const ExactVectorIndex&>(*e->index);
  // Replayed as the exact index has them now: what it lacks was removed.
  wanted.clear();
  for (const auto& id : e->changed)
    if (exact.contains(id)) wanted.push_back(id);
    else hnsw->remove(id);
  chunk_ids.clear();
  float_rows(store.get(), e->model, &exact, dim, wanted, chunk_ids, rows);
  for (size_t i = 0; i < chunk_ids.size(); ++i)
    hnsw->upsert(chunk_ids[i], std::vector<float>(rows.begin() + static_cast<long>(i) * dim,
                                                  rows.begin() + static_cast<long>(i + 1) * dim));
  dirty = dirty || !e->changed.empty();
  e->changed.clear();
  e->index = std::move(hnsw);
  e->approximate = true;
  e->dirty = e->dirty || dirty;
  e->building = false;
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
  if (!e->index) load(e, store, dimension);
  run(*e->index);
}

void VectorCatalog::upsert(const std::string& model, const std::string& user_id, const std::vector<StoredVector>& vectors) {
  if (vectors.empty()) return;
  auto e = entry(model, user_id);
  std::unique_lock<std::shared_mutex> exclusive(e->mutex);
  if (!e->index) return;  // loads from the store, vectors included, on first use
  for (const auto& v : vectors)
    if (static_cast<int>(v.vector.size()) == e->index->dimension()) {
      e->index->upsert(v.memory_id, v.vector);
      if (e->building) e->changed.insert(v.memory_id);
    }
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
    if (e->building) e->changed.insert(memory_id);
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
