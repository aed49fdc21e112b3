#include "search/searcher.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/error.h"
#include "search/query.h"

namespace kioku {

SearchMode parse_search_mode(std::string_view s) {
  if (s == "lexical") return SearchMode::kLexical;
  if (s == "vector") return SearchMode::kVector;
  if (s == "hybrid") return SearchMode::kHybrid;
  throw invalid_input("unknown search mode '" + std::string(s) + "' (expected lexical, vector or hybrid)");
}

std::string_view to_string(SearchMode m) {
  switch (m) {
    case SearchMode::kLexical: return "lexical";
    case SearchMode::kVector: return "vector";
    case SearchMode::kHybrid: return "hybrid";
  }
  return "hybrid";
}

bool matches_filter(const MemoryFilter& f, const Memory& m) {
  if (m.user_id != f.user_id) return false;
  if (!f.types.empty() && std::find(f.types.begin(), f.types.end(), m.type) == f.types.end()) return false;
  if (!f.tags.empty()) {
    bool any = false;
    for (const auto& t : m.tags)
      if (std::find(f.tags.begin(), f.tags.end(), t) != f.tags.end()) any = true;
    if (!any) return false;
  }
  if (f.tier && m.tier != *f.tier) return false;
  if (f.since && m.event_time < *f.since) return false;
  if (f.until && m.event_time >= *f.until) return false;
  if (f.approved && m.approved != *f.approved) return false;
  return true;
}

Searcher::Searcher(MemoryStore& store, Embedder* embedder, const TimeSource& clock)
    : store_(store), embedder_(embedder), clock_(clock) {}

VectorIndex& Searcher::index_for(const std::string& user_id) {
  auto it = indexes_.find(user_id);
  if (it != indexes_.end()) return *it->second;
  auto index = std::make_unique<ExactVectorIndex>(embedder_->dimension());
  for (auto& v : store_.load_embeddings(embedder_->model_id(), user_id)) {
    if (static_cast<int>(v.vector.size()) == index->dimension()) index->upsert(v.memory_id, v.vector);
  }
  return *indexes_.emplace(user_id, std::move(index)).first->second;
}

int Searcher::index_pending(int max) {
  if (!embedder_) return 0;
  int done = 0;
  const int batch = 32;
  while (done < max) {
    auto pending = store_.missing_embeddings(embedder_->model_id(), std::min(batch, max - done));
    if (pending.empty()) break;
    std::vector<std::string> texts;
    texts.reserve(pending.size());
    for (const auto& m : pending) texts.push_back(m.content);
    auto vectors = embedder_->embed(texts, EmbedPurpose::kPassage);
    std::vector<StoredVector> stored;
    stored.reserve(pending.size());
    for (size_t i = 0; i < pending.size(); ++i) stored.push_back({pending[i].id, vectors[i]});
    store_.put_embeddings(embedder_->model_id(), stored);
    for (size_t i = 0; i < pending.size(); ++i) {
      auto it = indexes_.find(pending[i].user_id);
      if (it != indexes_.end()) it->second->upsert(pending[i].id, vectors[i]);
    }
    done += static_cast<int>(pending.size());
  }
  return done;
}

void Searcher::forget(const std::string& memory_id) {
  for (auto& [user, index] : indexes_) index->remove(memory_id);
}

std::vector<std::string> Searcher::vector_candidates(std::string_view query, const MemoryFilter& filter, int k) {
  std::vector<std::string> ids;
  if (!embedder_ || query.empty()) return ids;
  auto qv = embedder_->embed({std::string(query)}, EmbedPurpose::kQuery);
  VectorIndex& index = index_for(filter.user_id);
  // Over-fetch, then filter on the full records: filters are rare enough that
  // a 4x margin usually leaves k survivors.
  auto hits = index.search(qv.at(0), static_cast<size_t>(k) * 4);
  std::vector<std::string> hit_ids;
  for (const auto& h : hits) hit_ids.push_back(h.id);
  for (const auto& m : store_.get_many(filter.user_id, hit_ids)) {
    if (matches_filter(filter, m)) ids.push_back(m.id);
    if (static_cast<int>(ids.size()) >= k) break;
  }
  return ids;
}

std::vector<SearchResult> Searcher::search(std::string_view query, const SearchOptions& options) {
  if (options.limit <= 0) return {};
  const int candidates = std::max(options.candidates, options.limit);
  std::vector<std::string> lexical_ids;
  std::vector<std::string> vector_ids;
  const bool want_lexical = options.mode != SearchMode::kVector || !embedder_;
  const bool want_vector = options.mode != SearchMode::kLexical && embedder_;
  if (want_lexical) {
    for (auto& hit : store_.search_text(query_terms(query), options.filter, candidates)) lexical_ids.push_back(hit.id);
  }
  if (want_vector) vector_ids = vector_candidates(query, options.filter, candidates);

  std::unordered_map<std::string, SearchResult> fused;
  auto fuse = [&](const std::vector<std::string>& ids, double weight, bool lexical) {
    for (size_t i = 0; i < ids.size(); ++i) {
      auto& r = fused[ids[i]];
      r.score += weight / (options.rrf_k + static_cast<double>(i + 1));
      (lexical ? r.lexical_rank : r.vector_rank) = static_cast<int>(i + 1);
    }
  };
  fuse(lexical_ids, options.lexical_weight, true);
  fuse(vector_ids, options.vector_weight, false);

  std::vector<std::string> ids;
  ids.reserve(fused.size());
  for (const auto& [id, r] : fused) ids.push_back(id);
  std::vector<SearchResult> results;
  const TimePoint now = clock_.now();
  for (auto& m : store_.get_many(options.filter.user_id, ids)) {
    SearchResult r = fused[m.id];
    const double age_days = std::max(0.0, std::chrono::duration<double>(now - m.event_time).count() / 86400.0);
    const double recency = std::exp2(-age_days / options.recency_half_life_days);
    r.score *= 1.0 + options.recency_weight * recency + options.importance_weight * m.importance;
    r.memory = std::move(m);
    results.push_back(std::move(r));
  }
  std::sort(results.begin(), results.end(), [](const SearchResult& a, const SearchResult& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.memory.id > b.memory.id;
  });
  if (static_cast<int>(results.size()) > options.limit) results.resize(static_cast<size_t>(options.limit));

  if (options.record_access && !results.empty()) {
    std::vector<std::string> read;
    for (const auto& r : results) read.push_back(r.memory.id);
    store_.record_access(options.filter.user_id, read, now);
    for (auto& r : results) {
      r.memory.last_accessed = now;
      r.memory.access_count += 1;
    }
  }
  return results;
}

}  // namespace kioku
