// PgKnowledgeStore: the knowledge graph and lifecycle tables (schema.cpp, v2)
// on PostgreSQL, the same contract as SqliteKnowledgeStore. transaction(fn)
// pins one pooled connection for fn, so calls inside join it.
// SQLite's UPDATE OR IGNORE (leave a row whose new key would clash) is
// update_or_ignore(): each row in a savepoint of its own.
#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/id.h"
#include "store/knowledge.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/schema.h"
#include "store/postgres/store_base.h"

namespace kioku {
namespace {

using pg::Connection;
using pg::Param;
using pg::Params;
using pg::Result;

std::optional<TimePoint> opt_time(const Result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return from_millis(r.integer(row, col));
}
Param opt_ms(const std::optional<TimePoint>& t) {
  return t ? Param(to_millis(*t)) : Param(std::nullopt);
}
Param text_or_null(const std::string& s) { return s.empty() ? Param(std::nullopt) : Param(s); }

constexpr const char* kFactColumns =
    "f.id, f.user_id, f.subject_id, f.predicate, coalesce(f.object_id, ''), f.value, f.valid_from, f.valid_to, "
    "f.recorded_at, f.invalidated_at, coalesce(f.memory_id, ''), f.confidence, f.extractor, "
    "coalesce(f.superseded_by, ''), coalesce(f.revision_of, ''), s.name, coalesce(o.name, '')";
constexpr const char* kFactFrom =
    " FROM graph_facts f JOIN graph_entities s ON s.id = f.subject_id LEFT JOIN graph_entities o ON o.id = f.object_id";
constexpr const char* kEntitySelect =
    "SELECT e.id, e.user_id, e.kind, e.name, e.summary, e.confidence, coalesce(e.merged_into, ''), e.created_at, "
    "e.updated_at, 0, (SELECT count(*) FROM graph_mentions g WHERE g.entity_id = e.id) AS mentions "
    "FROM graph_entities e";

Fact read_fact(const Result& r, int i) {
  Fact f;
  f.id = r.text(i, 0);
  f.user_id = r.text(i, 1);
  f.subject_id = r.text(i, 2);
  f.predicate = r.text(i, 3);
  f.object_id = r.text(i, 4);
  f.value = r.text(i, 5);
  f.valid_from = opt_time(r, i, 6);
  f.valid_to = opt_time(r, i, 7);
  f.recorded_at = from_millis(r.integer(i, 8));
  f.invalidated_at = opt_time(r, i, 9);
  f.memory_id = r.text(i, 10);
  f.confidence = r.real(i, 11);
  f.extractor = r.text(i, 12);
  f.superseded_by = r.text(i, 13);
  f.revision_of = r.text(i, 14);
  f.subject_name = r.text(i, 15);
  f.object_name = r.text(i, 16);
  return f;
}

Entity read_entity(const Result& r, int i) {
  Entity e;
  e.id = r.text(i, 0);
  e.user_id = r.text(i, 1);
  e.kind = r.text(i, 2);
  e.name = r.text(i, 3);
  e.summary = r.text(i, 4);
  e.confidence = r.real(i, 5);
  e.merged_into = r.text(i, 6);
  e.created_at = from_millis(r.integer(i, 7));
  e.updated_at = from_millis(r.integer(i, 8));
  e.mention_count = static_cast<int>(r.integer(i, 10));
  return e;
}

MemoryLifecycle read_lifecycle(const Result& r, int i, int first) {
  MemoryLifecycle l;
  l.validated_at = opt_time(r, i, first);
  l.identity_since = opt_time(r, i, first + 1);
  l.cold_since = opt_time(r, i, first + 2);
  l.extracted_at = opt_time(r, i, first + 3);
  l.dedup_checked_at = opt_time(r, i, first + 4);
  l.merged_into = r.text(i, first + 5);
  return l;
}

std::vector<std::string> ids_of(const Result& r) {
  std::vector<std::string> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
  return out;
}

std::vector<TierChange> read_tier_changes(const Result& r) {
  std::vector<TierChange> out;
  for (int i = 0; i < r.rows(); ++i) {
    TierChange c;
    c.memory_id = r.text(i, 0);
    c.from = parse_tier(r.text(i, 1));
    c.to = parse_tier(r.text(i, 2));
    c.rule = r.text(i, 3);
    auto d = nlohmann::json::parse(r.text(i, 4), nullptr, false);
    c.detail = d.is_object() ? d : nlohmann::json::object();
    c.at = from_millis(r.integer(i, 5));
    out.push_back(std::move(c));
  }
  return out;
}

class PgKnowledgeStore final : public KnowledgeStore, pg::StoreBase {
 public:
  PgKnowledgeStore(const std::string& url, const TimeSource& clock) : StoreBase(url), clock_(clock) {}

