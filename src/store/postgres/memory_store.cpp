// PgMemoryStore: memories, relations, vectors, journals and core memory on
// PostgreSQL (schema.h has the schema and the full-text design).
#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json.h"
#include "core/id.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/schema.h"
#include "store/postgres/store_base.h"

namespace kioku {
namespace pg {

StoreBase::StoreBase(const std::string& url) : pool_(shared_pool(url)) {
  std::lock_guard lock(pool_->migrate_mu);
  if (pool_->migrated) return;
  auto lease = pool_->acquire();
  lease->set_scope(Scope::all_users());  // migrations span users
  migrate(*lease, "kioku", memory_migrations());
  pool_->migrated = true;
}

}  // namespace pg

namespace {

using pg::Connection;
using pg::Param;
using pg::Params;
using pg::Result;

constexpr const char* kNotCold =
    " AND NOT EXISTS (SELECT 1 FROM memory_lifecycle l WHERE l.memory_id = m.id AND "
    "(l.cold_since IS NOT NULL OR l.merged_into IS NOT NULL))";

// Numbered placeholders for a growing parameter list.
struct Binds {
  Params params;
  std::string add(Param p) {
    params.push_back(std::move(p));
    return "$" + std::to_string(params.size());
  }
  std::string list(const std::vector<std::string>& values) {
    std::string s;
    for (const auto& v : values) s += (s.empty() ? "" : ",") + add(v);
    return s;
  }
};

std::string where_sql(const MemoryFilter& f, Binds& b) {
  std::string w = " AND m.user_id = " + b.add(f.user_id);
  if (!f.types.empty()) w += " AND m.type IN (" + b.list(f.types) + ")";
  if (!f.tags.empty()) w += " AND m.tags ?| ARRAY[" + b.list(f.tags) + "]::text[]";
  if (f.tier) w += " AND m.tier = " + b.add(std::string(to_string(*f.tier)));
  if (!f.kinds.empty()) {
    std::vector<std::string> kinds;
    for (auto k : f.kinds) kinds.emplace_back(to_string(k));
    w += " AND m.memory_type IN (" + b.list(kinds) + ")";
  }
  if (f.since) w += " AND m.event_time >= " + b.add(to_millis(*f.since));
  if (f.until) w += " AND m.event_time < " + b.add(to_millis(*f.until));
  if (f.approved) w += " AND m.approved = " + b.add(*f.approved);
  return w;
}

// The tsvector expression over four placeholders (content, summary, tags, entities).
std::string fts_expr(const std::string& c, const std::string& s, const std::string& t, const std::string& e) {
  return "setweight(to_tsvector('kioku', " + c + "), 'A') || setweight(to_tsvector('kioku', " + s +
         "), 'B') || setweight(to_tsvector('kioku', " + t + "), 'C') || setweight(to_tsvector('kioku', " + e +
         "), 'D')";
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

class PgCoreMemoryStore final : public CoreMemoryStore, pg::StoreBase {
 public:
  PgCoreMemoryStore(const std::string& url, const TimeSource& clock) : StoreBase(url), clock_(clock) {}

  std::vector<CoreBlock> list_blocks(const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + kBlockColumns + " FROM core_blocks WHERE user_id = $1 ORDER BY label",
                      {user_id});
      std::vector<CoreBlock> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_block(r, i));
      return out;
    });
  }

  std::optional<CoreBlock> get_block(const std::string& user_id, const std::string& label) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) -> std::optional<CoreBlock> {
      auto r = c.exec(std::string("SELECT ") + kBlockColumns + " FROM core_blocks WHERE user_id = $1 AND label = $2",
                      {user_id, label});
      if (!r.rows()) return std::nullopt;
      return read_block(r, 0);
    });
  }

  CoreBlock put_block(const std::string& user_id, const CoreBlock& block, const CoreBlockAuthor& author,
                      std::optional<int> expected_version) override {
    if (block.label.empty()) throw invalid_input("a core memory block needs a label");
    CoreBlock out = block;
    transaction(pg::Scope::user(user_id), [&](Connection& c) {
      // FOR UPDATE: two editors of one block take turns, so the version check holds.
      auto cur = c.exec("SELECT version, updated_at FROM core_blocks WHERE user_id = $1 AND label = $2 FOR UPDATE",
                        {user_id, block.label});
      const int current_version = cur.rows() ? static_cast<int>(cur.integer(0, 0)) : 0;
      if (expected_version && *expected_version != current_version)
        throw conflict("core memory block '" + block.label + "' is at version " + std::to_string(current_version) +
                       ", not " + std::to_string(*expected_version) + ": it changed meanwhile");
      out.version = current_version + 1;
      out.updated_at = clock_.now();
      if (cur.rows() && to_millis(out.updated_at) < cur.integer(0, 1)) out.updated_at = from_millis(cur.integer(0, 1));
      c.exec(
          "INSERT INTO core_blocks(user_id, label, value, description, char_limit, read_only, version, updated_at) "
          "VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT(user_id, label) DO UPDATE SET value = excluded.value, "
          "description = excluded.description, char_limit = excluded.char_limit, read_only = excluded.read_only, "
          "version = excluded.version, updated_at = excluded.updated_at",
          {user_id, out.label, out.value, out.description, out.limit, out.read_only, out.version,
           to_millis(out.updated_at)});
      c.exec(
          "INSERT INTO core_block_versions(user_id, label, version, value, description, char_limit, read_only, "
          "created_at, author, tool_call_id, tool_name, turn_id, note) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
          {user_id, out.label, out.version, out.value, out.description, out.limit, out.read_only,
           to_millis(out.updated_at), author.kind, author.tool_call_id, author.tool_name, author.turn_id, author.note});
    });
    return out;
  }

  std::vector<CoreBlockVersion> block_history(const std::string& user_id, const std::string& label) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + kVersionColumns +
                          " FROM core_block_versions WHERE user_id = $1 AND label = $2 ORDER BY version",
                      {user_id, label});
      std::vector<CoreBlockVersion> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_version(r, i));
      return out;
    });
  }

  std::optional<CoreBlockVersion> block_version(const std::string& user_id, const std::string& label,
                                                int version) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) -> std::optional<CoreBlockVersion> {
      auto r = c.exec(std::string("SELECT ") + kVersionColumns +
                          " FROM core_block_versions WHERE user_id = $1 AND label = $2 AND version = $3",
                      {user_id, label, version});
      if (!r.rows()) return std::nullopt;
      return read_version(r, 0);
    });
  }

  bool remove_block(const std::string& user_id, const std::string& label) override {
    bool removed = false;
    transaction(pg::Scope::user(user_id), [&](Connection& c) {
      removed = c.exec("DELETE FROM core_blocks WHERE user_id = $1 AND label = $2", {user_id, label}).affected() > 0;
      c.exec("DELETE FROM core_block_versions WHERE user_id = $1 AND label = $2", {user_id, label});
    });
    return removed;
  }

  std::optional<TimePoint> blocks_changed_at(const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) -> std::optional<TimePoint> {
      auto r = c.exec("SELECT max(updated_at) FROM core_blocks WHERE user_id = $1", {user_id});
      if (!r.rows() || r.is_null(0, 0)) return std::nullopt;
      return from_millis(r.integer(0, 0));
    });
  }

 private:
  static constexpr const char* kBlockColumns = "label, value, description, char_limit, read_only, version, updated_at";
  static constexpr const char* kVersionColumns =
      "label, value, description, char_limit, read_only, version, created_at, author, tool_call_id, tool_name, "
      "turn_id, note";
  static CoreBlock read_block(const Result& r, int i) {
    CoreBlock b;
    b.label = r.text(i, 0);
    b.value = r.text(i, 1);
    b.description = r.text(i, 2);
    b.limit = static_cast<int>(r.integer(i, 3));
    b.read_only = r.boolean(i, 4);
    b.version = static_cast<int>(r.integer(i, 5));
    b.updated_at = from_millis(r.integer(i, 6));
    return b;
  }
  static CoreBlockVersion read_version(const Result& r, int i) {
    CoreBlockVersion v;
    v.block = read_block(r, i);
    v.created_at = v.block.updated_at;
    v.author.kind = r.text(i, 7);
    v.author.tool_call_id = r.text(i, 8);
    v.author.tool_name = r.text(i, 9);
    v.author.turn_id = r.text(i, 10);
    v.author.note = r.text(i, 11);
    return v;
  }
  const TimeSource& clock_;
};

