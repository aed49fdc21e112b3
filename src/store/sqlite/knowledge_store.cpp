// SqliteKnowledgeStore: the graph and lifecycle tables of memory.db (schema
// in memory_store.cpp's migrations, v5). Its own connection to the file; the
// process-wide writer lock of database.cpp orders its transactions with the
// memory store's.
#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/json.h"
#include "core/id.h"
#include "store/knowledge.h"
#include "store/sqlite/database.h"
#include "store/sqlite/schema.h"

namespace kioku {
namespace {

std::optional<TimePoint> opt_time(const sqlite::Statement& st, int col) {
  if (st.is_null(col)) return std::nullopt;
  return from_millis(st.integer(col));
}
std::optional<int64_t> opt_ms(const std::optional<TimePoint>& t) {
  return t ? std::optional<int64_t>(to_millis(*t)) : std::nullopt;
}
constexpr const char* kFactColumns =
    "f.id, f.user_id, f.subject_id, f.predicate, coalesce(f.object_id, ''), f.value, f.valid_from, f.valid_to, "
    "f.recorded_at, f.invalidated_at, coalesce(f.memory_id, ''), f.confidence, f.extractor, "
    "coalesce(f.superseded_by, ''), coalesce(f.revision_of, ''), s.name, coalesce(o.name, '')";
constexpr const char* kFactFrom =
    " FROM graph_facts f JOIN graph_entities s ON s.id = f.subject_id LEFT JOIN graph_entities o ON o.id = f.object_id";

Fact read_fact(const sqlite::Statement& st) {
  Fact f;
  f.id = st.text(0);
  f.user_id = st.text(1);
  f.subject_id = st.text(2);
  f.predicate = st.text(3);
  f.object_id = st.text(4);
  f.value = st.text(5);
  f.valid_from = opt_time(st, 6);
  f.valid_to = opt_time(st, 7);
  f.recorded_at = from_millis(st.integer(8));
  f.invalidated_at = opt_time(st, 9);
  f.memory_id = st.text(10);
  f.confidence = st.real(11);
  f.extractor = st.text(12);
  f.superseded_by = st.text(13);
  f.revision_of = st.text(14);
  f.subject_name = st.text(15);
  f.object_name = st.text(16);
  return f;
}

class SqliteKnowledgeStore final : public KnowledgeStore {
 public:
  SqliteKnowledgeStore(const std::filesystem::path& path, const TimeSource& clock) : db_(path), clock_(clock) {
    migrate_memory_database(db_);
  }

  void transaction(const std::function<void()>& fn) override { db_.transaction(fn); }

  // --- Entities ---

  Entity add_entity(Entity e) override {
    if (e.name.empty()) throw invalid_input("an entity needs a name");
    const TimePoint now = clock_.now();
    if (e.id.empty()) e.id = new_uuid_v7(now);
    if (to_millis(e.created_at) == 0) e.created_at = now;
    e.updated_at = now;
    db_.transaction([&] {
      auto st = db_.prepare(
          "INSERT INTO graph_entities(id, user_id, kind, name, summary, confidence, created_at, updated_at) "
          "VALUES (?,?,?,?,?,?,?,?)");
      st.bind(1, e.id).bind(2, e.user_id).bind(3, e.kind).bind(4, e.name).bind(5, e.summary).bind(6, e.confidence);
      st.bind(7, to_millis(e.created_at)).bind(8, to_millis(e.updated_at)).run();
    });
    return e;
  }

  std::optional<Entity> get_entity(const std::string& user_id, const std::string& id) override {
    auto st = db_.prepare(std::string(kEntitySelect) + " WHERE e.user_id = ? AND e.id = ?");
    st.bind(1, user_id).bind(2, id);
    std::optional<Entity> out;
    if (st.step()) out = read_entity(st);
    st.reset();
    if (out) load_aliases(*out);
    return out;
  }

  std::vector<Entity> list_entities(const std::string& user_id, const std::string& kind, int limit) override {
    auto st = db_.prepare(std::string(kEntitySelect) +
                          " WHERE e.user_id = ? AND e.merged_into IS NULL AND (? = '' OR e.kind = ?) "
                          "ORDER BY 11 DESC, e.name LIMIT ?");
    st.bind(1, user_id).bind(2, kind).bind(3, kind).bind(4, static_cast<int64_t>(limit));
    std::vector<Entity> out;
    while (st.step()) out.push_back(read_entity(st));
    st.reset();
    for (auto& e : out) load_aliases(e);
    return out;
  }

  std::vector<Entity> entities_by_alias(const std::string& user_id, const std::string& norm) override {
    auto st = db_.prepare(std::string(kEntitySelect) +
                          " WHERE e.user_id = ? AND e.merged_into IS NULL AND e.id IN "
                          "(SELECT entity_id FROM graph_aliases WHERE user_id = ? AND norm = ?) ORDER BY 11 DESC");
    st.bind(1, user_id).bind(2, user_id).bind(3, norm);
    std::vector<Entity> out;
    while (st.step()) out.push_back(read_entity(st));
    st.reset();
    for (auto& e : out) load_aliases(e);
    return out;
  }