  // Pins a connection only: each call made inside sets its own scope.
  void transaction(const std::function<void()>& fn) override {
    StoreBase::transaction(pg::Scope::none(), [&](Connection&) { fn(); });
  }

  // --- Entities ---

  Entity add_entity(Entity e) override {
    if (e.name.empty()) throw invalid_input("an entity needs a name");
    const TimePoint now = clock_.now();
    if (e.id.empty()) e.id = new_uuid_v7(now);
    if (to_millis(e.created_at) == 0) e.created_at = now;
    e.updated_at = now;
    with(pg::Scope::user(e.user_id), [&](Connection& c) {
      c.exec(
          "INSERT INTO graph_entities(id, user_id, kind, name, summary, confidence, created_at, updated_at) "
          "VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
          {e.id, e.user_id, e.kind, e.name, e.summary, e.confidence, to_millis(e.created_at), to_millis(e.updated_at)});
    });
    return e;
  }

  std::optional<Entity> get_entity(const std::string& user_id, const std::string& id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) -> std::optional<Entity> {
      auto r = c.exec(std::string(kEntitySelect) + " WHERE e.user_id = $1 AND e.id = $2", {user_id, id});
      if (!r.rows()) return std::nullopt;
      Entity e = read_entity(r, 0);
      load_aliases(c, e);
      return e;
    });
  }

  std::vector<Entity> list_entities(const std::string& user_id, const std::string& kind, int limit) override {
    return entities_where(pg::Scope::user(user_id),
                          " WHERE e.user_id = $1 AND e.merged_into IS NULL AND ($2 = '' OR e.kind = $2) "
                          "ORDER BY mentions DESC, e.name LIMIT $3",
                          {user_id, kind, static_cast<int64_t>(limit)}, true);
  }

  std::vector<Entity> entities_by_alias(const std::string& user_id, const std::string& norm) override {
    return entities_where(
        pg::Scope::user(user_id),
        " WHERE e.user_id = $1 AND e.merged_into IS NULL AND e.id IN "
        "(SELECT entity_id FROM graph_aliases WHERE user_id = $1 AND norm = $2) ORDER BY mentions DESC",
        {user_id, norm}, true);
  }

