#include "search/searcher.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/hash.h"
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
  if (!f.kinds.empty() && std::find(f.kinds.begin(), f.kinds.end(), m.memory_kind) == f.kinds.end()) return false;
  if (f.since && m.event_time < *f.since) return false;
  if (f.until && m.event_time >= *f.until) return false;
  if (f.approved && m.approved != *f.approved) return false;
  return true;
}

Searcher::Searcher(MemoryStore& store, Embedder* embedder, const TimeSource& clock, SearcherConfig config)
    : store_(store), embedder_(embedder), clock_(clock), config_(std::move(config)) {}

Searcher::~Searcher() {
  try {
    save_indexes();
  } catch (...) {
    // Losing a saved index only costs a rebuild on the next start.
  }
}

std::filesystem::path Searcher::index_path(const std::string& user_id) const {
  std::string model = embedder_->model_id();
  for (char& c : model)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
  return config_.index_dir / (model + "-" + sha256_hex(user_id).substr(0, 16) + ".hnsw");
}

VectorIndex& Searcher::index_for(const std::string& user_id) {
  auto it = indexes_.find(user_id);
  if (it != indexes_.end()) return *it->second.index;
  const std::string model = embedder_->model_id();
  const int dim = embedder_->dimension();
  auto ids = store_.embedding_ids(model, user_id);
  LoadedIndex loaded;
  if (ids.size() >= config_.hnsw_threshold) {
    loaded.approximate = true;
    std::unique_ptr<HnswVectorIndex> hnsw;
    if (!config_.index_dir.empty()) hnsw = HnswVectorIndex::load(index_path(user_id), dim, config_.hnsw);
    if (hnsw) {
      // Reconcile with the store: vectors added or deleted since the save.
      std::unordered_map<std::string, bool> in_store;
      for (const auto& id : ids) in_store[id] = true;
      std::vector<std::string> missing;
      for (const auto& id : ids)
        if (!hnsw->contains(id)) missing.push_back(id);
      for (const auto& id : hnsw->ids())
        if (!in_store.count(id)) {
          hnsw->remove(id);
          loaded.dirty = true;
        }
      for (auto& v : store_.get_embeddings(model, missing)) {
        if (static_cast<int>(v.vector.size()) == dim) hnsw->upsert(v.memory_id, v.vector);
        loaded.dirty = true;
      }
    } else {
      hnsw = std::make_unique<HnswVectorIndex>(dim, config_.hnsw, ids.size() + 1024);
      std::vector<std::string> row_ids;
      std::vector<float> rows;
      for (auto& v : store_.load_embeddings(model, user_id)) {
        if (static_cast<int>(v.vector.size()) != dim) continue;
        row_ids.push_back(v.memory_id);
        rows.insert(rows.end(), v.vector.begin(), v.vector.end());
      }
      hnsw->add_parallel(row_ids, rows, config_.build_threads);
      loaded.dirty = true;
    }
    loaded.index = std::move(hnsw);
  } else {
    auto exact = std::make_unique<ExactVectorIndex>(dim);
    for (auto& v : store_.load_embeddings(model, user_id))
      if (static_cast<int>(v.vector.size()) == dim) exact->upsert(v.memory_id, v.vector);
    loaded.index = std::move(exact);
  }
  return *indexes_.emplace(user_id, std::move(loaded)).first->second.index;
}

std::string Searcher::index_kind(const std::string& user_id) {
  if (!embedder_) return "none";
  index_for(user_id);
  return indexes_.at(user_id).approximate ? "hnsw" : "exact";
}

void Searcher::save_indexes() {
  if (config_.index_dir.empty() || !embedder_) return;
  for (auto& [user, loaded] : indexes_) {
    if (!loaded.approximate || !loaded.dirty) continue;
    static_cast<HnswVectorIndex&>(*loaded.index).save(index_path(user));
    loaded.dirty = false;
  }
}

int Searcher::index_pending(int max) {
  if (!embedder_) return 0;
  const std::string model = embedder_->model_id();
  int done = 0;
  const int batch = 32;
  while (done < max) {
    auto pending = store_.missing_embeddings(model, std::min(batch, max - done));
    if (pending.empty()) break;
    std::vector<std::string> hashes;
    hashes.reserve(pending.size());
    for (const auto& m : pending) hashes.push_back(sha256_hex(m.content));
    auto cached = store_.cached_embeddings(model, hashes);
    std::vector<std::string> texts;
    std::vector<size_t> to_embed;
    std::set<std::string> queued;  // the same text twice in one batch is embedded once
    for (size_t i = 0; i < pending.size(); ++i) {
      if (cached.count(hashes[i]) || !queued.insert(hashes[i]).second) continue;
      texts.push_back(pending[i].content);
      to_embed.push_back(i);
    }
    std::vector<std::pair<std::string, std::vector<float>>> fresh;
    if (!texts.empty()) {
      auto vectors = embedder_->embed(texts, EmbedPurpose::kPassage);
      for (size_t j = 0; j < to_embed.size(); ++j) {
        cached[hashes[to_embed[j]]] = vectors[j];
        fresh.emplace_back(hashes[to_embed[j]], std::move(vectors[j]));
      }
      store_.cache_embeddings(model, fresh);
    }
    std::vector<StoredVector> stored;
    stored.reserve(pending.size());
    for (size_t i = 0; i < pending.size(); ++i) stored.push_back({pending[i].id, cached.at(hashes[i])});
    store_.put_embeddings(model, stored);
    for (const auto& v : stored) {
      const Memory& m = pending[&v - stored.data()];
      auto it = indexes_.find(m.user_id);
      if (it == indexes_.end()) continue;
      it->second.index->upsert(v.memory_id, v.vector);
      it->second.dirty = true;
    }
    done += static_cast<int>(pending.size());
  }
  return done;
}