  std::vector<std::pair<std::string, std::string>> alias_index(const std::string& user_id) override {
    auto st = db_.prepare(
        "SELECT a.norm, a.entity_id FROM graph_aliases a JOIN graph_entities e ON e.id = a.entity_id "
        "WHERE a.user_id = ? AND e.merged_into IS NULL");
    st.bind(1, user_id);
    std::vector<std::pair<std::string, std::string>> out;
    while (st.step()) out.emplace_back(st.text(0), st.text(1));
    st.reset();
    return out;
  }

  void add_alias(const std::string& user_id, const std::string& entity_id, const std::string& alias,
                 const std::string& norm) override {
    if (norm.empty()) return;
    db_.transaction([&] {
      require_entity(user_id, entity_id);
      db_.prepare("INSERT OR IGNORE INTO graph_aliases(entity_id, user_id, alias, norm) VALUES (?,?,?,?)")
          .bind(1, entity_id)
          .bind(2, user_id)
          .bind(3, alias)
          .bind(4, norm)
          .run();
    });
  }

  void update_entity_summary(const std::string& user_id, const std::string& entity_id,
                             const std::string& summary) override {
    db_.transaction([&] {
      db_.prepare("UPDATE graph_entities SET summary = ?, updated_at = ? WHERE id = ? AND user_id = ?")
          .bind(1, summary)
          .bind(2, to_millis(clock_.now()))
          .bind(3, entity_id)
          .bind(4, user_id)
          .run();
      if (db_.changes() == 0) throw not_found("no entity with id " + entity_id);
    });
  }

  void add_mention(const std::string& user_id, const Mention& m) override {
    db_.transaction([&] {
      require_entity(user_id, m.entity_id);
      auto st = db_.prepare(
          "INSERT OR IGNORE INTO graph_mentions(entity_id, memory_id, surface, norm, created_at) "
          "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM memories WHERE id = ? AND user_id = ?)");
      st.bind(1, m.entity_id).bind(2, m.memory_id).bind(3, m.surface).bind(4, m.norm);
      st.bind(5, to_millis(clock_.now())).bind(6, m.memory_id).bind(7, user_id).run();
    });
  }

  std::vector<Mention> mentions_of(const std::string& user_id, const std::string& entity_id) override {
    auto st = db_.prepare(
        "SELECT g.entity_id, g.memory_id, g.surface, g.norm FROM graph_mentions g JOIN graph_entities e "
        "ON e.id = g.entity_id WHERE e.user_id = ? AND g.entity_id = ? ORDER BY g.created_at, g.memory_id");
    st.bind(1, user_id).bind(2, entity_id);
    std::vector<Mention> out;
    while (st.step()) out.push_back({st.text(0), st.text(1), st.text(2), st.text(3)});
    st.reset();
    return out;
  }

  void merge_entities(const std::string& user_id, const std::string& from, const std::string& into) override {
    if (from == into) throw invalid_input("cannot merge an entity into itself");
    db_.transaction([&] {
      require_entity(user_id, from);
      require_entity(user_id, into);
      for (const char* sql : {
               "UPDATE OR IGNORE graph_aliases SET entity_id = ?1 WHERE entity_id = ?2",
               "DELETE FROM graph_aliases WHERE entity_id = ?2 AND ?1 IS NOT NULL",
               "UPDATE OR IGNORE graph_mentions SET entity_id = ?1 WHERE entity_id = ?2",
               "DELETE FROM graph_mentions WHERE entity_id = ?2 AND ?1 IS NOT NULL",
               "UPDATE OR IGNORE graph_facts SET subject_id = ?1 WHERE subject_id = ?2",
               "UPDATE OR IGNORE graph_facts SET object_id = ?1 WHERE object_id = ?2",
               "UPDATE graph_entities SET merged_into = ?1 WHERE merged_into = ?2",
           }) {
        db_.prepare(sql).bind(1, into).bind(2, from).run();
      }
      db_.prepare("UPDATE graph_entities SET merged_into = ?, updated_at = ? WHERE id = ?")
          .bind(1, into)
          .bind(2, to_millis(clock_.now()))
          .bind(3, from)
          .run();
    });
  }

