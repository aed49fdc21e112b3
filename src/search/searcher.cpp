#include "search/searcher.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/hash.h"
#include "core/text.h"
#include "search/query.h"
#include "search/rank_signals.h"
#include "search/time_expr.h"

namespace kioku {

SearchMode parse_search_mode(std::string_view s) {
  if (s == "lexical") return SearchMode::kLexical;
  if (s == "vector") return SearchMode::kVector;
  if (s == "hybrid") return SearchMode::kHybrid;
  throw invalid_input("unknown search mode '" + std::string(s) + "' (expected lexical, vector or hybrid)");
}

FusionMethod parse_fusion_method(std::string_view s) {
  if (s == "rrf") return FusionMethod::kRankFusion;
  if (s == "scores") return FusionMethod::kScores;
  if (s == "convex") return FusionMethod::kConvex;
  throw invalid_input("unknown fusion '" + std::string(s) + "' (expected rrf, scores or convex)");
}

std::string_view to_string(FusionMethod m) {
  switch (m) {
    case FusionMethod::kRankFusion: return "rrf";
    case FusionMethod::kScores: return "scores";
    case FusionMethod::kConvex: return "convex";
  }
  return "scores";
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
    : Searcher(store, embedder, std::make_shared<VectorCatalog>(std::move(config)), clock) {}

Searcher::Searcher(MemoryStore& store, Embedder* embedder, std::shared_ptr<VectorCatalog> vectors,
                   const TimeSource& clock)
    : store_(store), embedder_(embedder), clock_(clock), vectors_(std::move(vectors)) {}

Searcher::~Searcher() = default;

std::string Searcher::index_kind(const std::string& user_id) {
  if (!embedder_) return "none";
  return vectors_->kind(store_, embedder_->model_id(), embedder_->dimension(), user_id);
}

void Searcher::save_indexes() { vectors_->save(); }

void Searcher::wait_for_indexes() { vectors_->wait_for_builds(); }

std::vector<std::string> Searcher::embedding_keys(const std::vector<Memory>& memories) {
  std::vector<std::string> keys;
  keys.reserve(memories.size());
  for (const auto& m : memories) keys.push_back(m.content);
  if (!vectors_->config().chat_context_in_key) return keys;
  // Per user: the neighbours of each chat turn, then their contents.
  std::map<std::string, std::vector<size_t>> chats_of_user;
  for (size_t i = 0; i < memories.size(); ++i)
    if (memories[i].type == memory_types::kChat) chats_of_user[memories[i].user_id].push_back(i);
  for (const auto& [user, which] : chats_of_user) {
    std::vector<std::string> ids;
    for (size_t i : which) ids.push_back(memories[i].id);
    const auto adjacent = store_.adjacent(user, ids);
    std::vector<std::string> around;
    for (const auto& [id, pair] : adjacent) {
      if (!pair.first.empty()) around.push_back(pair.first);
      if (!pair.second.empty()) around.push_back(pair.second);
    }
    std::unordered_map<std::string, std::string> content_of;
    for (auto& n : store_.get_many(user, around)) content_of[n.id] = std::move(n.content);
    for (size_t i : which) {
      auto it = adjacent.find(memories[i].id);
      if (it == adjacent.end()) continue;
      const auto before = content_of.find(it->second.first);
      const auto after = content_of.find(it->second.second);
      std::string key;
      if (before != content_of.end()) key += before->second + "\n";
      key += memories[i].content;
      if (after != content_of.end()) key += "\n" + after->second;
      keys[i] = std::move(key);
    }
  }
  return keys;
}

int Searcher::index_pending(int max) {
  if (!embedder_) return 0;
  const std::string model = embedder_->model_id();
  int done = 0;
  // The store's round trips (pending list, cache, one write transaction) per
  // batch; embedders split it into their own batches.
  const int batch = 256;
  while (done < max) {
    auto pending = store_.missing_embeddings(model, std::min(batch, max - done));
    if (pending.empty()) break;
    const auto keys = embedding_keys(pending);
    std::vector<std::string> hashes;
    hashes.reserve(pending.size());
    for (const auto& k : keys) hashes.push_back(sha256_hex(k));
    auto cached = store_.cached_embeddings(model, hashes);
    std::vector<std::string> texts;
    std::vector<size_t> to_embed;
    std::set<std::string> queued;  // the same text twice in one batch is embedded once
    for (size_t i = 0; i < pending.size(); ++i) {
      if (cached.count(hashes[i]) || !queued.insert(hashes[i]).second) continue;
      texts.push_back(keys[i]);
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
    for (size_t i = 0; i < pending.size(); ++i) stored.push_back({pending[i].id, cached.at(hashes[i]), hashes[i]});
    store_.put_embeddings(model, stored);
    std::map<std::string, std::vector<StoredVector>> by_user;
    for (size_t i = 0; i < pending.size(); ++i) by_user[pending[i].user_id].push_back(stored[i]);
    for (const auto& [user, vectors] : by_user) vectors_->upsert(model, user, vectors);
    done += static_cast<int>(pending.size());
  }
  return done;
}

void Searcher::forget(const std::string& user_id, const std::string& memory_id) { vectors_->remove(user_id, memory_id); }

std::vector<VectorHit> Searcher::vector_candidates(std::string_view query, const MemoryFilter& filter, int k,
                                                   const CandidateLoader& load, std::vector<Memory>& loaded) {
  std::vector<VectorHit> ids;
  if (!embedder_ || query.empty() || k <= 0) return ids;
  auto qv = embedder_->embed({std::string(query)}, EmbedPurpose::kQuery);
  // The index holds one user's memories, so the usual filter (the user, and
  // approved memories only: unapproved suggestions are few) needs k hits,
  // checked on their ranking fields, and none at all without the approval
  // condition. A narrower filter starts at 4k. Either widens while the
  // filter leaves fewer than k and the index had more (issue 15: asking for
  // 4k and loading all of them was most of the vector path).
  const bool narrow = !filter.types.empty() || !filter.tags.empty() || filter.tier || !filter.kinds.empty() ||
                      filter.since || filter.until;
  const bool check = narrow || filter.approved.has_value();
  for (size_t want = static_cast<size_t>(k) * (narrow ? 4 : 1);; want *= 4) {
    std::vector<VectorHit> hits;
    vectors_->read(store_, embedder_->model_id(), embedder_->dimension(), filter.user_id,
                   [&](const VectorIndex& index) { hits = index.search(qv.at(0), want); });
    if (!check) {
      if (hits.size() > static_cast<size_t>(k)) hits.resize(static_cast<size_t>(k));
      return hits;
    }
    std::vector<std::string> hit_ids;
    hit_ids.reserve(hits.size());
    for (auto& h : hits) hit_ids.push_back(std::move(h.id));
    ids.clear();
    loaded.clear();
    loaded.reserve(hit_ids.size());
    // The loader keeps the hits' order (dropping ids it has no row for), so
    // each row's score is found by walking the hits beside it.
    size_t at = 0;
    for (auto& m : load(hit_ids)) {
      if (static_cast<int>(ids.size()) >= k) break;
      while (at < hit_ids.size() && hit_ids[at] != m.id) ++at;
      if (at == hit_ids.size()) throw Error(ErrorCode::kInternal, "the candidate loader broke the order of the hits");
      if (!matches_filter(filter, m)) continue;
      ids.push_back({std::move(hit_ids[at]), hits[at].score});
      loaded.push_back(std::move(m));
    }
    if (static_cast<int>(ids.size()) >= k || hits.size() < want) return ids;
  }
}

namespace {

// Word sets for near-duplicate suppression.
std::set<std::string> word_set(const std::string& text) {
  auto words = word_tokens(text);
  return {words.begin(), words.end()};
}

double jaccard(const std::set<std::string>& a, const std::set<std::string>& b) {
  if (a.empty() && b.empty()) return 1;
  size_t common = 0;
  for (const auto& w : a) common += b.count(w);
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

}  // namespace

std::vector<SearchResult> Searcher::search(std::string_view query, const SearchOptions& options) {
  if (options.limit <= 0) return {};
  const int candidates = std::max(options.candidates, options.limit);
  std::vector<LexicalHit> lexical;
  std::vector<VectorHit> vector;
  const bool want_lexical = options.mode != SearchMode::kVector || !embedder_;
  const bool want_vector = options.mode != SearchMode::kLexical && embedder_;
  std::vector<std::string> terms;
  if (want_lexical) {
    terms = query_terms(query);
    terms.insert(terms.end(), options.expansion_terms.begin(), options.expansion_terms.end());
  }
  // Candidates are ranked on their ranking fields; full records are loaded
  // only for what is returned (below). The signals that read a candidate's
  // words or metadata (near-duplicate suppression, speakers, query coverage,
  // sessions) get its content and the two metadata keys they read.
  const bool speaker_aware = options.speaker_boost > 0 || options.drop_speaker_terms;
  const bool need_content = options.duplicate_similarity > 0 || speaker_aware || options.coverage_weight > 0 ||
                            options.session_weight > 0;
  const HitRow hit_row = need_content ? HitRow::kSignals : HitRow::kRanking;
  // Rows the full-text search read with its hits (a backend may), handed out
  // once each by the loader below instead of being looked up again by id.
  std::unordered_map<std::string, Memory> read_with_hits;
  const auto search_lexical = [&](const std::vector<std::string>& words) {
    lexical = store_.search_text_rows(words, options.filter, candidates, hit_row);
    for (auto& h : lexical)
      if (h.row) {
        read_with_hits.try_emplace(h.id, std::move(*h.row));
        h.row.reset();
      }
  };
  if (want_lexical) search_lexical(terms);
  // Rows of `which` in its order (those that exist for the user).
  const CandidateLoader load_candidates = [&](const std::vector<std::string>& which) {
    const auto load = [&](const std::vector<std::string>& ids) {
      return need_content ? store_.get_signal_fields(options.filter.user_id, ids)
                          : store_.get_ranking_fields(options.filter.user_id, ids);
    };
    if (read_with_hits.empty()) return load(which);
    std::vector<std::string> rest;
    for (const auto& id : which)
      if (!read_with_hits.count(id)) rest.push_back(id);
    std::unordered_map<std::string, Memory> loaded;
    if (!rest.empty())
      for (auto& m : load(rest)) {
        std::string id = m.id;
        loaded.emplace(std::move(id), std::move(m));
      }
    std::vector<Memory> out;
    out.reserve(which.size());
    for (const auto& id : which) {
      auto& from = read_with_hits.count(id) ? read_with_hits : loaded;
      auto it = from.find(id);
      if (it == from.end()) continue;
      out.push_back(std::move(it->second));
      from.erase(it);
    }
    return out;
  };
  std::vector<Memory> memories;  // the candidates' rows
  if (want_vector) vector = vector_candidates(query, options.filter, candidates, load_candidates, memories);

  // A candidate's fused score and ranks (its SearchResult is made once it is
  // scored, below: a default Memory per candidate cost allocations).
  struct Fused {
    double score = 0;
    int lexical_rank = 0;
    int vector_rank = 0;
  };
  std::unordered_map<std::string, Fused> fused;
  const auto fuse = [&] {
    fused.clear();
    for (size_t i = 0; i < lexical.size(); ++i) fused[lexical[i].id].lexical_rank = static_cast<int>(i + 1);
    for (size_t i = 0; i < vector.size(); ++i) fused[vector[i].id].vector_rank = static_cast<int>(i + 1);
    // Each list normalised to [0, 1] for this query: BM25 by the best hit,
    // cosine by the range of the candidates.
    const auto lexical_norm = [&](const LexicalHit& h) { return std::max(0.0, h.score) / std::max(1e-9, lexical.front().score); };
    float hi = vector.empty() ? 0 : vector.front().score, lo = hi;
    for (const auto& h : vector) {
      hi = std::max(hi, h.score);
      lo = std::min(lo, h.score);
    }
    const double span = std::max(1e-6f, hi - lo);
    const auto vector_norm = [&](const VectorHit& h) { return (h.score - lo) / span; };
    switch (options.fusion) {
      case FusionMethod::kRankFusion:
        for (size_t i = 0; i < lexical.size(); ++i)
          fused[lexical[i].id].score += options.lexical_weight / (options.rrf_k + static_cast<double>(i + 1));
        for (size_t i = 0; i < vector.size(); ++i)
          fused[vector[i].id].score += options.vector_weight / (options.rrf_k + static_cast<double>(i + 1));
        break;
      case FusionMethod::kConvex: {
        const double share = lexical.empty() ? 1.0 : vector.empty() ? 0.0 : options.vector_share;
        for (const auto& h : lexical) fused[h.id].score += (1 - share) * lexical_norm(h);
        for (const auto& h : vector) fused[h.id].score += share * vector_norm(h);
        break;
      }
      case FusionMethod::kScores: {
        const double vec_weight = lexical.empty() ? 1.0 : options.vector_share;
        for (const auto& h : lexical) fused[h.id].score += lexical_norm(h);
        // A lexical hit keeps its lexical order; vectors bring in what the
        // words missed.
        for (const auto& h : vector) {
          auto& r = fused[h.id];
          if (r.lexical_rank == 0 || lexical.empty()) r.score += vec_weight * vector_norm(h);
        }
        break;
      }
    }
  };
  fuse();

  // Loads the rows of the fused candidates not in `memories` yet (the vector
  // filter check loaded its own; a second lexical pass brings new ones).
  const auto load_missing = [&] {
    std::unordered_set<std::string_view> have;
    for (const auto& m : memories) have.insert(m.id);
    std::vector<std::string> missing;
    missing.reserve(fused.size());
    for (const auto& [id, r] : fused)
      if (!have.count(id)) missing.push_back(id);
    auto rows = load_candidates(missing);
    memories.reserve(memories.size() + rows.size());
    for (auto& m : rows) memories.push_back(std::move(m));
  };
  load_missing();
  const auto named = speaker_aware ? speakers_named(query, memories) : std::set<std::string>{};
  if (options.drop_speaker_terms && !named.empty() && want_lexical) {
    // The names match every turn their speaker said or was addressed in:
    // search again on the other words, and fuse again.
    const auto rest = without_names(terms, named);
    if (!rest.empty() && rest.size() < terms.size()) {
      search_lexical(rest);
      fuse();
      load_missing();
      std::erase_if(memories, [&](const Memory& m) { return !fused.count(m.id); });
    }
  }
  if (options.neighbour_weight > 0 && !memories.empty()) {
    // Chat turns lend neighbour_weight x their score to the turns beside
    // them; a neighbour keeps the best it is lent. (Notes and documents
    // added one after another are not a conversation.)
    std::vector<std::string> turns;
    for (const auto& m : memories)
      if (m.type == memory_types::kChat) turns.push_back(m.id);
    std::unordered_map<std::string, double> lent;
    for (const auto& [id, around] : store_.adjacent(options.filter.user_id, turns)) {
      const double give = options.neighbour_weight * fused[id].score;
      for (const std::string* n : {&around.first, &around.second})
        if (!n->empty()) lent[*n] = std::max(lent[*n], give);
    }
    std::vector<std::string> newcomers;
    for (const auto& [id, extra] : lent) {
      if (!fused.count(id)) newcomers.push_back(id);
      fused[id].score += extra;
    }
    for (auto& m : load_candidates(newcomers)) memories.push_back(std::move(m));
  }

  if (options.session_weight > 0) {
    // Session-level retrieval: a turn in a session that holds a strong
    // candidate is itself more likely to be about the question.
    std::unordered_map<std::string, double> best_of_session;
    for (const auto& m : memories) {
      const auto key = session_key(m);
      if (!key.empty()) best_of_session[key] = std::max(best_of_session[key], fused[m.id].score);
    }
    for (const auto& m : memories) {
      const auto key = session_key(m);
      if (!key.empty()) fused[m.id].score += options.session_weight * best_of_session[key];
    }
  }

  std::vector<SearchResult> results;
  results.reserve(memories.size());
  const TimePoint now = clock_.now();
  const auto cover = options.coverage_weight > 0 ? coverage_terms(query, named) : std::vector<std::string>{};
  const auto periods = options.time_boost > 0 ? query_time_periods(query, now) : std::vector<TimePeriod>{};
  for (auto& m : memories) {
    // Neighbours come from the store unfiltered: apply the caller's filter.
    if (!matches_filter(options.filter, m)) continue;
    const Fused& f = fused[m.id];
    SearchResult r;
    r.score = f.score;
    r.lexical_rank = f.lexical_rank;
    r.vector_rank = f.vector_rank;
    const double age_days = std::max(0.0, std::chrono::duration<double>(now - m.event_time).count() / 86400.0);
    const double recency = std::exp2(-age_days / options.recency_half_life_days);
    const double tier = m.tier == Tier::kPersistent ? 1.0 : m.tier == Tier::kLongTerm ? 0.5 : 0.0;
    r.score *= 1.0 + options.recency_weight * recency + options.importance_weight * m.importance +
               options.tier_weight * tier + options.confidence_weight * m.confidence.overall;
    if (!periods.empty() && in_any(periods, m.event_time)) r.score *= 1.0 + options.time_boost;
    if (options.speaker_boost > 0 && !named.empty() && named.count(chat_speaker(m))) r.score *= 1.0 + options.speaker_boost;
    if (!cover.empty()) r.score *= 1.0 + options.coverage_weight * term_coverage(cover, m);
    r.memory = std::move(m);
    results.push_back(std::move(r));
  }
  {
    // Sorted by position: a SearchResult holds a whole Memory, and moving
    // those in the sort cost more than ranking them.
    std::vector<uint32_t> order(results.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      if (results[a].score != results[b].score) return results[a].score > results[b].score;
      return results[a].memory.id > results[b].memory.id;
    });
    std::vector<SearchResult> sorted;
    sorted.reserve(results.size());
    for (const uint32_t i : order) sorted.push_back(std::move(results[i]));
    results = std::move(sorted);
  }
  if (options.session_diversity < 1 && !results.empty()) {
    // Greedy: the n-th hit of one session counts session_diversity^n.
    std::vector<SearchResult> picked;
    std::unordered_map<std::string, int> taken;
    std::vector<bool> used(results.size(), false);
    const size_t want = std::min(results.size(), static_cast<size_t>(options.limit) * 2);
    while (picked.size() < want) {
      size_t best = results.size();
      double best_score = 0;
      for (size_t i = 0; i < results.size(); ++i) {
        if (used[i]) continue;
        const auto key = session_key(results[i].memory);
        const double s = results[i].score * (key.empty() ? 1.0 : std::pow(options.session_diversity, taken[key]));
        if (best == results.size() || s > best_score) {
          best = i;
          best_score = s;
        }
      }
      used[best] = true;
      const auto key = session_key(results[best].memory);
      if (!key.empty()) ++taken[key];
      picked.push_back(std::move(results[best]));
    }
    results = std::move(picked);
  }
  if (options.duplicate_similarity > 0) {
    std::vector<SearchResult> kept;
    std::vector<std::set<std::string>> kept_words;
    for (auto& r : results) {
      if (static_cast<int>(kept.size()) >= options.limit) break;
      auto words = word_set(r.memory.content);
      bool duplicate = false;
      for (const auto& k : kept_words) duplicate = duplicate || jaccard(words, k) >= options.duplicate_similarity;
      if (duplicate) continue;
      kept.push_back(std::move(r));
      kept_words.push_back(std::move(words));
    }
    results = std::move(kept);
  }
  if (static_cast<int>(results.size()) > options.limit) results.resize(static_cast<size_t>(options.limit));
  if (!results.empty()) {
    // The full records of what is returned, in one statement.
    std::vector<std::string> returned;
    returned.reserve(results.size());
    for (const auto& r : results) returned.push_back(r.memory.id);
    std::unordered_map<std::string, Memory> full;
    for (auto& m : store_.get_many(options.filter.user_id, returned)) {
      std::string id = m.id;
      full.emplace(std::move(id), std::move(m));
    }
    std::vector<SearchResult> loaded;
    loaded.reserve(results.size());
    for (auto& r : results) {
      auto it = full.find(r.memory.id);
      if (it == full.end()) continue;  // deleted since it was ranked
      r.memory = std::move(it->second);
      loaded.push_back(std::move(r));
    }
    results = std::move(loaded);
  }

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