  std::vector<std::pair<std::string, std::string>> alias_index(const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(
          "SELECT a.norm, a.entity_id FROM graph_aliases a JOIN graph_entities e ON e.id = a.entity_id "
          "WHERE a.user_id = $1 AND e.merged_into IS NULL",
          {user_id});
      std::vector<std::pair<std::string, std::string>> out;
      for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0), r.text(i, 1));
      return out;
    });
  }

  void add_alias(const std::string& user_id, const std::string& entity_id, const std::string& alias,
                 const std::string& norm) override {
    if (norm.empty()) return;
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      require_entity(c, user_id, entity_id);
      c.exec("INSERT INTO graph_aliases(entity_id, user_id, alias, norm) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
             {entity_id, user_id, alias, norm});
    });
  }

  void update_entity_summary(const std::string& user_id, const std::string& entity_id,
                             const std::string& summary) override {
    with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec("UPDATE graph_entities SET summary = $1, updated_at = $2 WHERE id = $3 AND user_id = $4",
                      {summary, to_millis(clock_.now()), entity_id, user_id});
      if (r.affected() == 0) throw not_found("no entity with id " + entity_id);
    });
  }

  void add_mention(const std::string& user_id, const Mention& m) override {
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      require_entity(c, user_id, m.entity_id);
      c.exec(
          "INSERT INTO graph_mentions(entity_id, memory_id, surface, norm, created_at) "
          "SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM memories WHERE id = $2 AND user_id = $6) "
          "ON CONFLICT DO NOTHING",
          {m.entity_id, m.memory_id, m.surface, m.norm, to_millis(clock_.now()), user_id});
    });
  }

  std::vector<Mention> mentions_of(const std::string& user_id, const std::string& entity_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(
          "SELECT g.entity_id, g.memory_id, g.surface, g.norm FROM graph_mentions g JOIN graph_entities e "
          "ON e.id = g.entity_id WHERE e.user_id = $1 AND g.entity_id = $2 ORDER BY g.created_at, g.memory_id",
          {user_id, entity_id});
      std::vector<Mention> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3)});
      return out;
    });
  }

  void merge_entities(const std::string& user_id, const std::string& from, const std::string& into) override {
    if (from == into) throw invalid_input("cannot merge an entity into itself");
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      require_entity(c, user_id, from);
      require_entity(c, user_id, into);
      const Params p{into, from};
      update_or_ignore(c, "graph_aliases", "entity_id = $1", "entity_id = $2", p);
      c.exec("DELETE FROM graph_aliases WHERE entity_id = $1", {from});
      update_or_ignore(c, "graph_mentions", "entity_id = $1", "entity_id = $2", p);
      c.exec("DELETE FROM graph_mentions WHERE entity_id = $1", {from});
      update_or_ignore(c, "graph_facts", "subject_id = $1", "subject_id = $2", p);
      update_or_ignore(c, "graph_facts", "object_id = $1", "object_id = $2", p);
      c.exec("UPDATE graph_entities SET merged_into = $1 WHERE merged_into = $2", p);
      c.exec("UPDATE graph_entities SET merged_into = $1, updated_at = $2 WHERE id = $3",
             {into, to_millis(clock_.now()), from});
    });
  }

  Entity split_entity(const std::string& user_id, const std::string& from, const std::string& new_name,
                      const std::vector<std::pair<std::string, std::string>>& aliases_with_norms) override {
    Entity created;
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      auto source = get_entity(user_id, from);
      if (!source || !source->merged_into.empty()) throw not_found("no entity with id " + from);
      Entity e;
      e.user_id = user_id;
      e.kind = source->kind;
      e.name = new_name;
      e.confidence = source->confidence;
      created = add_entity(e);
      std::set<std::string> norms;
      for (const auto& [alias, norm] : aliases_with_norms) {
        norms.insert(norm);
        c.exec("DELETE FROM graph_aliases WHERE entity_id = $1 AND norm = $2", {from, norm});
        c.exec("INSERT INTO graph_aliases(entity_id, user_id, alias, norm) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
               {created.id, user_id, alias, norm});
      }
      std::set<std::string> moved_memories;
      for (const auto& m : mentions_of(user_id, from))
        if (norms.count(m.norm)) moved_memories.insert(m.memory_id);
      for (const auto& memory_id : moved_memories) {
        const Params p{created.id, from, memory_id};
        update_or_ignore(c, "graph_mentions", "entity_id = $1", "entity_id = $2 AND memory_id = $3", p);
        update_or_ignore(c, "graph_facts", "subject_id = $1", "subject_id = $2 AND memory_id = $3", p);
        update_or_ignore(c, "graph_facts", "object_id = $1", "object_id = $2 AND memory_id = $3", p);
      }
    });
    return *get_entity(user_id, created.id);
  }

  // --- Facts ---

  FactOutcome record_fact(Fact f, bool exclusive) override {
    if (f.subject_id.empty() || f.predicate.empty()) throw invalid_input("a fact needs a subject and a predicate");
    if (f.object_id.empty() && f.value.empty()) throw invalid_input("a fact needs an object or a value");
    const TimePoint now = clock_.now();
    FactOutcome out;
    StoreBase::transaction(pg::Scope::user(f.user_id), [&](Connection& c) {
      require_entity(c, f.user_id, f.subject_id);
      if (!f.object_id.empty()) require_entity(c, f.user_id, f.object_id);
      // One writer per subject at a time: the checks below and the insert
      // stay true together when two processes extract at once.
      c.exec("SELECT 1 FROM graph_entities WHERE id = $1 FOR UPDATE", {f.subject_id});
      auto same = c.exec(
          "SELECT id FROM graph_facts WHERE subject_id = $1 AND predicate = $2 AND coalesce(object_id, '') = $3 AND "
          "value = $4 AND coalesce(memory_id, '') = $5 AND coalesce(valid_from, -1) = $6 AND revision_of IS NULL",
          {f.subject_id, f.predicate, f.object_id, f.value, f.memory_id,
           f.valid_from ? to_millis(*f.valid_from) : int64_t{-1}});
      if (same.rows()) {
        out.fact_id = same.text(0, 0);
        return;
      }
      auto current = c.exec(
          "SELECT id FROM graph_facts WHERE subject_id = $1 AND predicate = $2 AND coalesce(object_id, '') = $3 AND "
          "value = $4 AND invalidated_at IS NULL AND valid_to IS NULL AND $5 = 0",
          {f.subject_id, f.predicate, f.object_id, f.value, f.valid_to ? 1 : 0});
      if (current.rows()) {
        out.fact_id = current.text(0, 0);
        return;
      }
      f.recorded_at = now;
      if (close_ended(c, f, now, out)) return;
      f.id = new_uuid_v7(now);
      if (exclusive) resolve_conflicts(c, f, now, out);
      insert_fact(c, f);
      out.fact_id = f.id;
      out.created = true;
    });
    return out;
  }

  std::vector<Fact> facts(const FactQuery& q) override {
    const int64_t known = to_millis(q.known_at.value_or(clock_.now()));
    std::string sql = std::string("SELECT ") + kFactColumns + kFactFrom +
                      " WHERE f.user_id = $1 AND ($2 = '' OR f.subject_id = $2 OR f.object_id = $2) AND "
                      "f.recorded_at <= $3 AND ($4 OR f.invalidated_at IS NULL OR f.invalidated_at > $3)";
    if (q.valid_at)
      sql += " AND (f.valid_from IS NULL OR f.valid_from <= $5) AND (f.valid_to IS NULL OR f.valid_to > $5)";
    else
      sql += " AND $5::bigint IS NOT NULL";
    sql += " ORDER BY coalesce(f.valid_from, f.recorded_at), f.recorded_at, f.id LIMIT $6";
    return facts_of(pg::Scope::user(q.user_id), sql,
                    {q.user_id, q.entity_id, known, q.include_retired, q.valid_at ? to_millis(*q.valid_at) : int64_t{0},
                     static_cast<int64_t>(q.limit)});
  }

  GraphCounts graph_counts(const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(
          "SELECT (SELECT count(*) FROM graph_entities WHERE user_id = $1 AND merged_into IS NULL), "
          "(SELECT count(*) FROM graph_facts WHERE user_id = $1), "
          "(SELECT count(*) FROM graph_facts WHERE user_id = $1 AND invalidated_at IS NULL AND valid_to IS NULL)",
          {user_id});
      GraphCounts g;
      g.entities = r.integer(0, 0);
      g.facts = r.integer(0, 1);
      g.current_facts = r.integer(0, 2);
      return g;
    });
  }

  std::vector<Fact> facts_changed(const std::string& user_id, TimePoint since, TimePoint until) override {
    return facts_of(pg::Scope::user(user_id),
                    std::string("SELECT ") + kFactColumns + kFactFrom +
                        " WHERE f.user_id = $1 AND ((f.recorded_at >= $2 AND f.recorded_at < $3) OR "
                        "(f.invalidated_at >= $2 AND f.invalidated_at < $3)) ORDER BY f.recorded_at, f.id",
                    {user_id, to_millis(since), to_millis(until)});
  }

  std::vector<Entity> entities_created(const std::string& user_id, TimePoint since, TimePoint until) override {
    return entities_where(pg::Scope::user(user_id),
                          " WHERE e.user_id = $1 AND e.merged_into IS NULL AND e.created_at >= $2 AND "
                          "e.created_at < $3 ORDER BY e.created_at",
                          {user_id, to_millis(since), to_millis(until)}, false);
  }

  // --- Lifecycle ---

  std::vector<LifecycleRow> lifecycle_rows(const std::string& user_id, const std::string& after_id,
                                           int limit) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(
          "SELECT m.id, m.type, m.tier, m.truth_category, m.memory_type, m.source, m.approved, m.confidence, "
          "m.source_reliability, m.recency, m.corroboration_count, m.contradiction_count, m.event_time, "
          "m.created_at, m.updated_at, m.last_accessed, m.access_count, l.validated_at, l.identity_since, "
          "l.cold_since, l.extracted_at, l.dedup_checked_at, coalesce(l.merged_into, '') FROM memories m "
          "LEFT JOIN memory_lifecycle l ON l.memory_id = m.id WHERE m.user_id = $1 AND m.id > $2 "
          "ORDER BY m.id LIMIT $3",
          {user_id, after_id, static_cast<int64_t>(limit)});
      std::vector<LifecycleRow> out;
      for (int i = 0; i < r.rows(); ++i) {
        LifecycleRow row;
        row.id = r.text(i, 0);
        row.type = r.text(i, 1);
        row.tier = parse_tier(r.text(i, 2));
        row.truth_category = parse_truth_category(r.text(i, 3));
        row.memory_kind = parse_memory_kind(r.text(i, 4));
        row.source = parse_source(r.text(i, 5));
        row.approved = r.boolean(i, 6);
        row.confidence.overall = r.real(i, 7);
        row.confidence.source_reliability = r.real(i, 8);
        row.confidence.recency = r.real(i, 9);
        row.confidence.corroboration_count = static_cast<int>(r.integer(i, 10));
        row.confidence.contradiction_count = static_cast<int>(r.integer(i, 11));
        row.event_time = from_millis(r.integer(i, 12));
        row.created_at = from_millis(r.integer(i, 13));
        row.updated_at = from_millis(r.integer(i, 14));
        row.last_accessed = opt_time(r, i, 15);
        row.access_count = static_cast<int>(r.integer(i, 16));
        row.lifecycle = read_lifecycle(r, i, 17);
        out.push_back(std::move(row));
      }
      return out;
    });
  }

  // By memory id alone (the interface names no user): callers read the
  // memory as its user first (kioku memory show, the graph commands).
  MemoryLifecycle lifecycle(const std::string& memory_id) override {
    return with(pg::Scope::all_users(), [&](Connection& c) {
      auto r = c.exec(
          "SELECT validated_at, identity_since, cold_since, extracted_at, dedup_checked_at, coalesce(merged_into, '') "
          "FROM memory_lifecycle WHERE memory_id = $1",
          {memory_id});
      return r.rows() ? read_lifecycle(r, 0, 0) : MemoryLifecycle{};
    });
  }

  void set_confidence(const std::string& user_id, const std::string& memory_id, const Confidence& conf) override {
    with(pg::Scope::user(user_id), [&](Connection& c) {
      c.exec("UPDATE memories SET confidence = $1, source_reliability = $2, recency = $3, corroboration_count = $4, "
             "contradiction_count = $5 WHERE id = $6 AND user_id = $7",
             {conf.overall, conf.source_reliability, conf.recency, conf.corroboration_count, conf.contradiction_count,
              memory_id, user_id});
    });
  }

  bool change_tier(const std::string& user_id, const TierChange& change) override {
    bool changed = false;
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      auto cur = c.exec("SELECT tier FROM memories WHERE id = $1 AND user_id = $2 FOR UPDATE", {change.memory_id, user_id});
      if (!cur.rows()) throw not_found("no memory with id " + change.memory_id);
      const Tier now_tier = parse_tier(cur.text(0, 0));
      if (now_tier == change.to) return;
      // The history row goes first: the by-hand trigger sees it and stays quiet.
      c.exec("INSERT INTO memory_tier_changes(memory_id, user_id, from_tier, to_tier, rule, detail, at) "
             "VALUES ($1,$2,$3,$4,$5,$6,$7)",
             {change.memory_id, user_id, std::string(to_string(now_tier)), std::string(to_string(change.to)),
              change.rule, change.detail.dump(), to_millis(change.at)});
      c.exec("UPDATE memories SET tier = $1 WHERE id = $2 AND user_id = $3",
             {std::string(to_string(change.to)), change.memory_id, user_id});
      changed = true;
    });
    return changed;
  }

  std::vector<TierChange> tier_history(const std::string& user_id, const std::string& memory_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      return read_tier_changes(c.exec("SELECT memory_id, from_tier, to_tier, rule, detail, at FROM memory_tier_changes "
                                      "WHERE user_id = $1 AND memory_id = $2 ORDER BY seq",
                                      {user_id, memory_id}));
    });
  }

  std::vector<TierChange> tier_changes(const std::string& user_id, TimePoint since, TimePoint until) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      return read_tier_changes(c.exec("SELECT memory_id, from_tier, to_tier, rule, detail, at FROM memory_tier_changes "
                                      "WHERE user_id = $1 AND at >= $2 AND at < $3 ORDER BY seq",
                                      {user_id, to_millis(since), to_millis(until)}));
    });
  }

  void mark_validated(const std::string& user_id, const std::string& memory_id, TimePoint at) override {
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      require_memory(c, user_id, memory_id);
      upsert_lifecycle(c, memory_id, "validated_at", to_millis(at));
    });
  }

  void mark_extracted(const std::string& user_id, const std::string& memory_id, TimePoint at) override {
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      require_memory(c, user_id, memory_id);
      upsert_lifecycle(c, memory_id, "extracted_at", to_millis(at));
    });
  }

  std::vector<std::string> unextracted(const std::string& user_id, int limit) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      return ids_of(c.exec(
          "SELECT m.id FROM memories m LEFT JOIN memory_lifecycle l ON l.memory_id = m.id WHERE m.user_id = $1 AND "
          "m.approved AND l.extracted_at IS NULL ORDER BY m.event_time, m.id LIMIT $2",
          {user_id, static_cast<int64_t>(limit)}));
    });
  }

  void mark_dedup_checked(const std::string& user_id, const std::vector<std::string>& ids, TimePoint at) override {
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      for (const auto& id : ids) {
        if (!memory_exists(c, user_id, id)) continue;
        upsert_lifecycle(c, id, "dedup_checked_at", to_millis(at));
      }
    });
  }

  std::vector<std::string> undeduped(const std::string& user_id, const std::string& after_id, int limit) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      return ids_of(c.exec(
          "SELECT m.id FROM memories m LEFT JOIN memory_lifecycle l ON l.memory_id = m.id WHERE m.user_id = $1 AND "
          "m.id > $2 AND m.approved AND l.dedup_checked_at IS NULL AND l.merged_into IS NULL AND "
          "l.cold_since IS NULL ORDER BY m.id LIMIT $3",
          {user_id, after_id, static_cast<int64_t>(limit)}));
    });
  }

  // Maintenance runs over every user: which users have memories.
  std::vector<std::string> users() override {
    return with(pg::Scope::all_users(),
                [&](Connection& c) { return ids_of(c.exec("SELECT DISTINCT user_id FROM memories ORDER BY 1")); });
  }

  bool merge_duplicate(const std::string& user_id, const std::string& survivor, const std::string& duplicate,
                       TimePoint at) override {
    if (survivor == duplicate) return false;
    bool merged = false;
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      require_memory(c, user_id, survivor);
      require_memory(c, user_id, duplicate);
      c.exec("SELECT 1 FROM memories WHERE id = $1 FOR UPDATE", {duplicate});
      if (!lifecycle(duplicate).merged_into.empty()) return;
      c.exec("INSERT INTO memory_lifecycle(memory_id, merged_into) VALUES ($1, $2) "
             "ON CONFLICT(memory_id) DO UPDATE SET merged_into = $2",
             {duplicate, survivor});
      c.exec("INSERT INTO memory_relations(source_id, target_id, kind, created_at) VALUES ($1, $2, 'supersedes', $3) "
             "ON CONFLICT DO NOTHING",
             {survivor, duplicate, to_millis(at)});
      // The duplicate's provenance travels with the survivor.
      c.exec("UPDATE memories SET corroboration_count = corroboration_count + 1, metadata = jsonb_set(metadata, "
             "'{merged_from}', coalesce(metadata->'merged_from', '[]'::jsonb) || jsonb_build_array((SELECT "
             "jsonb_build_object('id', d.id, 'provenance', d.provenance, 'source', d.source, 'created_at', "
             "d.created_at) FROM memories d WHERE d.id = $1))) WHERE id = $2 AND user_id = $3",
             {duplicate, survivor, user_id});
      merged = true;
    });
    return merged;
  }

  std::vector<std::string> move_to_cold(const std::string& user_id, TimePoint cutoff, TimePoint at) override {
    std::vector<std::string> moved;
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      moved = ids_of(c.exec(
          "SELECT m.id FROM memories m LEFT JOIN memory_lifecycle l ON l.memory_id = m.id WHERE m.user_id = $1 AND "
          "m.tier != 'persistent' AND m.event_time < $2 AND m.created_at < $2 AND coalesce(m.last_accessed, 0) < $2 "
          "AND l.cold_since IS NULL",
          {user_id, to_millis(cutoff)}));
      for (const auto& id : moved) upsert_lifecycle(c, id, "cold_since", to_millis(at));
    });
    return moved;
  }

  int64_t count_cold(const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      return c.exec("SELECT count(*) FROM memory_lifecycle l JOIN memories m ON m.id = l.memory_id WHERE "
                    "m.user_id = $1 AND l.cold_since IS NOT NULL",
                    {user_id})
          .integer(0, 0);
    });
  }

  std::optional<std::string> find_by_maintenance_key(const std::string& user_id, const std::string& key) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) -> std::optional<std::string> {
      auto r = c.exec("SELECT id FROM memories WHERE user_id = $1 AND metadata ? 'maintenance_key' AND "
                      "metadata->>'maintenance_key' = $2 LIMIT 1",
                      {user_id, key});
      if (!r.rows()) return std::nullopt;
      return r.text(0, 0);
    });
  }

  // --- Archive ---

  bool archive_memory(const std::string& user_id, const std::string& memory_id, const std::string& reason,
                      TimePoint at) override {
    bool archived = false;
    StoreBase::transaction(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + pg::memory_columns() +
                          " FROM memories m WHERE m.id = $1 AND m.user_id = $2 FOR UPDATE",
                      {memory_id, user_id});
      if (!r.rows()) return;
      Memory m = pg::read_memory(r, 0);
      auto rel = c.exec("SELECT target_id, kind FROM memory_relations WHERE source_id = $1 ORDER BY created_at, target_id",
                        {memory_id});
      for (int i = 0; i < rel.rows(); ++i) m.relations.push_back({rel.text(i, 0), parse_relation_kind(rel.text(i, 1))});
      c.exec("INSERT INTO memory_archive(memory_id, user_id, reason, record, archived_at) VALUES ($1,$2,$3,$4,$5) "
             "ON CONFLICT(memory_id) DO UPDATE SET user_id = excluded.user_id, reason = excluded.reason, "
             "record = excluded.record, archived_at = excluded.archived_at",
             {memory_id, user_id, reason, to_json(m).dump(), to_millis(at)});
      c.exec("DELETE FROM memories WHERE id = $1 AND user_id = $2", {memory_id, user_id});
      archived = true;
    });
    return archived;
  }

  std::vector<ArchivedMemory> list_archive(const std::string& user_id, int limit) override {
    return archived_where(pg::Scope::user(user_id), " WHERE user_id = $1 ORDER BY archived_at DESC, memory_id LIMIT $2",
                          {user_id, static_cast<int64_t>(limit)});
  }

  std::optional<ArchivedMemory> get_archived(const std::string& user_id, const std::string& memory_id) override {
    auto out = archived_where(pg::Scope::user(user_id), " WHERE user_id = $1 AND memory_id = $2", {user_id, memory_id});
    if (out.empty()) return std::nullopt;
    return out.front();
  }

  void drop_archived(const std::string& user_id, const std::string& memory_id) override {
    with(pg::Scope::user(user_id), [&](Connection& c) {
      c.exec("DELETE FROM memory_archive WHERE user_id = $1 AND memory_id = $2", {user_id, memory_id});
    });
  }

 private:
  std::vector<Entity> entities_where(const pg::Scope& scope, const std::string& where, const Params& p, bool aliases) {
    return with(scope, [&](Connection& c) {
      auto r = c.exec(std::string(kEntitySelect) + where, p);
      std::vector<Entity> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_entity(r, i));
      if (aliases)
        for (auto& e : out) load_aliases(c, e);
      return out;
    });
  }

  std::vector<Fact> facts_of(const pg::Scope& scope, const std::string& sql, const Params& p) {
    return with(scope, [&](Connection& c) {
      auto r = c.exec(sql, p);
      std::vector<Fact> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_fact(r, i));
      return out;
    });
  }

  std::vector<ArchivedMemory> archived_where(const pg::Scope& scope, const std::string& where, const Params& p) {
    return with(scope, [&](Connection& c) {
      auto r = c.exec("SELECT memory_id, user_id, reason, record, archived_at FROM memory_archive" + where, p);
      std::vector<ArchivedMemory> out;
      for (int i = 0; i < r.rows(); ++i) {
        ArchivedMemory a;
        a.memory_id = r.text(i, 0);
        a.user_id = r.text(i, 1);
        a.reason = r.text(i, 2);
        auto j = nlohmann::json::parse(r.text(i, 3), nullptr, false);
        if (j.is_object()) {
          a.memory = memory_from_json(j);
          if (auto t = parse_iso8601(j.value("created_at", ""))) a.memory.created_at = *t;
          if (j.contains("last_accessed") && j["last_accessed"].is_string())
            if (auto t = parse_iso8601(j["last_accessed"].get<std::string>())) a.memory.last_accessed = *t;
          a.memory.access_count = j.value("access_count", 0);
        }
        a.archived_at = from_millis(r.integer(i, 4));
        out.push_back(std::move(a));
      }
      return out;
    });
  }

  static void load_aliases(Connection& c, Entity& e) {
    auto r = c.exec("SELECT alias FROM graph_aliases WHERE entity_id = $1 ORDER BY alias", {e.id});
    e.aliases = ids_of(r);
  }

  static void require_entity(Connection& c, const std::string& user_id, const std::string& id) {
    if (!c.exec("SELECT 1 FROM graph_entities WHERE id = $1 AND user_id = $2", {id, user_id}).rows())
      throw not_found("no entity with id " + id);
  }

  static bool memory_exists(Connection& c, const std::string& user_id, const std::string& id) {
    return c.exec("SELECT 1 FROM memories WHERE id = $1 AND user_id = $2", {id, user_id}).rows() > 0;
  }

  static void require_memory(Connection& c, const std::string& user_id, const std::string& id) {
    if (!memory_exists(c, user_id, id)) throw not_found("no memory with id " + id);
  }

  static void upsert_lifecycle(Connection& c, const std::string& memory_id, const std::string& column, int64_t value) {
    c.exec("INSERT INTO memory_lifecycle(memory_id, " + column + ") VALUES ($1, $2) ON CONFLICT(memory_id) " +
               "DO UPDATE SET " + column + " = $2",
           {memory_id, value});
  }

  // UPDATE OR IGNORE: rows are updated one by one, each in a savepoint, and
  // a row whose new key clashes with another stays as it was.
  static void update_or_ignore(Connection& c, const std::string& table, const std::string& set,
                               const std::string& where, const Params& p) {
    // $1 (the new value, used by SET only) is selected too so that it has a type here.
    auto rows = c.exec("SELECT ctid::text, $1::text FROM " + table + " WHERE " + where, p);
    std::string update = "UPDATE " + table;
    update += " SET " + set;
    update += " WHERE ctid = $" + std::to_string(p.size() + 1);
    update += "::tid AND " + where;
    for (int i = 0; i < rows.rows(); ++i) {
      Params q = p;
      q.emplace_back(rows.text(i, 0));
      c.exec("SAVEPOINT kioku_row");
      try {
        c.exec(update, q);
        c.exec("RELEASE SAVEPOINT kioku_row");
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kConflict) throw;
        c.exec("ROLLBACK TO SAVEPOINT kioku_row");
      }
    }
  }

  void retire(Connection& c, const Fact& old, const Fact& by, const std::string& successor_id,
              std::optional<TimePoint> close_at, TimePoint now, FactOutcome& out) {
    c.exec("UPDATE graph_facts SET invalidated_at = $1, superseded_by = $2 WHERE id = $3",
           {to_millis(now), successor_id, old.id});
    if (close_at) {
      Fact closed = old;
      closed.id = new_uuid_v7(now);
      closed.valid_to = *close_at;
      closed.recorded_at = now;
      closed.invalidated_at.reset();
      closed.superseded_by.clear();
      closed.revision_of = old.id;
      insert_fact(c, closed);
      ++out.closed;
      if (out.fact_id.empty()) out.fact_id = closed.id;
    } else {
      ++out.contradicted;
    }
    if (old.memory_id.empty() || by.memory_id.empty() || old.memory_id == by.memory_id) return;
    auto rel = c.exec(
        "INSERT INTO memory_relations(source_id, target_id, kind, created_at) "
        "SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM memories WHERE id = $1) AND "
        "EXISTS (SELECT 1 FROM memories WHERE id = $2) ON CONFLICT DO NOTHING",
        {by.memory_id, old.memory_id, close_at ? "supersedes" : "contradicts", to_millis(now)});
    if (rel.affected() == 0) return;
    c.exec("UPDATE memories SET contradiction_count = contradiction_count + 1 WHERE id = $1 AND user_id = $2",
           {old.memory_id, by.user_id});
    out.affected_memory_ids.push_back(old.memory_id);
  }

  std::vector<Fact> open_facts(Connection& c, const Fact& f) {
    auto r = c.exec(std::string("SELECT ") + kFactColumns + kFactFrom +
                        " WHERE f.subject_id = $1 AND f.predicate = $2 AND f.invalidated_at IS NULL AND "
                        "f.valid_to IS NULL ORDER BY f.recorded_at, f.id",
                    {f.subject_id, f.predicate});
    std::vector<Fact> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_fact(r, i));
    return out;
  }

  static bool same_object(const Fact& a, const Fact& b) {
    return a.object_id.empty() && b.object_id.empty() ? a.value == b.value : a.object_id == b.object_id;
  }

  bool close_ended(Connection& c, Fact& f, TimePoint now, FactOutcome& out) {
    if (!f.valid_to || f.valid_from) return false;
    bool closed_any = false;
    for (const auto& old : open_facts(c, f)) {
      if (!same_object(old, f)) continue;
      if (old.valid_from && *old.valid_from >= *f.valid_to) continue;
      retire(c, old, f, "", f.valid_to, now, out);
      closed_any = true;
    }
    if (closed_any) out.created = true;
    return closed_any;
  }

  void resolve_conflicts(Connection& c, Fact& f, TimePoint now, FactOutcome& out) {
    const TimePoint new_start = f.valid_from.value_or(now);
    for (const auto& old : open_facts(c, f)) {
      if (same_object(old, f)) continue;
      const std::optional<TimePoint> old_start = old.valid_from;
      if (old_start && new_start < *old_start) {
        if (!f.valid_to || *f.valid_to > *old_start) f.valid_to = *old_start;
        continue;
      }
      const bool same_period = old_start && *old_start == new_start;
      retire(c, old, f, f.id, same_period ? std::nullopt : std::optional<TimePoint>(new_start), now, out);
    }
  }

  static void insert_fact(Connection& c, const Fact& f) {
    const bool memory_known = !f.memory_id.empty() && memory_exists(c, f.user_id, f.memory_id);
    c.exec("INSERT INTO graph_facts(id, user_id, subject_id, predicate, object_id, value, valid_from, valid_to, "
           "recorded_at, invalidated_at, memory_id, confidence, extractor, superseded_by, revision_of) "
           "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
           {f.id, f.user_id, f.subject_id, f.predicate, text_or_null(f.object_id), f.value, opt_ms(f.valid_from),
            opt_ms(f.valid_to), to_millis(f.recorded_at), opt_ms(f.invalidated_at),
            memory_known ? Param(f.memory_id) : Param(std::nullopt), f.confidence,
            f.extractor.empty() ? std::string("user") : f.extractor, text_or_null(f.superseded_by),
            text_or_null(f.revision_of)});
  }

  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<KnowledgeStore> open_postgres_knowledge_store(const std::string& url, const TimeSource& clock) {
  return std::make_unique<PgKnowledgeStore>(url, clock);
}

}  // namespace kioku
