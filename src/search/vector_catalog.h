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
//  4. No request builds or loads an approximate index (issue 15): the first
//     use loads the exact index from the store, which answers at once; at
//     hnsw_threshold vectors a background thread then loads the saved graph
//     (reconciled with the exact index) or builds one, copying vectors from
//     the exact index a chunk at a time under the shared lock, and swaps it
//     in under the exclusive lock, replaying the ids that changed meanwhile.
//  5. Peak memory (issue 15: under 2x the vectors). hnswlib keeps its own copy
//     of each vector beside its links (1.09x the float data at M 16), so a
//     float exact index answering beside it would make 2.1x. Where the config
//     can open a store session of the build's own (open_build_store), an index
//     that will be built loads as int8 codes (0.25x), which answer meanwhile
//     through the rescoring view (float-exact scores of the best candidates),
//     and the graph reads the float vectors from the store in chunks: about
//     1.35x plus the ids. Without one, the float exact index answers and the
//     graph copies from it a chunk at a time, and the exact copy is freed at
//     the swap.
// Thread safety: every method may be called from any thread.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>
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
  // A store session for a background index build, of its own (a caller's
  // session belongs to the caller's thread); see design note 5. Unset: the
  // graph copies from a float exact index.
  std::function<std::shared_ptr<VectorStore>()> open_build_store;
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
  // Blocks until background index builds started so far have finished.
  void wait_for_builds();

 private:
  struct Entry {
    std::shared_mutex mutex;
    std::unique_ptr<VectorIndex> index;  // null until loaded
    bool approximate = false;
    bool dirty = false;
    bool building = false;                 // a background build will replace the exact index
    std::set<std::string> changed;         // ids upserted or removed while building
    std::string model;
    std::string user_id;
  };
  std::shared_ptr<Entry> entry(const std::string& model, const std::string& user_id);
  void load(const std::shared_ptr<Entry>& e, VectorStore& store, int dimension);
  void build(const std::shared_ptr<Entry>& e, int dimension);
  std::filesystem::path index_path(const std::string& model, const std::string& user_id) const;

  SearcherConfig config_;
  std::mutex map_mutex_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Entry>> entries_;  // (model, user)
  std::vector<std::thread> builders_;  // under map_mutex_
  std::atomic<bool> stopping_{false};
};

}  // namespace kioku
