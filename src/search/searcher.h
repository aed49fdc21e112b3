// Hybrid search: full-text (BM25) and vector results fused by normalised
// scores, neighbouring chat turns lending each other score, then gently
// re-ranked by time expressions, recency and importance.
//
// Design notes:
//  1. Lexical search runs in the store (FTS5); vector search runs over an
//     in-memory index per user, loaded from the store's vectors on first use.
//  2. Fusion (default kConvex, tuned with the real all-MiniLM-L6-v2 on
//     LoCoMo: docs/RETRIEVAL.md) normalises each list per query (BM25 by its
//     best hit, cosine by the candidates' range) and mixes them half and
//     half. kScores keeps lexical hits in BM25 order and lets a memory only
//     the vectors found enter with vector_share x its normalised cosine: it
//     never scores below lexical even with a weak embedder (hashing, random
//     weights: tests/eval), at the price of letting a strong one change
//     little (recall@10 0.644 vs 0.681 for kConvex with MiniLM). kRankFusion
//     is weighted RRF.
//  2b. Neighbour propagation (neighbour_weight): each chat-turn candidate
//     lends half its score to the turn before and after it,
//     which join the candidates: the answer to a question is often the turn
//     after the one that shares its words.
//  2c. Time-aware: periods the query names boost memories inside them.
//  2d. Speaker, session and coverage signals (search/rank_signals.h): a
//     turn said by the person the query names, a turn in a session (day)
//     holding a strong candidate, and a memory holding more of the query's
//     words score higher. Defaults tuned on LoCoMo (docs/RETRIEVAL.md).
//  3. The recency/importance/tier/confidence boost multiplies the fused score
//     by at most (1 + recency_weight + importance_weight + tier_weight +
//     confidence_weight): it reorders near-ties, it does not overrule relevance.
//  4. Results the caller reads are marked accessed (last_accessed,
//     access_count) unless SearchOptions::record_access is false.
// Thread safety: one Searcher per thread (it holds a store that is not shared);
// the VectorCatalog behind it is shared and thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "embed/embedder.h"
#include "search/hnsw_index.h"
#include "search/vector_catalog.h"
#include "search/vector_index.h"
#include "store/store.h"

namespace kioku {

enum class SearchMode { kLexical, kVector, kHybrid };
SearchMode parse_search_mode(std::string_view s);
std::string_view to_string(SearchMode m);

enum class FusionMethod {
  kRankFusion,  // weighted reciprocal rank fusion (rrf_k; Graphiti uses k = 1)
  kScores,      // lexical first: vectors only add what the words missed (vector_share)
  kConvex,      // normalised scores mixed: (1 - vector_share) x lexical + vector_share x vector
};
FusionMethod parse_fusion_method(std::string_view s);
std::string_view to_string(FusionMethod m);

struct SearchOptions {
  MemoryFilter filter;
  int limit = 10;
  SearchMode mode = SearchMode::kHybrid;
  bool record_access = true;
  double lexical_weight = 1.0;
  double vector_weight = 0.5;
  int rrf_k = 60;
  // Defaults tuned on LoCoMo with the real all-MiniLM-L6-v2 (docs/RETRIEVAL.md).
  FusionMethod fusion = FusionMethod::kConvex;
  double vector_share = 0.5;  // kScores: weight of memories found only by vectors; kConvex: the vectors' share
  // Neighbour propagation: a chat turn also scores neighbour_weight x the
  // best fused score of the turn just before or after it (same user, type
  // chat, by event time then id), and such neighbours join the candidates. A
  // turn alone often lacks the words of its question ("Yes, last weekend!").
  double neighbour_weight = 0.5;
  // Time-aware: when the query names a period ("in May 2023", "last year"),
  // memories whose event time falls inside it score x (1 + time_boost).
  double time_boost = 0.5;
  // Near-duplicate suppression: a hit whose words overlap a better hit's by
  // at least this Jaccard share is dropped (0 = off).
  double duplicate_similarity = 0;
  // Speaker-aware (search/rank_signals.h): when the query names a speaker of
  // the candidate chat turns, turns that speaker said score x (1 +
  // speaker_boost); with drop_speaker_terms the names leave the full-text
  // query (they match every turn that speaker said or was addressed in).
  double speaker_boost = 0.5;
  bool drop_speaker_terms = false;
  // Query coverage: x (1 + coverage_weight x share of the query's content
  // words the memory contains).
  double coverage_weight = 0.3;
  // Session-level: a chat turn gains session_weight x the best score in its
  // session (same day); session_diversity < 1 multiplies the n-th hit from
  // one session by session_diversity^n when the top is filled (1 = off).
  double session_weight = 0.3;
  double session_diversity = 1;
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
  // How many candidates each list contributes before fusion (75: LoCoMo
  // recall@10 0.811 against 0.797 at 50, for 39 ms p50 against 29).
  int candidates = 75;
};

struct SearchResult {
  Memory memory;
  double score = 0;
  int lexical_rank = 0;  // 1-based, 0 = not in the lexical list
  int vector_rank = 0;   // 1-based, 0 = not in the vector list
};

class Searcher {
 public:
  // embedder may be null: search is then lexical only. The vector indexes
  // live in `vectors`, shared with the process's other Searchers (the
  // Engine's); without one the Searcher keeps a catalog of its own.
  Searcher(MemoryStore& store, Embedder* embedder, const TimeSource& clock = system_time(),
           SearcherConfig config = {});
  Searcher(MemoryStore& store, Embedder* embedder, std::shared_ptr<VectorCatalog> vectors,
           const TimeSource& clock = system_time());
  ~Searcher();

  std::vector<SearchResult> search(std::string_view query, const SearchOptions& options);

  // Embeds up to max memories that have no vector for the current model yet
  // and adds them to the store and the loaded indexes. Returns how many.
  int index_pending(int max);

  // Drops a memory of user_id from the loaded indexes (after a delete).
  void forget(const std::string& user_id, const std::string& memory_id);

  // Saves approximate indexes that changed since loading (also done by the
  // destructor, best effort).
  void save_indexes();
  // What kind of index serves user_id now ("exact", "hnsw"), loading it if
  // needed; a large one answers exactly while its HNSW index is prepared in
  // the background (vector_catalog.h).
  std::string index_kind(const std::string& user_id);
  // Blocks until background index builds have finished (tests, benchmarks,
  // `kioku index` before saving).
  void wait_for_indexes();

  Embedder* embedder() const { return embedder_; }

 private:
  // The text each memory is embedded as (its content, plus context when
  // configured).
  std::vector<std::string> embedding_keys(const std::vector<Memory>& memories);
  // Rows of candidates, loaded the way the ranking needs them.
  using CandidateLoader = std::function<std::vector<Memory>(const std::vector<std::string>&)>;
  // The best k vector hits that pass `filter`. Where the filter is checked
  // on rows, they are loaded with `load` and the kept ones moved into
  // `loaded`, so the ranking does not load them a second time.
  std::vector<VectorHit> vector_candidates(std::string_view query, const MemoryFilter& filter, int k,
                                           const CandidateLoader& load, std::vector<Memory>& loaded);

  MemoryStore& store_;
  Embedder* embedder_;
  const TimeSource& clock_;
  std::shared_ptr<VectorCatalog> vectors_;
};

// True when m passes the filter (used on vector candidates; the store applies
// the same rules in SQL for lexical candidates).
bool matches_filter(const MemoryFilter& filter, const Memory& m);

}  // namespace kioku