void Searcher::forget(const std::string& memory_id) {
  for (auto& [user, loaded] : indexes_) {
    loaded.index->remove(memory_id);
    loaded.dirty = true;
  }
}

std::vector<VectorHit> Searcher::vector_candidates(std::string_view query, const MemoryFilter& filter, int k) {
  std::vector<VectorHit> ids;
  if (!embedder_ || query.empty()) return ids;
  auto qv = embedder_->embed({std::string(query)}, EmbedPurpose::kQuery);
  VectorIndex& index = index_for(filter.user_id);
  // Over-fetch, then filter on the full records: filters are rare enough that
  // a 4x margin usually leaves k survivors.
  auto hits = index.search(qv.at(0), static_cast<size_t>(k) * 4);
  std::vector<std::string> hit_ids;
  std::unordered_map<std::string, float> score_of;
  for (const auto& h : hits) {
    hit_ids.push_back(h.id);
    score_of[h.id] = h.score;
  }
  for (const auto& m : store_.get_many(filter.user_id, hit_ids)) {
    if (matches_filter(filter, m)) ids.push_back({m.id, score_of[m.id]});
    if (static_cast<int>(ids.size()) >= k) break;
  }
  return ids;
}

std::vector<SearchResult> Searcher::search(std::string_view query, const SearchOptions& options) {
  if (options.limit <= 0) return {};
  const int candidates = std::max(options.candidates, options.limit);
  std::vector<LexicalHit> lexical;
  std::vector<VectorHit> vector;
  const bool want_lexical = options.mode != SearchMode::kVector || !embedder_;
  const bool want_vector = options.mode != SearchMode::kLexical && embedder_;
  if (want_lexical) {
    auto terms = query_terms(query);
    terms.insert(terms.end(), options.expansion_terms.begin(), options.expansion_terms.end());
    lexical = store_.search_text(terms, options.filter, candidates);
  }
  if (want_vector) vector = vector_candidates(query, options.filter, candidates);

  std::unordered_map<std::string, SearchResult> fused;
  for (size_t i = 0; i < lexical.size(); ++i) fused[lexical[i].id].lexical_rank = static_cast<int>(i + 1);
  for (size_t i = 0; i < vector.size(); ++i) fused[vector[i].id].vector_rank = static_cast<int>(i + 1);
  if (options.fusion == FusionMethod::kRankFusion) {
    for (size_t i = 0; i < lexical.size(); ++i)
      fused[lexical[i].id].score += options.lexical_weight / (options.rrf_k + static_cast<double>(i + 1));
    for (size_t i = 0; i < vector.size(); ++i)
      fused[vector[i].id].score += options.vector_weight / (options.rrf_k + static_cast<double>(i + 1));
  } else {
    // Scores, each list normalised to [0, 1] for this query: BM25 by the best
    // hit, cosine by the range of the candidates.
    const double lex_weight = 1.0;
    const double vec_weight = lexical.empty() ? 1.0 : options.vector_share;
    if (!lexical.empty()) {
      const double top = std::max(1e-9, lexical.front().score);
      for (const auto& h : lexical) fused[h.id].score += lex_weight * std::max(0.0, h.score) / top;
    }
    if (!vector.empty()) {
      float hi = vector.front().score, lo = vector.front().score;
      for (const auto& h : vector) {
        hi = std::max(hi, h.score);
        lo = std::min(lo, h.score);
      }
      const double span = std::max(1e-6f, hi - lo);
      for (const auto& h : vector) {
        auto& r = fused[h.id];
        // A lexical hit keeps its lexical order; vectors bring in what the
        // words missed.
        if (r.lexical_rank == 0 || lexical.empty()) r.score += vec_weight * (h.score - lo) / span;
      }
    }
  }

  std::vector<std::string> ids;
  ids.reserve(fused.size());
  for (const auto& [id, r] : fused) ids.push_back(id);
  std::vector<SearchResult> results;
  const TimePoint now = clock_.now();
  for (auto& m : store_.get_many(options.filter.user_id, ids)) {
    SearchResult r = fused[m.id];
    const double age_days = std::max(0.0, std::chrono::duration<double>(now - m.event_time).count() / 86400.0);
    const double recency = std::exp2(-age_days / options.recency_half_life_days);
    const double tier = m.tier == Tier::kPersistent ? 1.0 : m.tier == Tier::kLongTerm ? 0.5 : 0.0;
    r.score *= 1.0 + options.recency_weight * recency + options.importance_weight * m.importance +
               options.tier_weight * tier + options.confidence_weight * m.confidence.overall;
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
