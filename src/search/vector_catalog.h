// VectorCatalog: the in-memory vector indexes of one data directory, one per
// (model, user), shared by every Searcher of a process (the Engine owns one).
//
// Design notes:
//  1. An index is loaded from the store on first use and then kept in step
//     incrementally: whoever writes vectors (Searcher::index_pending) upserts
//     them here, deletes remove them. Nothing reopens or rebuilds an index
//     because vectors moved, so chat, search and the bots all see a vector
//     as soon as it is stored, through any session.
//  2. Locking: a map mutex guards the table of entries; each entry has a
//     shared mutex: searches hold it shared (many at once), upserts and
//     removes hold it exclusively, and loading holds it exclusively, so a
//     slow first load of one user never blocks another user's searches.
//  3. Approximate (HNSW) indexes are saved to index_dir when they changed
//     (save(), and best effort on destruction), and reconciled with the
//     store when loaded again.
// Thread safety: every method may be called from any thread.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "embed/embedder.h"
#include "search/hnsw_index.h"
#include "search/vector_index.h"
#include "store/store.h"

namespace kioku {

struct SearcherConfig {
  // Where approximate indexes are saved between runs ("" = never saved).
  std::filesystem::path index_dir;
  // At or above this many vectors a user's index is approximate (HNSW);
  // below it, the exact scan is fast enough and always right.
  size_t hnsw_threshold = 20000;
  HnswParams hnsw;
  int build_threads = 2;
  // Chat turns are embedded with the turn before and after them (those stored
  // when the turn is embedded) in the key: "Yes, last weekend!" alone means
  // little. The memory's content itself is unchanged.
  bool chat_context_in_key = false;
  // Exact indexes keep int8 codes (a quarter of the memory) and rescore their
  // best candidates with the float vectors from the store ([search]
  // int8_vectors).
  bool int8_vectors = false;
};

class VectorCatalog {
 public:
  explicit VectorCatalog(SearcherConfig config = {}) : config_(std::move(config)) {}
  ~VectorCatalog();
  VectorCatalog(const VectorCatalog&) = delete;
  VectorCatalog& operator=(const VectorCatalog&) = delete;

  const SearcherConfig& config() const { return config_; }

  // Runs fn on the index of (model, user) under a shared lock, loading it
  // from store first if needed (store is the caller's session).
  void read(VectorStore& store, const std::string& model, int dimension, const std::string& user_id,
            const std::function<void(const VectorIndex&)>& fn);
  // Adds or replaces vectors of memories of user_id, when that user's index
  // is loaded (an index not loaded yet will read them from the store).
  void upsert(const std::string& model, const std::string& user_id, const std::vector<StoredVector>& vectors);
  // Drops a memory from every loaded index of user_id.
  void remove(const std::string& user_id, const std::string& memory_id);
  // Forgets every loaded index (e.g. after a restore); they reload on use.
  void clear();

  // "exact" or "hnsw" (loading the index if needed).
  std::string kind(VectorStore& store, const std::string& model, int dimension, const std::string& user_id);
  // Saves approximate indexes that changed since they were loaded or saved.
  void save();

 private:
  struct Entry {
    std::shared_mutex mutex;
    std::unique_ptr<VectorIndex> index;  // null until loaded
    bool approximate = false;
    bool dirty = false;
    std::string model;
    std::string user_id;
  };
  std::shared_ptr<Entry> entry(const std::string& model, const std::string& user_id);
  void load(Entry& e, VectorStore& store, int dimension);
  std::filesystem::path index_path(const std::string& model, const std::string& user_id) const;

  SearcherConfig config_;
  std::mutex map_mutex_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Entry>> entries_;  // (model, user)
};

}  // namespace kioku