class PgMemoryStore final : public MemoryStore, pg::StoreBase {
 public:
  PgMemoryStore(const std::string& url, const TimeSource& clock) : StoreBase(url), clock_(clock), core_(url, clock) {}

  CoreMemoryStore& core_memory() override { return core_; }

  AddOutcome add(Memory m) override {
    AddOutcome out;
    transaction(pg::Scope::user(m.user_id), [&](Connection& c) { out = add_one(c, m); });
    return out;
  }

  std::vector<AddOutcome> add_batch(std::vector<Memory> memories) override {
    std::vector<AddOutcome> out;
    out.reserve(memories.size());
    if (memories.empty()) return out;
    const bool plain = std::none_of(memories.begin(), memories.end(), [](const Memory& m) { return !m.relations.empty(); });
    const bool one_user = std::all_of(memories.begin(), memories.end(),
                                      [&](const Memory& m) { return m.user_id == memories.front().user_id; });
    // A batch of several users' memories: each insert under its own user's scope.
    const pg::Scope scope = one_user ? pg::Scope::user(memories.front().user_id) : pg::Scope::none();
    transaction(scope, [&](Connection& c) {
      if (!plain || !one_user) {
        for (auto& m : memories)
          out.push_back(with(pg::Scope::user(m.user_id), [&](Connection& own) { return add_one(own, m); }));
        return;
      }
      // Imports: every insert sent at once (pipeline), one round trip.
      std::vector<std::pair<std::string, Params>> statements;
      statements.reserve(memories.size());
      for (auto& m : memories) statements.emplace_back(insert_sql(), prepare_insert(m));
      auto results = c.exec_pipelined(statements);
      for (size_t i = 0; i < memories.size(); ++i) {
        const std::string kept = results[i].rows() ? results[i].text(0, 0) : "";
        out.push_back({kept, kept == memories[i].id});
      }
    });
    return out;
  }

