// Hybrid search: full-text (BM25) and vector results fused by weighted
// reciprocal rank fusion, then gently re-ranked by recency and importance.
//
// Design notes:
//  1. Lexical search runs in the store (FTS5); vector search runs over an
//     in-memory index per user, loaded from the store's vectors on first use.
//  2. Fusion (default kScores) normalises each list per query (BM25 by its
//     best hit, cosine by the candidates' range). A lexical hit keeps its
//     lexical score, so vectors never reorder what the words found; a memory
//     only the vectors found enters with vector_share x its normalised
//     cosine, i.e. ahead of lexical hits weaker than that, and the vectors
//     decide alone when no word matched. This is what keeps hybrid from ever
//     scoring below lexical with a weak embedder (tests/eval: LoCoMo with
//     hashing and random-weight encoders), at the price of letting a strong
//     embedder change less. kRankFusion (weighted RRF) is the classic
//     alternative; it lost up to 14 points of recall@10 with weak vectors.
//  3. The recency/importance/tier/confidence boost multiplies the fused score
//     by at most (1 + recency_weight + importance_weight + tier_weight +
//     confidence_weight): it reorders near-ties, it does not overrule relevance.
//  4. Results the caller reads are marked accessed (last_accessed,
//     access_count) unless SearchOptions::record_access is false.
// Thread safety: one Searcher per thread (it holds a store that is not shared).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "embed/embedder.h"
#include "search/hnsw_index.h"
#include "search/vector_index.h"
#include "store/store.h"

namespace kioku {

enum class SearchMode { kLexical, kVector, kHybrid };
SearchMode parse_search_mode(std::string_view s);
std::string_view to_string(SearchMode m);

enum class FusionMethod {
  kRankFusion,  // weighted reciprocal rank fusion
  kScores,      // per-query normalised scores, mixed by vector_share
};

struct SearchOptions {
  MemoryFilter filter;
  int limit = 10;
  SearchMode mode = SearchMode::kHybrid;
  bool record_access = true;
  double lexical_weight = 1.0;
  double vector_weight = 0.5;
  int rrf_k = 60;
  FusionMethod fusion = FusionMethod::kScores;
  double vector_share = 0.15;  // kScores: weight of memories found only by vectors
  double recency_weight = 0.1;
  double importance_weight = 0.1;
  double recency_half_life_days = 30;
  // Seed 001's ranking by lifecycle: a long-term memory gains tier_weight/2,
  // a persistent one tier_weight; confidence adds confidence_weight x overall.
  double tier_weight = 0.1;
  double confidence_weight = 0.1;
  // Extra full-text words ORed into the query (an entity's other names,
  // from the lifecycle layer's alias expansion).
  std::vector<std::string> expansion_terms;
  // How many candidates each list contributes before fusion.
  int candidates = 50;
};

struct SearchResult {
  Memory memory;
  double score = 0;
  int lexical_rank = 0;  // 1-based, 0 = not in the lexical list
  int vector_rank = 0;   // 1-based, 0 = not in the vector list
};

struct SearcherConfig {
  // Where approximate indexes are saved between runs ("" = never saved).
  std::filesystem::path index_dir;
  // At or above this many vectors a user's index is approximate (HNSW);
  // below it, the exact scan is fast enough and always right.
  size_t hnsw_threshold = 20000;
  HnswParams hnsw;
  int build_threads = 2;
};

class Searcher {
 public:
  // embedder may be null: search is then lexical only.
  Searcher(MemoryStore& store, Embedder* embedder, const TimeSource& clock = system_time(),
           SearcherConfig config = {});
  ~Searcher();

  std::vector<SearchResult> search(std::string_view query, const SearchOptions& options);

  // Embeds up to max memories that have no vector for the current model yet
  // and adds them to the store and the loaded indexes. Returns how many.
  int index_pending(int max);

  // Drops a memory from the loaded indexes (after a delete).
  void forget(const std::string& memory_id);

  // Saves approximate indexes that changed since loading (also done by the
  // destructor, best effort).
  void save_indexes();
  // What kind of index serves user_id ("exact", "hnsw"), loading it if needed.
  std::string index_kind(const std::string& user_id);

  Embedder* embedder() const { return embedder_; }

 private:
  VectorIndex& index_for(const std::string& user_id);
  std::vector<VectorHit> vector_candidates(std::string_view query, const MemoryFilter& filter, int k);

  MemoryStore& store_;
  Embedder* embedder_;
  const TimeSource& clock_;
  std::filesystem::path index_path(const std::string& user_id) const;

  struct LoadedIndex {
    std::unique_ptr<VectorIndex> index;
    bool approximate = false;
    bool dirty = false;
  };
  SearcherConfig config_;
  std::map<std::string, LoadedIndex> indexes_;  // by user_id
};

// True when m passes the filter (used on vector candidates; the store applies
// the same rules in SQL for lexical candidates).
bool matches_filter(const MemoryFilter& filter, const Memory& m);

}  // namespace kioku