  Entity split_entity(const std::string& user_id, const std::string& from, const std::string& new_name,
                      const std::vector<std::pair<std::string, std::string>>& aliases_with_norms) override {
    Entity created;
    db_.transaction([&] {
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
        db_.prepare("DELETE FROM graph_aliases WHERE entity_id = ? AND norm = ?").bind(1, from).bind(2, norm).run();
        db_.prepare("INSERT OR IGNORE INTO graph_aliases(entity_id, user_id, alias, norm) VALUES (?,?,?,?)")
            .bind(1, created.id)
            .bind(2, user_id)
            .bind(3, alias)
            .bind(4, norm)
            .run();
      }
      std::set<std::string> moved_memories;
      for (const auto& m : mentions_of(user_id, from))
        if (norms.count(m.norm)) moved_memories.insert(m.memory_id);
      for (const auto& memory_id : moved_memories) {
        for (const char* sql : {
                 "UPDATE OR IGNORE graph_mentions SET entity_id = ?1 WHERE entity_id = ?2 AND memory_id = ?3",
                 "UPDATE OR IGNORE graph_facts SET subject_id = ?1 WHERE subject_id = ?2 AND memory_id = ?3",
                 "UPDATE OR IGNORE graph_facts SET object_id = ?1 WHERE object_id = ?2 AND memory_id = ?3",
             }) {
          db_.prepare(sql).bind(1, created.id).bind(2, from).bind(3, memory_id).run();
        }
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
    db_.transaction([&] {
      require_entity(f.user_id, f.subject_id);
      if (!f.object_id.empty()) require_entity(f.user_id, f.object_id);
      auto same = db_.prepare(
          "SELECT id FROM graph_facts WHERE subject_id = ? AND predicate = ? AND coalesce(object_id, '') = ? AND "
          "value = ? AND coalesce(memory_id, '') = ? AND coalesce(valid_from, -1) = ? AND revision_of IS NULL");
      same.bind(1, f.subject_id).bind(2, f.predicate).bind(3, f.object_id).bind(4, f.value).bind(5, f.memory_id);
      same.bind(6, f.valid_from ? to_millis(*f.valid_from) : int64_t{-1});
      if (same.step()) {
        out.fact_id = same.text(0);
        same.reset();
        return;
      }
      same.reset();
      // The same current fact from another memory confirms it: one row.
      auto current = db_.prepare(
          "SELECT id FROM graph_facts WHERE subject_id = ? AND predicate = ? AND coalesce(object_id, '') = ? AND "
          "value = ? AND invalidated_at IS NULL AND valid_to IS NULL AND ? = 0");
      current.bind(1, f.subject_id).bind(2, f.predicate).bind(3, f.object_id).bind(4, f.value);
      current.bind(5, f.valid_to ? 1 : 0);
      if (current.step()) {
        out.fact_id = current.text(0);
        current.reset();
        return;
      }
      current.reset();
      f.recorded_at = now;
      if (close_ended(f, now, out)) return;
      f.id = new_uuid_v7(now);
      if (exclusive) resolve_conflicts(f, now, out);
      insert_fact(f);
      out.fact_id = f.id;
      out.created = true;
    });
    return out;
  }

  std::vector<Fact> facts(const FactQuery& q) override {
    const int64_t known = to_millis(q.known_at.value_or(clock_.now()));
    std::string sql = std::string("SELECT ") + kFactColumns + kFactFrom +
                      " WHERE f.user_id = ?1 AND (?2 = '' OR f.subject_id = ?2 OR f.object_id = ?2) AND "
                      "f.recorded_at <= ?3 AND (?4 = 1 OR f.invalidated_at IS NULL OR f.invalidated_at > ?3)";
    if (q.valid_at) sql += " AND (f.valid_from IS NULL OR f.valid_from <= ?5) AND (f.valid_to IS NULL OR f.valid_to > ?5)";
    sql += " ORDER BY coalesce(f.valid_from, f.recorded_at), f.recorded_at, f.id LIMIT ?6";
    auto st = db_.prepare(sql);
    st.bind(1, q.user_id).bind(2, q.entity_id).bind(3, known).bind(4, q.include_retired ? 1 : 0);
    st.bind(5, q.valid_at ? to_millis(*q.valid_at) : int64_t{0}).bind(6, static_cast<int64_t>(q.limit));
    std::vector<Fact> out;
    while (st.step()) out.push_back(read_fact(st));
    st.reset();
    return out;
  }

  GraphCounts graph_counts(const std::string& user_id) override {
    GraphCounts c;
    auto st = db_.prepare(
        "SELECT (SELECT count(*) FROM graph_entities WHERE user_id = ?1 AND merged_into IS NULL), "
        "(SELECT count(*) FROM graph_facts WHERE user_id = ?1), "
        "(SELECT count(*) FROM graph_facts WHERE user_id = ?1 AND invalidated_at IS NULL AND valid_to IS NULL)");
    st.bind(1, user_id);
    st.step();
    c.entities = st.integer(0);
    c.facts = st.integer(1);
    c.current_facts = st.integer(2);
    st.reset();
    return c;
  }

  std::vector<Fact> facts_changed(const std::string& user_id, TimePoint since, TimePoint until) override {
    auto st = db_.prepare(std::string("SELECT ") + kFactColumns + kFactFrom +
                          " WHERE f.user_id = ?1 AND ((f.recorded_at >= ?2 AND f.recorded_at < ?3) OR "
                          "(f.invalidated_at >= ?2 AND f.invalidated_at < ?3)) ORDER BY f.recorded_at, f.id");
    st.bind(1, user_id).bind(2, to_millis(since)).bind(3, to_millis(until));
    std::vector<Fact> out;
    while (st.step()) out.push_back(read_fact(st));
    st.reset();
    return out;
  }

  std::vector<Entity> entities_created(const std::string& user_id, TimePoint since, TimePoint until) override {
    auto st = db_.prepare(std::string(kEntitySelect) +
                          " WHERE e.user_id = ? AND e.merged_into IS NULL AND e.created_at >= ? AND e.created_at < ? "
                          "ORDER BY e.created_at");
    st.bind(1, user_id).bind(2, to_millis(since)).bind(3, to_millis(until));
    std::vector<Entity> out;
    while (st.step()) out.push_back(read_entity(st));
    st.reset();
    return out;
  }

  // --- Lifecycle ---

  std::vector<LifecycleRow> lifecycle_rows(const std::string& user_id, const std::string& after_id,
                                           int limit) override {
    auto st = db_.prepare(
        "SELECT m.id, m.type, m.tier, m.truth_category, m.memory_type, m.source, m.approved, m.confidence, "
        "m.source_reliability, m.recency, m.corroboration_count, m.contradiction_count, m.event_time, m.created_at, "
        "m.updated_at, m.last_accessed, m.access_count, l.validated_at, l.identity_since, l.cold_since, "
        "l.extracted_at, l.dedup_checked_at, coalesce(l.merged_into, '') FROM memories m "
        "LEFT JOIN memory_lifecycle l ON l.memory_id = m.id WHERE m.user_id = ? AND m.id > ? ORDER BY m.id LIMIT ?");
    st.bind(1, user_id).bind(2, after_id).bind(3, static_cast<int64_t>(limit));
    std::vector<LifecycleRow> out;
    while (st.step()) {
      LifecycleRow r;
      r.id = st.text(0);
      r.type = st.text(1);
      r.tier = parse_tier(st.text(2));
      r.truth_category = parse_truth_category(st.text(3));
      r.memory_kind = parse_memory_kind(st.text(4));
      r.source = parse_source(st.text(5));
      r.approved = st.integer(6) != 0;
      r.confidence.overall = st.real(7);
      r.confidence.source_reliability = st.real(8);
      r.confidence.recency = st.real(9);
      r.confidence.corroboration_count = static_cast<int>(st.integer(10));
      r.confidence.contradiction_count = static_cast<int>(st.integer(11));
      r.event_time = from_millis(st.integer(12));
      r.created_at = from_millis(st.integer(13));
      r.updated_at = from_millis(st.integer(14));
      r.last_accessed = opt_time(st, 15);
      r.access_count = static_cast<int>(st.integer(16));
      r.lifecycle = read_lifecycle(st, 17);
      out.push_back(std::move(r));
    }
    st.reset();
    return out;
  }

  MemoryLifecycle lifecycle(const std::string& memory_id) override {
    auto st = db_.prepare(
        "SELECT validated_at, identity_since, cold_since, extracted_at, dedup_checked_at, coalesce(merged_into, '') "
        "FROM memory_lifecycle WHERE memory_id = ?");
    st.bind(1, memory_id);
    MemoryLifecycle out;
    if (st.step()) out = read_lifecycle(st, 0);
    st.reset();
    return out;
  }

  void set_confidence(const std::string& user_id, const std::string& memory_id, const Confidence& c) override {
    db_.transaction([&] {
      db_.prepare(
             "UPDATE memories SET confidence = ?, source_reliability = ?, recency = ?, corroboration_count = ?, "
             "contradiction_count = ? WHERE id = ? AND user_id = ?")
          .bind(1, c.overall)
          .bind(2, c.source_reliability)
          .bind(3, c.recency)
          .bind(4, c.corroboration_count)
          .bind(5, c.contradiction_count)
          .bind(6, memory_id)
          .bind(7, user_id)
          .run();
    });
  }

  bool change_tier(const std::string& user_id, const TierChange& change) override {
    bool changed = false;
    db_.transaction([&] {
      auto cur = db_.prepare("SELECT tier FROM memories WHERE id = ? AND user_id = ?");
      cur.bind(1, change.memory_id).bind(2, user_id);
      if (!cur.step()) {
        cur.reset();
        throw not_found("no memory with id " + change.memory_id);
      }
      const Tier now_tier = parse_tier(cur.text(0));
      cur.reset();
      if (now_tier == change.to) return;
      // The history row goes first: the by-hand trigger sees it and stays quiet.
      db_.prepare(
             "INSERT INTO memory_tier_changes(memory_id, user_id, from_tier, to_tier, rule, detail, at) "
             "VALUES (?,?,?,?,?,?,?)")
          .bind(1, change.memory_id)
          .bind(2, user_id)
          .bind(3, to_string(now_tier))
          .bind(4, to_string(change.to))
          .bind(5, change.rule)
          .bind(6, change.detail.dump())
          .bind(7, to_millis(change.at))
          .run();
      db_.prepare("UPDATE memories SET tier = ? WHERE id = ? AND user_id = ?")
          .bind(1, to_string(change.to))
          .bind(2, change.memory_id)
          .bind(3, user_id)
          .run();
      changed = true;
    });
    return changed;
  }

  std::vector<TierChange> tier_history(const std::string& user_id, const std::string& memory_id) override {
    auto st = db_.prepare(
        "SELECT memory_id, from_tier, to_tier, rule, detail, at FROM memory_tier_changes "
        "WHERE user_id = ? AND memory_id = ? ORDER BY seq");
    st.bind(1, user_id).bind(2, memory_id);
    return read_tier_changes(st);
  }

  std::vector<TierChange> tier_changes(const std::string& user_id, TimePoint since, TimePoint until) override {
    auto st = db_.prepare(
        "SELECT memory_id, from_tier, to_tier, rule, detail, at FROM memory_tier_changes "
        "WHERE user_id = ? AND at >= ? AND at < ? ORDER BY seq");
    st.bind(1, user_id).bind(2, to_millis(since)).bind(3, to_millis(until));
    return read_tier_changes(st);
  }

  void mark_validated(const std::string& user_id, const std::string& memory_id, TimePoint at) override {
    db_.transaction([&] {
      require_memory(user_id, memory_id);
      upsert_lifecycle(memory_id, "validated_at", to_millis(at));
    });
  }

  void mark_extracted(const std::string& user_id, const std::string& memory_id, TimePoint at) override {
    db_.transaction([&] {
      require_memory(user_id, memory_id);
      upsert_lifecycle(memory_id, "extracted_at", to_millis(at));
    });
  }

  std::vector<std::string> unextracted(const std::string& user_id, int limit) override {
    auto st = db_.prepare(
        "SELECT m.id FROM memories m LEFT JOIN memory_lifecycle l ON l.memory_id = m.id WHERE m.user_id = ? AND "
        "m.approved = 1 AND l.extracted_at IS NULL ORDER BY m.event_time, m.id LIMIT ?");
    st.bind(1, user_id).bind(2, static_cast<int64_t>(limit));
    return read_ids(st);
  }

  void mark_dedup_checked(const std::string& user_id, const std::vector<std::string>& ids, TimePoint at) override {
    db_.transaction([&] {
      for (const auto& id : ids) {
        if (!memory_exists(user_id, id)) continue;
        upsert_lifecycle(id, "dedup_checked_at", to_millis(at));
      }
    });
  }

  std::vector<std::string> undeduped(const std::string& user_id, const std::string& after_id, int limit) override {
    auto st = db_.prepare(
        "SELECT m.id FROM memories m LEFT JOIN memory_lifecycle l ON l.memory_id = m.id WHERE m.user_id = ? AND "
        "m.id > ? AND m.approved = 1 AND l.dedup_checked_at IS NULL AND l.merged_into IS NULL AND "
        "l.cold_since IS NULL ORDER BY m.id LIMIT ?");
    st.bind(1, user_id).bind(2, after_id).bind(3, static_cast<int64_t>(limit));
    return read_ids(st);
  }

  std::vector<std::string> users() override {
    auto st = db_.prepare("SELECT DISTINCT user_id FROM memories ORDER BY user_id");
    return read_ids(st);
  }

  bool merge_duplicate(const std::string& user_id, const std::string& survivor, const std::string& duplicate,
                       TimePoint at) override {
    if (survivor == duplicate) return false;
    bool merged = false;
    db_.transaction([&] {
      require_memory(user_id, survivor);
      require_memory(user_id, duplicate);
      if (!lifecycle(duplicate).merged_into.empty()) return;
      db_.prepare(
             "INSERT INTO memory_lifecycle(memory_id, merged_into) VALUES (?1, ?2) "
             "ON CONFLICT(memory_id) DO UPDATE SET merged_into = ?2")
          .bind(1, duplicate)
          .bind(2, survivor)
          .run();
      db_.prepare(
             "INSERT OR IGNORE INTO memory_relations(source_id, target_id, kind, created_at) "
             "VALUES (?, ?, 'supersedes', ?)")
          .bind(1, survivor)
          .bind(2, duplicate)
          .bind(3, to_millis(at))
          .run();
      // The duplicate's provenance travels with the survivor: where each
      // copy came from stays answerable from the memory that is kept.
      db_.prepare(
             "UPDATE memories SET corroboration_count = corroboration_count + 1, metadata = json_set(metadata, "
             "'$.merged_from', json_insert(coalesce(json_extract(metadata, '$.merged_from'), json('[]')), '$[#]', "
             "(SELECT json_object('id', d.id, 'provenance', json(d.provenance), 'source', d.source, 'created_at', "
             "d.created_at) FROM memories d WHERE d.id = ?1))) WHERE id = ?2 AND user_id = ?3")
          .bind(1, duplicate)
          .bind(2, survivor)
          .bind(3, user_id)
          .run();
      merged = true;
    });
    return merged;
  }

  std::vector<std::string> move_to_cold(const std::string& user_id, TimePoint cutoff, TimePoint at) override {
    std::vector<std::string> moved;
    db_.transaction([&] {
      auto st = db_.prepare(
          "SELECT m.id FROM memories m LEFT JOIN memory_lifecycle l ON l.memory_id = m.id WHERE m.user_id = ?1 AND "
          "m.tier != 'persistent' AND m.event_time < ?2 AND m.created_at < ?2 AND coalesce(m.last_accessed, 0) < ?2 "
          "AND l.cold_since IS NULL");
      st.bind(1, user_id).bind(2, to_millis(cutoff));
      moved = read_ids(st);
      for (const auto& id : moved) upsert_lifecycle(id, "cold_since", to_millis(at));
    });
    return moved;
  }

  int64_t count_cold(const std::string& user_id) override {
    auto st = db_.prepare(
        "SELECT count(*) FROM memory_lifecycle l JOIN memories m ON m.id = l.memory_id WHERE m.user_id = ? AND "
        "l.cold_since IS NOT NULL");
    st.bind(1, user_id);
    st.step();
    const int64_t n = st.integer(0);
    st.reset();
    return n;
  }

  std::optional<std::string> find_by_maintenance_key(const std::string& user_id, const std::string& key) override {
    auto st = db_.prepare(
        "SELECT id FROM memories WHERE user_id = ? AND json_extract(metadata, '$.maintenance_key') = ?");
    st.bind(1, user_id).bind(2, key);
    std::optional<std::string> out;
    if (st.step()) out = st.text(0);
    st.reset();
    return out;
  }

  // --- Archive ---

  bool archive_memory(const std::string& user_id, const std::string& memory_id, const std::string& reason,
                      TimePoint at) override {
    bool archived = false;
    db_.transaction([&] {
      auto m = read_memory_record(user_id, memory_id);
      if (!m) return;
      db_.prepare(
             "INSERT OR REPLACE INTO memory_archive(memory_id, user_id, reason, record, archived_at) "
             "VALUES (?,?,?,?,?)")
          .bind(1, memory_id)
          .bind(2, user_id)
          .bind(3, reason)
          .bind(4, to_json(*m).dump())
          .bind(5, to_millis(at))
          .run();
      db_.prepare("DELETE FROM memories WHERE id = ? AND user_id = ?").bind(1, memory_id).bind(2, user_id).run();
      archived = true;
    });
    return archived;
  }

  std::vector<ArchivedMemory> list_archive(const std::string& user_id, int limit) override {
    auto st = db_.prepare(
        "SELECT memory_id, user_id, reason, record, archived_at FROM memory_archive WHERE user_id = ? "
        "ORDER BY archived_at DESC, memory_id LIMIT ?");
    st.bind(1, user_id).bind(2, static_cast<int64_t>(limit));
    std::vector<ArchivedMemory> out;
    while (st.step()) out.push_back(read_archived(st));
    st.reset();
    return out;
  }

  std::optional<ArchivedMemory> get_archived(const std::string& user_id, const std::string& memory_id) override {
    auto st = db_.prepare(
        "SELECT memory_id, user_id, reason, record, archived_at FROM memory_archive WHERE user_id = ? AND "
        "memory_id = ?");
    st.bind(1, user_id).bind(2, memory_id);
    std::optional<ArchivedMemory> out;
    if (st.step()) out = read_archived(st);
    st.reset();
    return out;
  }

  void drop_archived(const std::string& user_id, const std::string& memory_id) override {
    db_.transaction([&] {
      db_.prepare("DELETE FROM memory_archive WHERE user_id = ? AND memory_id = ?")
          .bind(1, user_id)
          .bind(2, memory_id)
          .run();
    });
  }

 private:
  static constexpr const char* kEntitySelect =
      "SELECT e.id, e.user_id, e.kind, e.name, e.summary, e.confidence, coalesce(e.merged_into, ''), e.created_at, "
      "e.updated_at, 0, (SELECT count(*) FROM graph_mentions g WHERE g.entity_id = e.id) FROM graph_entities e";

  static Entity read_entity(const sqlite::Statement& st) {
    Entity e;
    e.id = st.text(0);
    e.user_id = st.text(1);
    e.kind = st.text(2);
    e.name = st.text(3);
    e.summary = st.text(4);
    e.confidence = st.real(5);
    e.merged_into = st.text(6);
    e.created_at = from_millis(st.integer(7));
    e.updated_at = from_millis(st.integer(8));
    e.mention_count = static_cast<int>(st.integer(10));
    return e;
  }

  void load_aliases(Entity& e) {
    auto st = db_.prepare("SELECT alias FROM graph_aliases WHERE entity_id = ? ORDER BY alias");
    st.bind(1, e.id);
    e.aliases.clear();
    while (st.step()) e.aliases.push_back(st.text(0));
    st.reset();
  }

  void require_entity(const std::string& user_id, const std::string& id) {
    auto st = db_.prepare("SELECT 1 FROM graph_entities WHERE id = ? AND user_id = ?");
    st.bind(1, id).bind(2, user_id);
    const bool found = st.step();
    st.reset();
    if (!found) throw not_found("no entity with id " + id);
  }

  bool memory_exists(const std::string& user_id, const std::string& id) {
    auto st = db_.prepare("SELECT 1 FROM memories WHERE id = ? AND user_id = ?");
    st.bind(1, id).bind(2, user_id);
    const bool found = st.step();
    st.reset();
    return found;
  }

  void require_memory(const std::string& user_id, const std::string& id) {
    if (!memory_exists(user_id, id)) throw not_found("no memory with id " + id);
  }

  void upsert_lifecycle(const std::string& memory_id, const std::string& column, int64_t value) {
    db_.prepare("INSERT INTO memory_lifecycle(memory_id, " + column + ") VALUES (?1, ?2) ON CONFLICT(memory_id) " +
                "DO UPDATE SET " + column + " = ?2")
        .bind(1, memory_id)
        .bind(2, value)
        .run();
  }

  static MemoryLifecycle read_lifecycle(const sqlite::Statement& st, int first) {
    MemoryLifecycle l;
    l.validated_at = opt_time(st, first);
    l.identity_since = opt_time(st, first + 1);
    l.cold_since = opt_time(st, first + 2);
    l.extracted_at = opt_time(st, first + 3);
    l.dedup_checked_at = opt_time(st, first + 4);
    l.merged_into = st.text(first + 5);
    return l;
  }

  static std::vector<TierChange> read_tier_changes(sqlite::Statement& st) {
    std::vector<TierChange> out;
    while (st.step()) {
      TierChange c;
      c.memory_id = st.text(0);
      c.from = parse_tier(st.text(1));
      c.to = parse_tier(st.text(2));
      c.rule = st.text(3);
      auto d = nlohmann::json::parse(st.text(4), nullptr, false);
      c.detail = d.is_object() ? d : nlohmann::json::object();
      c.at = from_millis(st.integer(5));
      out.push_back(std::move(c));
    }
    st.reset();
    return out;
  }

  static std::vector<std::string> read_ids(sqlite::Statement& st) {
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    st.reset();
    return out;
  }

  // Retires `old` because of `by`: with close_at, a closed copy keeps what
  // was true until then (supersedes); without, it was simply wrong
  // (contradicts). The memories are linked and the old one counts a
  // contradiction once per pair of memories.
  void retire(const Fact& old, const Fact& by, const std::string& successor_id,
              std::optional<TimePoint> close_at, TimePoint now, FactOutcome& out) {
    db_.prepare("UPDATE graph_facts SET invalidated_at = ?, superseded_by = ? WHERE id = ?")
        .bind(1, to_millis(now))
        .bind(2, successor_id)
        .bind(3, old.id)
        .run();
    if (close_at) {
      Fact closed = old;
      closed.id = new_uuid_v7(now);
      closed.valid_to = *close_at;
      closed.recorded_at = now;
      closed.invalidated_at.reset();
      closed.superseded_by.clear();
      closed.revision_of = old.id;
      insert_fact(closed);
      ++out.closed;
      if (out.fact_id.empty()) out.fact_id = closed.id;
    } else {
      ++out.contradicted;
    }
    if (old.memory_id.empty() || by.memory_id.empty() || old.memory_id == by.memory_id) return;
    auto rel = db_.prepare(
        "INSERT OR IGNORE INTO memory_relations(source_id, target_id, kind, created_at) "
        "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM memories WHERE id = ?1) AND "
        "EXISTS (SELECT 1 FROM memories WHERE id = ?2)");
    rel.bind(1, by.memory_id).bind(2, old.memory_id).bind(3, close_at ? "supersedes" : "contradicts");
    rel.bind(4, to_millis(now)).run();
    if (db_.changes() == 0) return;
    db_.prepare("UPDATE memories SET contradiction_count = contradiction_count + 1 WHERE id = ? AND user_id = ?")
        .bind(1, old.memory_id)
        .bind(2, by.user_id)
        .run();
    out.affected_memory_ids.push_back(old.memory_id);
  }

  std::vector<Fact> open_facts(const Fact& f) {
    auto st = db_.prepare(std::string("SELECT ") + kFactColumns + kFactFrom +
                          " WHERE f.subject_id = ? AND f.predicate = ? AND f.invalidated_at IS NULL AND "
                          "f.valid_to IS NULL");
    st.bind(1, f.subject_id).bind(2, f.predicate);
    std::vector<Fact> out;
    while (st.step()) out.push_back(read_fact(st));
    st.reset();
    return out;
  }

  static bool same_object(const Fact& a, const Fact& b) {
    return a.object_id.empty() && b.object_id.empty() ? a.value == b.value : a.object_id == b.object_id;
  }

  // "Hana moved away from Osaka (in April 2024)": a fact with only an end
  // closes the open fact it ends instead of adding a second row. Returns
  // true when it did.
  bool close_ended(Fact& f, TimePoint now, FactOutcome& out) {
    if (!f.valid_to || f.valid_from) return false;
    bool closed_any = false;
    for (const auto& old : open_facts(f)) {
      if (!same_object(old, f)) continue;
      if (old.valid_from && *old.valid_from >= *f.valid_to) continue;
      retire(old, f, "", f.valid_to, now, out);
      closed_any = true;
    }
    if (closed_any) out.created = true;
    return closed_any;
  }

  // The old current facts an exclusive fact meets (design notes in knowledge.h).
  void resolve_conflicts(Fact& f, TimePoint now, FactOutcome& out) {
    const TimePoint new_start = f.valid_from.value_or(now);
    for (const auto& old : open_facts(f)) {
      if (same_object(old, f)) continue;
      const std::optional<TimePoint> old_start = old.valid_from;
      if (old_start && new_start < *old_start) {
        // News about an earlier period: it ended when the known one began.
        if (!f.valid_to || *f.valid_to > *old_start) f.valid_to = *old_start;
        continue;
      }
      const bool same_period = old_start && *old_start == new_start;
      retire(old, f, f.id, same_period ? std::nullopt : std::optional<TimePoint>(new_start), now, out);
    }
  }

  void insert_fact(const Fact& f) {
    auto st = db_.prepare(
        "INSERT INTO graph_facts(id, user_id, subject_id, predicate, object_id, value, valid_from, valid_to, "
        "recorded_at, invalidated_at, memory_id, confidence, extractor, superseded_by, revision_of) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    st.bind(1, f.id).bind(2, f.user_id).bind(3, f.subject_id).bind(4, f.predicate);
    if (f.object_id.empty()) st.bind_null(5);
    else st.bind(5, f.object_id);
    st.bind(6, f.value).bind_optional(7, opt_ms(f.valid_from)).bind_optional(8, opt_ms(f.valid_to));
    st.bind(9, to_millis(f.recorded_at)).bind_optional(10, opt_ms(f.invalidated_at));
    if (f.memory_id.empty() || !memory_exists(f.user_id, f.memory_id)) st.bind_null(11);
    else st.bind(11, f.memory_id);
    st.bind(12, f.confidence).bind(13, f.extractor.empty() ? std::string("user") : f.extractor);
    if (f.superseded_by.empty()) st.bind_null(14);
    else st.bind(14, f.superseded_by);
    if (f.revision_of.empty()) st.bind_null(15);
    else st.bind(15, f.revision_of);
    st.run();
  }

  std::optional<Memory> read_memory_record(const std::string& user_id, const std::string& id) {
    auto st = db_.prepare(std::string("SELECT ") + memory_columns() + " FROM memories m WHERE m.id = ? AND m.user_id = ?");
    st.bind(1, id).bind(2, user_id);
    if (!st.step()) {
      st.reset();
      return std::nullopt;
    }
    Memory m = read_memory_row(st);
    st.reset();
    auto rel = db_.prepare("SELECT target_id, kind FROM memory_relations WHERE source_id = ? ORDER BY created_at");
    rel.bind(1, id);
    while (rel.step()) m.relations.push_back({rel.text(0), parse_relation_kind(rel.text(1))});
    rel.reset();
    return m;
  }

  static ArchivedMemory read_archived(const sqlite::Statement& st) {
    ArchivedMemory a;
    a.memory_id = st.text(0);
    a.user_id = st.text(1);
    a.reason = st.text(2);
    auto j = nlohmann::json::parse(st.text(3), nullptr, false);
    if (j.is_object()) {
      a.memory = memory_from_json(j);
      // memory_from_json reads what a user may give; the record also keeps
      // the times and counters the store owns.
      if (auto t = parse_iso8601(j.value("created_at", ""))) a.memory.created_at = *t;
      if (j.contains("last_accessed") && j["last_accessed"].is_string())
        if (auto t = parse_iso8601(j["last_accessed"].get<std::string>())) a.memory.last_accessed = *t;
      a.memory.access_count = j.value("access_count", 0);
    }
    a.archived_at = from_millis(st.integer(4));
    return a;
  }

  sqlite::Database db_;
  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<KnowledgeStore> open_sqlite_knowledge_store(const std::filesystem::path& path,
                                                            const TimeSource& clock) {
  return std::make_unique<SqliteKnowledgeStore>(path, clock);
}

}  // namespace kioku