  std::optional<Memory> get(const std::string& user_id, const std::string& id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) -> std::optional<Memory> {
      auto r = c.exec(std::string("SELECT ") + pg::memory_columns() + " FROM memories m WHERE m.id = $1 AND m.user_id = $2",
                      {id, user_id});
      if (!r.rows()) return std::nullopt;
      Memory m = pg::read_memory(r, 0);
      load_relations(c, m);
      return m;
    });
  }

  // The fields get_ranking_fields fills, and with_text those
  // get_signal_fields adds (content; the speaker and conversation strings of
  // the metadata): the columns, and their reader from column `at` on.
  static std::string ranking_columns(bool with_text) {
    return std::string("m.id, m.user_id, m.type, m.tier, m.memory_type, m.confidence, m.importance, m.approved, "
                       "m.tags, m.event_time") +
           (with_text ? ", m.content, CASE WHEN jsonb_typeof(m.metadata->'speaker') = 'string' "
                        "THEN m.metadata->>'speaker' END, CASE WHEN jsonb_typeof(m.metadata->'conversation') = "
                        "'string' THEN m.metadata->>'conversation' END"
                      : "");
  }

  static Memory ranking_row(const pg::Result& r, int i, int at, bool with_text) {
    Memory m;
    m.id = r.text(i, at);
    m.user_id = r.text(i, at + 1);
    m.type = r.text(i, at + 2);
    m.tier = parse_tier(r.text(i, at + 3));
    m.memory_kind = parse_memory_kind(r.text(i, at + 4));
    m.confidence.overall = r.real(i, at + 5);
    m.importance = r.real(i, at + 6);
    m.approved = r.boolean(i, at + 7);
    m.tags = json_string_list(r.text(i, at + 8));
    m.event_time = from_millis(r.integer(i, at + 9));
    if (with_text) {
      m.content = r.text(i, at + 10);
      if (!r.is_null(i, at + 11)) m.metadata["speaker"] = r.text(i, at + 11);
      if (!r.is_null(i, at + 12)) m.metadata["conversation"] = r.text(i, at + 12);
    }
    return m;
  }

  // In the order of ids, one statement (the candidates of a search).
  std::vector<Memory> ranking_rows(const std::string& user_id, const std::vector<std::string>& ids, bool with_text) {
    std::vector<Memory> out;
    if (ids.empty()) return out;
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec("SELECT " + ranking_columns(with_text) +
                          " FROM unnest($2::text[]) WITH ORDINALITY AS j(id, n) JOIN memories m ON m.id = j.id "
                          "WHERE m.user_id = $1 ORDER BY j.n",
                      {user_id, text_array(ids)});
      out.reserve(static_cast<size_t>(r.rows()));
      for (int i = 0; i < r.rows(); ++i) out.push_back(ranking_row(r, i, 0, with_text));
      return out;
    });
  }

  std::vector<Memory> get_many(const std::string& user_id, const std::vector<std::string>& ids) override {
    if (ids.empty()) return {};
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + pg::memory_columns() +
                          " FROM memories m WHERE m.user_id = $1 AND m.id = ANY($2::text[])",
                      {user_id, text_array(ids)});
      std::map<std::string, Memory> by_id;
      for (int i = 0; i < r.rows(); ++i) {
        Memory m = pg::read_memory(r, i);
        by_id.emplace(m.id, std::move(m));
      }
      load_relations_many(c, by_id);
      std::vector<Memory> out;
      out.reserve(by_id.size());
      for (const auto& id : ids)
        if (auto it = by_id.find(id); it != by_id.end()) out.push_back(it->second);
      return out;
    });
  }

  std::vector<Memory> get_ranking_fields(const std::string& user_id, const std::vector<std::string>& ids) override {
    return ranking_rows(user_id, ids, false);
  }

  std::vector<Memory> get_signal_fields(const std::string& user_id, const std::vector<std::string>& ids) override {
    return ranking_rows(user_id, ids, true);
  }

  void update(Memory m) override {
    transaction(pg::Scope::user(m.user_id), [&](Connection& c) {
      auto existing = get(m.user_id, m.id);
      if (!existing) throw not_found("no memory with id " + m.id);
      m.content_hash = compute_content_hash(m);
      if (m.content_hash != existing->content_hash) {
        auto dup = c.exec("SELECT id FROM memories WHERE user_id = $1 AND content_hash = $2 AND id != $3",
                          {m.user_id, m.content_hash, m.id});
        if (dup.rows()) throw conflict("the new content duplicates memory " + dup.text(0, 0));
      }
      m.created_at = existing->created_at;
      m.updated_at = clock_.now();
      if (to_millis(m.event_time) == 0) m.event_time = existing->event_time;
      Params p = fields(m);
      p.push_back(to_millis(m.event_time));
      p.push_back(to_millis(m.updated_at));
      p.push_back(m.last_accessed ? std::optional<int64_t>(to_millis(*m.last_accessed)) : std::nullopt);
      p.push_back(m.access_count);
      p.push_back(m.id);
      p.push_back(m.user_id);
      c.exec(
          "UPDATE memories SET type=$1, content=$2, summary=$3, raw_content=$4, media_path=$5, content_hash=$6, "
          "tier=$7, truth_category=$8, memory_type=$9, confidence=$10, source_reliability=$11, "
          "corroboration_count=$12, contradiction_count=$13, source=$14, importance=$15, approved=$16, tags=$17, "
          "domains=$18, entities=$19, provenance=$20, metadata=$21, recency=$22, fts=" +
              fts_expr("$23", "$24", "$25", "$26") +
              ", event_time=$27, updated_at=$28, last_accessed=$29, access_count=$30 WHERE id=$31 AND user_id=$32",
          p);
      c.exec("DELETE FROM memory_relations WHERE source_id = $1", {m.id});
      for (const auto& r : m.relations) insert_relation(c, m.user_id, m.id, r);
    });
  }

  bool remove(const std::string& user_id, const std::string& id) override {
    bool removed = false;
    transaction(pg::Scope::user(user_id), [&](Connection& c) {
      removed = c.exec("DELETE FROM memories WHERE id = $1 AND user_id = $2", {id, user_id}).affected() > 0;
    });
    return removed;
  }

  std::vector<Memory> list(const MemoryFilter& filter, ListOrder order, int limit, int offset) override {
    Binds b;
    const std::string w = where_sql(filter, b);
    std::string order_sql;
    switch (order) {
      case ListOrder::kNewestFirst: order_sql = "m.event_time DESC, m.id DESC"; break;
      case ListOrder::kOldestFirst: order_sql = "m.event_time ASC, m.id ASC"; break;
      case ListOrder::kMostImportant: order_sql = "m.importance DESC, m.event_time DESC"; break;
      case ListOrder::kRecentlyUpdated: order_sql = "m.updated_at DESC, m.id DESC"; break;
    }
    const std::string lim = b.add(static_cast<int64_t>(limit));
    const std::string off = b.add(static_cast<int64_t>(offset));
    return with(pg::Scope::user(filter.user_id), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + pg::memory_columns() + " FROM memories m WHERE true" + w +
                          " ORDER BY " + order_sql + " LIMIT " + lim + " OFFSET " + off,
                      b.params);
      std::vector<Memory> out;
      std::map<std::string, Memory> by_id;
      std::vector<std::string> ids;
      for (int i = 0; i < r.rows(); ++i) {
        Memory m = pg::read_memory(r, i);
        ids.push_back(m.id);
        by_id.emplace(m.id, std::move(m));
      }
      load_relations_many(c, by_id);
      for (const auto& id : ids) out.push_back(std::move(by_id[id]));
      return out;
    });
  }

  int64_t count(const MemoryFilter& filter) override {
    Binds b;
    const std::string w = where_sql(filter, b);
    return with(pg::Scope::user(filter.user_id), [&](Connection& c) {
      return c.exec("SELECT count(*) FROM memories m WHERE true" + w, b.params).integer(0, 0);
    });
  }

  std::vector<LexicalHit> search_text(const std::vector<std::string>& terms, const MemoryFilter& filter,
                                      int limit) override {
    return lexical_hits(terms, filter, limit, std::nullopt);
  }

  std::vector<LexicalHit> search_text_rows(const std::vector<std::string>& terms, const MemoryFilter& filter, int limit,
                                           HitRow row) override {
    return lexical_hits(terms, filter, limit, row);
  }

  // The hits, each with its ranking or signal fields when row is set (read
  // in the statement that ranks them).
  std::vector<LexicalHit> lexical_hits(const std::vector<std::string>& terms, const MemoryFilter& filter, int limit,
                                       std::optional<HitRow> row) {
    std::vector<LexicalHit> out;
    Binds b;
    std::string query;
    for (const auto& t : terms) {
      if (t.empty()) continue;
      // Each term is a phrase (like an FTS5 string): phraseto_tsquery reads
      // plain text, so no tsquery syntax in a term has any effect.
      query += (query.empty() ? "(" : " || ") + std::string("phraseto_tsquery('kioku', ") + b.add(pg::cjk_query_text(t)) + ")";
    }
    if (query.empty() || limit <= 0) return out;
    query += ")";
    const std::string w = where_sql(filter, b);
    const std::string owner = b.add(filter.user_id);
    const std::string lim = b.add(static_cast<int64_t>(limit));
    return with(pg::Scope::user(filter.user_id), [&](Connection& c) {
      // The tsquery is written out in the WHERE (not joined from a CTE) so
      // that the planner matches it against the GIN index, which is on
      // memory_fts: under row-level security PostgreSQL would not use one
      // on memories (schema.cpp, v4). The join to memories applies its policy.
      const bool with_text = row == HitRow::kSignals;
      auto r = c.exec("SELECT m.id, ts_rank_cd('{0.6, 0.6, 0.8, 1.0}', f.fts, " + query + ", 1) AS score" +
                          (row ? ", " + ranking_columns(with_text) : std::string()) +
                          " FROM memory_fts f JOIN memories m ON m.id = f.memory_id WHERE f.fts @@ (" + query +
                          ") AND f.user_id = " + owner + w + " ORDER BY score DESC, m.id LIMIT " + lim,
                      b.params);
      for (int i = 0; i < r.rows(); ++i) {
        out.push_back({r.text(i, 0), r.real(i, 1)});
        if (row) out.back().row = ranking_row(r, i, 2, with_text);
      }
      return out;
    });
  }

  std::map<std::string, std::pair<std::string, std::string>> adjacent(const std::string& user_id,
                                                                      const std::vector<std::string>& ids) override {
    std::map<std::string, std::pair<std::string, std::string>> out;
    if (ids.empty()) return out;
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(
          "SELECT s.id, "
          "(SELECT p.id FROM memories p WHERE p.user_id = s.user_id AND p.type = s.type AND p.approved AND "
          "(p.event_time, p.id) < (s.event_time, s.id) ORDER BY p.event_time DESC, p.id DESC LIMIT 1), "
          "(SELECT n.id FROM memories n WHERE n.user_id = s.user_id AND n.type = s.type AND n.approved AND "
          "(n.event_time, n.id) > (s.event_time, s.id) ORDER BY n.event_time ASC, n.id ASC LIMIT 1) "
          "FROM memories s WHERE s.user_id = $1 AND s.id = ANY($2::text[])",
          {user_id, text_array(ids)});
      for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = {r.text(i, 1), r.text(i, 2)};
      return out;
    });
  }

  void record_access(const std::string& user_id, const std::vector<std::string>& ids, TimePoint at) override {
    if (ids.empty()) return;
    transaction(pg::Scope::user(user_id), [&](Connection& c) {
      c.exec(
          "UPDATE memories SET last_accessed = $1, access_count = access_count + 1 WHERE user_id = $2 AND id = ANY($3::text[])",
          {to_millis(at), user_id, text_array(ids)});
    });
  }

  void add_relation(const std::string& user_id, const std::string& from_id, const Relation& relation) override {
    transaction(pg::Scope::user(user_id), [&](Connection& c) { insert_relation(c, user_id, from_id, relation); });
  }

  void put_embeddings(const std::string& model, const std::vector<StoredVector>& vectors) override {
    if (vectors.empty()) return;
    // The embedding queue works through every user's memories.
    transaction(pg::Scope::all_users(), [&](Connection& c) {
      const int64_t now = to_millis(clock_.now());
      for (const auto& v : vectors) {
        c.exec(
            "INSERT INTO memory_embeddings(memory_id, model, dimension, vector, created_at) "
            "SELECT $1, $2, $3, $4::bytea, $5 WHERE EXISTS (SELECT 1 FROM memories WHERE id = $1) "
            "ON CONFLICT(model, memory_id) DO UPDATE SET dimension = excluded.dimension, vector = excluded.vector, "
            "created_at = excluded.created_at",
            {v.memory_id, model, static_cast<int64_t>(v.vector.size()),
             pg::to_bytea_hex(v.vector.data(), v.vector.size() * sizeof(float)), now});
      }
    });
  }

  // Pages of 2048 in memory-id order (keyset), so neither the client nor
  // libpq ever holds every vector of a large user at once.
  void for_each_embedding(const std::string& model, const std::string& user_id,
                          const EmbeddingVisitor& visit) override {
    constexpr int64_t kPage = 2048;
    std::string after;
    for (;;) {
      int rows = 0;
      with(pg::Scope::user(user_id), [&](Connection& c) {
        auto r = c.exec(
            "SELECT e.memory_id, e.vector FROM memory_embeddings e JOIN memories m ON m.id = e.memory_id "
            "WHERE e.model = $1 AND m.user_id = $2 AND e.memory_id > $3" + std::string(kNotCold) +
                " ORDER BY e.memory_id LIMIT $4",
            {model, user_id, after, kPage});
        rows = r.rows();
        for (int i = 0; i < rows; ++i) {
          auto vector = pg::floats_from_bytea(r.text(i, 1));
          after = r.text(i, 0);
          visit(after, vector);
        }
      });
      if (rows < kPage) return;
    }
  }

  // The embedding queue (every user's memories without a vector).
  std::vector<Memory> missing_embeddings(const std::string& model, int limit) override {
    return with(pg::Scope::all_users(), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + pg::memory_columns() +
                          " FROM memories m WHERE NOT EXISTS (SELECT 1 FROM memory_embeddings e "
                          "WHERE e.model = $1 AND e.memory_id = m.id)" + kNotCold + " ORDER BY m.created_at, m.id LIMIT $2",
                      {model, static_cast<int64_t>(limit)});
      std::vector<Memory> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(pg::read_memory(r, i));
      return out;
    });
  }

  int64_t count_missing_embeddings(const std::string& model) override {
    return with(pg::Scope::all_users(), [&](Connection& c) {
      return c.exec("SELECT count(*) FROM memories m WHERE NOT EXISTS (SELECT 1 FROM memory_embeddings e "
                    "WHERE e.model = $1 AND e.memory_id = m.id)" + std::string(kNotCold),
                    {model})
          .integer(0, 0);
    });
  }

  std::vector<std::string> embedding_ids(const std::string& model, const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(
          "SELECT e.memory_id FROM memory_embeddings e JOIN memories m ON m.id = e.memory_id "
          "WHERE e.model = $1 AND m.user_id = $2" + std::string(kNotCold),
          {model, user_id});
      std::vector<std::string> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
      return out;
    });
  }

  int64_t count_embeddings(const std::string& model, const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      return c.exec("SELECT count(*) FROM memory_embeddings e JOIN memories m ON m.id = e.memory_id "
                    "WHERE e.model = $1 AND m.user_id = $2" + std::string(kNotCold),
                    {model, user_id})
          .integer(0, 0);
    });
  }

  std::vector<StoredVector> get_embeddings(const std::string& model, const std::vector<std::string>& ids) override {
    if (ids.empty()) return {};
    // The process's vector index keeps every user's vectors in step (src/search/vector_catalog).
    return with(pg::Scope::all_users(), [&](Connection& c) {
      auto r = c.exec("SELECT memory_id, vector FROM memory_embeddings WHERE model = $1 AND memory_id = ANY($2::text[])",
                      {model, text_array(ids)});
      std::vector<StoredVector> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), pg::floats_from_bytea(r.text(i, 1))});
      return out;
    });
  }

  std::map<std::string, std::vector<float>> cached_embeddings(const std::string& model,
                                                             const std::vector<std::string>& text_hashes) override {
    std::map<std::string, std::vector<float>> out;
    if (text_hashes.empty()) return out;
    // The cache belongs to no user (text hash -> vector): no policy applies to it.
    return with(pg::Scope::none(), [&](Connection& c) {
      auto r = c.exec("SELECT text_hash, vector FROM embedding_cache WHERE model = $1 AND text_hash = ANY($2::text[])",
                      {model, text_array(text_hashes)});
      for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = pg::floats_from_bytea(r.text(i, 1));
      return out;
    });
  }

  void cache_embeddings(const std::string& model,
                        const std::vector<std::pair<std::string, std::vector<float>>>& by_text_hash) override {
    if (by_text_hash.empty()) return;
    transaction(pg::Scope::none(), [&](Connection& c) {
      for (const auto& [hash, v] : by_text_hash)
        c.exec(
            "INSERT INTO embedding_cache(model, text_hash, vector) VALUES ($1, $2, $3::bytea) "
            "ON CONFLICT(model, text_hash) DO UPDATE SET vector = excluded.vector",
            {model, hash, pg::to_bytea_hex(v.data(), v.size() * sizeof(float))});
    });
  }

  bool add_journal(const Journal& journal, Memory as_memory) override {
    bool inserted = false;
    transaction(pg::Scope::user(journal.user_id), [&](Connection& c) {
      // Serialises two processes storing the same journal at once.
      c.exec("SELECT pg_advisory_xact_lock(hashtext($1))", {"journal:" + journal.id});
      if (c.exec("SELECT 1 FROM journals WHERE id = $1", {journal.id}).rows()) return;
      as_memory.id = journal.memory_id.empty() ? new_uuid_v7(clock_.now()) : journal.memory_id;
      as_memory.user_id = journal.user_id;
      AddOutcome added = add_one(c, as_memory);
      c.exec(
          "INSERT INTO journals(id, user_id, title, body, source_entry_ids, tags, markdown_path, memory_id, "
          "needs_recompile, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
          {journal.id, journal.user_id, journal.title, journal.body, json_string_list_text(journal.source_entry_ids),
           json_string_list_text(journal.tags), journal.markdown_path, added.id, journal.needs_recompile,
           to_millis(to_millis(journal.created_at) ? journal.created_at : clock_.now())});
      if (journal.needs_recompile) {
        const TimePoint now = clock_.now();
        c.exec(
            "INSERT INTO jobs(id, user_id, kind, payload, dedupe_key, created_at, run_after) "
            "VALUES ($1, $2, 'recompile_journal', $3, $4, $5, $5) ON CONFLICT DO NOTHING",
            {new_uuid_v7(now), journal.user_id, nlohmann::json{{"journal_id", journal.id}}.dump(),
             "recompile_journal:" + journal.id, to_millis(now)});
      }
      inserted = true;
    });
    return inserted;
  }

  std::optional<Journal> get_journal(const std::string& user_id, const std::string& id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) -> std::optional<Journal> {
      auto r = c.exec(std::string("SELECT ") + kJournalColumns + " FROM journals WHERE id = $1 AND user_id = $2",
                      {id, user_id});
      if (!r.rows()) return std::nullopt;
      return read_journal(r, 0);
    });
  }

  std::vector<Journal> list_journals(const std::string& user_id, int limit) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      auto r = c.exec(std::string("SELECT ") + kJournalColumns +
                          " FROM journals WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                      {user_id, static_cast<int64_t>(limit)});
      std::vector<Journal> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_journal(r, i));
      return out;
    });
  }

  void update_journal(const Journal& journal) override {
    transaction(pg::Scope::user(journal.user_id), [&](Connection& c) {
      auto r = c.exec(
          "UPDATE journals SET title=$1, body=$2, tags=$3, markdown_path=$4, needs_recompile=$5 WHERE id=$6 AND user_id=$7",
          {journal.title, journal.body, json_string_list_text(journal.tags), journal.markdown_path, journal.needs_recompile,
           journal.id, journal.user_id});
      if (r.affected() == 0) throw not_found("no journal with id " + journal.id);
      const std::string content = journal.title + "\n\n" + journal.body;
      c.exec("UPDATE memories SET content=$1, tags=$2, updated_at=$3, fts=" +
                 fts_expr("$4", "summary", "$5", "entities::text") + " WHERE id=$6 AND user_id=$7",
             {content, json_string_list_text(journal.tags), to_millis(clock_.now()), pg::cjk_index_text(content),
              pg::cjk_index_text(joined(journal.tags)), journal.memory_id, journal.user_id});
    });
  }

  StoreStats stats(const std::string& user_id) override {
    return with(pg::Scope::user(user_id), [&](Connection& c) {
      StoreStats s;
      auto by_type = c.exec("SELECT type, count(*) FROM memories WHERE user_id = $1 GROUP BY type", {user_id});
      for (int i = 0; i < by_type.rows(); ++i) {
        s.by_type[by_type.text(i, 0)] = by_type.integer(i, 1);
        s.memories += by_type.integer(i, 1);
      }
      auto by_tier = c.exec("SELECT tier, count(*) FROM memories WHERE user_id = $1 GROUP BY tier", {user_id});
      for (int i = 0; i < by_tier.rows(); ++i) s.by_tier[by_tier.text(i, 0)] = by_tier.integer(i, 1);
      s.journals = c.exec("SELECT count(*) FROM journals WHERE user_id = $1", {user_id}).integer(0, 0);
      s.embeddings = c.exec(
                          "SELECT count(*) FROM memory_embeddings e JOIN memories m ON m.id = e.memory_id "
                          "WHERE m.user_id = $1",
                          {user_id})
                         .integer(0, 0);
      s.database_bytes = c.exec("SELECT pg_database_size(current_database())").integer(0, 0);
      return s;
    });
  }

  void backup_to(const std::filesystem::path& destination) override {
    throw invalid_input("a PostgreSQL store is backed up with pg_dump (or `kioku migrate --to` a SQLite folder), not to " +
                        destination.string());
  }

 private:
  static constexpr const char* kJournalColumns =
      "id, user_id, title, body, source_entry_ids, tags, markdown_path, memory_id, needs_recompile, created_at";

  // A text[] literal in PostgreSQL's array syntax, every element quoted.
  static std::string text_array(const std::vector<std::string>& values) {
    std::string s = "{";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) s += ',';
      s += '"';
      for (char ch : values[i]) {
        if (ch == '"' || ch == '\\') s += '\\';
        s += ch;
      }
      s += '"';
    }
    return s + "}";
  }

  // Fills what the store assigns and returns the insert's parameters.
  Params prepare_insert(Memory& m) {
    if (m.content.empty() && m.media_path.empty()) throw invalid_input("a memory needs content");
    if (m.user_id.empty()) throw invalid_input("a memory needs a user_id");
    const TimePoint now = clock_.now();
    if (m.content_hash.empty()) m.content_hash = compute_content_hash(m);
    if (m.id.empty()) m.id = new_uuid_v7(now);
    if (to_millis(m.created_at) == 0) m.created_at = now;
    m.updated_at = now;
    if (to_millis(m.event_time) == 0) m.event_time = m.created_at;
    Params p = fields(m);
    p.push_back(m.id);
    p.push_back(m.user_id);
    p.push_back(to_millis(m.event_time));
    p.push_back(to_millis(m.created_at));
    p.push_back(to_millis(m.updated_at));
    p.push_back(m.last_accessed ? std::optional<int64_t>(to_millis(*m.last_accessed)) : std::nullopt);
    p.push_back(m.access_count);
    return p;
  }

  // One statement inserts or, on a (user, hash) clash, counts a
  // corroboration; RETURNING gives the id that was kept.
  static const std::string& insert_sql() {
    static const std::string sql =
        "INSERT INTO memories(type, content, summary, raw_content, media_path, content_hash, tier, truth_category, "
        "memory_type, confidence, source_reliability, corroboration_count, contradiction_count, source, importance, "
        "approved, tags, domains, entities, provenance, metadata, recency, fts, id, user_id, event_time, created_at, "
        "updated_at, last_accessed, access_count) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,"
        "$17,$18,$19,$20,$21,$22," + fts_expr("$23", "$24", "$25", "$26") +
        ",$27,$28,$29,$30,$31,$32,$33) "
        "ON CONFLICT(user_id, content_hash) DO UPDATE SET corroboration_count = memories.corroboration_count + 1, "
        "confidence = least(1.0, memories.confidence + 0.05), updated_at = excluded.updated_at RETURNING id";
    return sql;
  }

  AddOutcome add_one(Connection& c, Memory& m) {
    auto r = c.exec(insert_sql(), prepare_insert(m));
    const std::string kept_id = r.rows() ? r.text(0, 0) : "";
    if (kept_id != m.id) return {kept_id, false};
    for (const auto& rel : m.relations) insert_relation(c, m.user_id, m.id, rel);
    return {m.id, true};
  }

  // The 22 descriptive columns, then the 4 full-text inputs ($23..$26).
  static Params fields(const Memory& m) {
    return {m.type,
            m.content,
            m.summary,
            m.raw_content,
            m.media_path,
            m.content_hash,
            std::string(to_string(m.tier)),
            std::string(to_string(m.truth_category)),
            std::string(to_string(m.memory_kind)),
            m.confidence.overall,
            m.confidence.source_reliability,
            m.confidence.corroboration_count,
            m.confidence.contradiction_count,
            std::string(to_string(m.source)),
            m.importance,
            m.approved,
            json_string_list_text(m.tags),
            json_string_list_text(m.domains),
            json_string_list_text(m.entities),
            to_json(m.provenance).dump(),
            m.metadata.is_null() ? std::string("{}") : m.metadata.dump(),
            m.confidence.recency,
            pg::cjk_index_text(m.content),
            pg::cjk_index_text(m.summary),
            pg::cjk_index_text(joined(m.tags)),
            pg::cjk_index_text(joined(m.entities))};
  }

  void insert_relation(Connection& c, const std::string& user_id, const std::string& from_id, const Relation& r) {
    const int64_t found =
        c.exec("SELECT count(*) FROM memories WHERE user_id = $1 AND id IN ($2, $3)", {user_id, from_id, r.target_id})
            .integer(0, 0);
    if (found < 2 && from_id != r.target_id) throw not_found("relation between unknown memories");
    c.exec(
        "INSERT INTO memory_relations(source_id, target_id, kind, created_at) VALUES ($1,$2,$3,$4) "
        "ON CONFLICT DO NOTHING",
        {from_id, r.target_id, std::string(to_string(r.kind)), to_millis(clock_.now())});
  }

  void load_relations(Connection& c, Memory& m) {
    auto r = c.exec("SELECT target_id, kind FROM memory_relations WHERE source_id = $1 ORDER BY created_at, target_id",
                    {m.id});
    m.relations.clear();
    for (int i = 0; i < r.rows(); ++i) m.relations.push_back({r.text(i, 0), parse_relation_kind(r.text(i, 1))});
  }

  void load_relations_many(Connection& c, std::map<std::string, Memory>& by_id) {
    if (by_id.empty()) return;
    std::vector<std::string> ids;
    for (auto& [id, m] : by_id) {
      ids.push_back(id);
      m.relations.clear();
    }
    auto r = c.exec(
        "SELECT source_id, target_id, kind FROM memory_relations WHERE source_id = ANY($1::text[]) "
        "ORDER BY created_at, target_id",
        {text_array(ids)});
    for (int i = 0; i < r.rows(); ++i)
      by_id[r.text(i, 0)].relations.push_back({r.text(i, 1), parse_relation_kind(r.text(i, 2))});
  }

  static Journal read_journal(const Result& r, int i) {
    Journal j;
    j.id = r.text(i, 0);
    j.user_id = r.text(i, 1);
    j.title = r.text(i, 2);
    j.body = r.text(i, 3);
    j.source_entry_ids = json_string_list(r.text(i, 4));
    j.tags = json_string_list(r.text(i, 5));
    j.markdown_path = r.text(i, 6);
    j.memory_id = r.text(i, 7);
    j.needs_recompile = r.boolean(i, 8);
    j.created_at = from_millis(r.integer(i, 9));
    return j;
  }

  const TimeSource& clock_;
  PgCoreMemoryStore core_;
};

}  // namespace

bool is_postgres_store_url(const std::string& url) { return pg::is_postgres_url(url); }
std::string mask_store_url(const std::string& url) { return pg::mask_url(url); }

std::unique_ptr<MemoryStore> open_postgres_memory_store(const std::string& url, const TimeSource& clock) {
  return std::make_unique<PgMemoryStore>(url, clock);
}

}  // namespace kioku
