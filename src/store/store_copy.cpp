// copy_store(): rows travel as canonical text. Each table is described once
// (its columns and their kinds); the two backends read and write those kinds
// in their own way (SQLite: INTEGER 0/1, JSON TEXT, BLOB; PostgreSQL:
// boolean, jsonb, bytea), and the checksum is taken over the canonical form
// on both sides, so equal data gives equal checksums whatever the backend.
#include "store/store_copy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "store/postgres/connection.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/schema.h"
#include "store/postgres/store_base.h"
#include "store/sqlite/database.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {
namespace {

// Column kinds: text, integer, real, boolean, json, blob, and a content hash
// (text whose canonical form is what the memory store reads back: SQLite
// keeps a hex SHA-256 as its bytes, see bind_content_hash).
enum class Kind { kText, kInt, kReal, kBool, kJson, kBlob, kContentHash };

struct Column {
  std::string name;
  Kind kind;
};

struct Table {
  std::string name;
  std::string file;  // "memory" or "journal": the SQLite file that holds it
  std::vector<Column> columns;
  std::string key;  // conflict target (the primary key)
  // Restricts to one user ($U is replaced by the bound user); "" = the table has no user (skipped with --user).
  std::string user_filter;
  std::string serial;  // an integer key PostgreSQL generates (its sequence is moved past the copied rows)
  // The table's name on PostgreSQL when it differs: SQLite keeps each vector
  // once in memory_vectors (with a text key that makes it the embedding
  // cache), PostgreSQL in memory_embeddings (+ dimension, created_at, filled
  // in on write) beside a separate embedding_cache, which is not copied: a
  // missing cache entry only costs one embedding.
  std::string pg_name;
  // SQLite keeps vectors by memory rowid and model key (migration v14): what
  // the copy reads there (a FROM clause giving the columns above) and how
  // it writes a row of them ("" = the table itself, column for column).
  std::string sqlite_from;
  std::string sqlite_insert;
};

const std::string& pg_table(const Table& t) { return t.pg_name.empty() ? t.name : t.pg_name; }

std::vector<Column> cols(std::initializer_list<std::pair<const char*, Kind>> list) {
  std::vector<Column> out;
  for (const auto& [n, k] : list) out.push_back({n, k});
  return out;
}

const std::vector<Table>& tables() {
  using K = Kind;
  static const std::vector<Table> t = {
      {"memories", "memory",
       cols({{"id", K::kText}, {"user_id", K::kText}, {"type", K::kText}, {"content", K::kText},
             {"summary", K::kText}, {"raw_content", K::kText}, {"media_path", K::kText}, {"content_hash", K::kContentHash},
             {"tier", K::kText}, {"truth_category", K::kText}, {"memory_type", K::kText}, {"confidence", K::kReal},
             {"source_reliability", K::kReal}, {"corroboration_count", K::kInt}, {"contradiction_count", K::kInt},
             {"source", K::kText}, {"importance", K::kReal}, {"approved", K::kBool}, {"tags", K::kJson},
             {"domains", K::kJson}, {"entities", K::kJson}, {"provenance", K::kJson}, {"metadata", K::kJson},
             {"recency", K::kReal}, {"event_time", K::kInt}, {"created_at", K::kInt}, {"updated_at", K::kInt},
             {"last_accessed", K::kInt}, {"access_count", K::kInt}}),
       "id", "user_id = $U", ""},
      {"memory_relations", "memory",
       cols({{"source_id", K::kText}, {"target_id", K::kText}, {"kind", K::kText}, {"created_at", K::kInt}}),
       "source_id, target_id, kind", "source_id IN (SELECT id FROM memories WHERE user_id = $U)", ""},
      {"memory_vectors", "memory", cols({{"memory_id", K::kText}, {"model", K::kText}, {"vector", K::kBlob}}),
       "model, memory_id", "memory_id IN (SELECT id FROM memories WHERE user_id = $U)", "", "memory_embeddings",
       "(SELECT m.id AS memory_id, vm.model AS model, e.vector AS vector FROM memory_vectors e "
       "JOIN memories m ON m.rowid = e.memory_rowid JOIN vector_models vm ON vm.key = e.model_key) AS memory_vectors",
       "INSERT OR IGNORE INTO memory_vectors(memory_rowid, model_key, vector) SELECT m.rowid, vm.key, ?3 "
       "FROM memories m, vector_models vm WHERE m.id = ?1 AND vm.model = ?2"},
      {"journals", "memory",
       cols({{"id", K::kText}, {"user_id", K::kText}, {"title", K::kText}, {"body", K::kText},
             {"source_entry_ids", K::kJson}, {"tags", K::kJson}, {"markdown_path", K::kText},
             {"memory_id", K::kText}, {"needs_recompile", K::kBool}, {"created_at", K::kInt}}),
       "id", "user_id = $U", ""},
      {"jobs", "memory",
       cols({{"id", K::kText}, {"user_id", K::kText}, {"kind", K::kText}, {"payload", K::kJson},
             {"state", K::kText}, {"dedupe_key", K::kText}, {"attempts", K::kInt}, {"waits", K::kInt},
             {"max_attempts", K::kInt}, {"last_error", K::kText}, {"wait_reason", K::kText},
             {"created_at", K::kInt}, {"run_after", K::kInt}, {"lease_holder", K::kText},
             {"lease_until", K::kInt}, {"started_at", K::kInt}, {"finished_at", K::kInt}, {"result", K::kJson}}),
       "id", "user_id = $U", ""},
      {"job_schedules", "memory", cols({{"name", K::kText}, {"last_slot", K::kInt}, {"updated_at", K::kInt}}),
       "name", "", ""},
      {"job_runs", "memory",
       cols({{"id", K::kInt}, {"schedule", K::kText}, {"job_id", K::kText}, {"started_at", K::kInt},
             {"finished_at", K::kInt}, {"status", K::kText}, {"counts", K::kJson}, {"error", K::kText}}),
       "id", "", "id"},
      {"core_blocks", "memory",
       cols({{"user_id", K::kText}, {"label", K::kText}, {"value", K::kText}, {"description", K::kText},
             {"char_limit", K::kInt}, {"read_only", K::kBool}, {"version", K::kInt}, {"updated_at", K::kInt}}),
       "user_id, label", "user_id = $U", ""},
      {"core_block_versions", "memory",
       cols({{"user_id", K::kText}, {"label", K::kText}, {"version", K::kInt}, {"value", K::kText},
             {"description", K::kText}, {"char_limit", K::kInt}, {"read_only", K::kBool}, {"created_at", K::kInt},
             {"author", K::kText}, {"tool_call_id", K::kText}, {"tool_name", K::kText}, {"turn_id", K::kText},
             {"note", K::kText}}),
       "user_id, label, version", "user_id = $U", ""},
      {"graph_entities", "memory",
       cols({{"id", K::kText}, {"user_id", K::kText}, {"kind", K::kText}, {"name", K::kText}, {"summary", K::kText},
             {"confidence", K::kReal}, {"merged_into", K::kText}, {"created_at", K::kInt}, {"updated_at", K::kInt}}),
       "id", "user_id = $U", ""},
      {"graph_aliases", "memory",
       cols({{"entity_id", K::kText}, {"user_id", K::kText}, {"alias", K::kText}, {"norm", K::kText}}),
       "entity_id, norm", "user_id = $U", ""},
      {"graph_mentions", "memory",
       cols({{"entity_id", K::kText}, {"memory_id", K::kText}, {"surface", K::kText}, {"norm", K::kText},
             {"created_at", K::kInt}}),
       "entity_id, memory_id, surface", "memory_id IN (SELECT id FROM memories WHERE user_id = $U)", ""},
      {"graph_facts", "memory",
       cols({{"id", K::kText}, {"user_id", K::kText}, {"subject_id", K::kText}, {"predicate", K::kText},
             {"object_id", K::kText}, {"value", K::kText}, {"valid_from", K::kInt}, {"valid_to", K::kInt},
             {"recorded_at", K::kInt}, {"invalidated_at", K::kInt}, {"memory_id", K::kText},
             {"confidence", K::kReal}, {"extractor", K::kText}, {"superseded_by", K::kText},
             {"revision_of", K::kText}}),
       "id", "user_id = $U", ""},
      {"memory_lifecycle", "memory",
       cols({{"memory_id", K::kText}, {"validated_at", K::kInt}, {"identity_since", K::kInt},
             {"cold_since", K::kInt}, {"extracted_at", K::kInt}, {"dedup_checked_at", K::kInt},
             {"merged_into", K::kText}}),
       "memory_id", "memory_id IN (SELECT id FROM memories WHERE user_id = $U)", ""},
      {"memory_tier_changes", "memory",
       cols({{"seq", K::kInt}, {"memory_id", K::kText}, {"user_id", K::kText}, {"from_tier", K::kText},
             {"to_tier", K::kText}, {"rule", K::kText}, {"detail", K::kJson}, {"at", K::kInt}}),
       "seq", "user_id = $U", "seq"},
      {"memory_archive", "memory",
       cols({{"memory_id", K::kText}, {"user_id", K::kText}, {"reason", K::kText}, {"record", K::kText},
             {"archived_at", K::kInt}}),
       "memory_id", "user_id = $U", ""},
      // Users and token hashes (issue 14); with --user, that user and its tokens.
      {"users", "memory", cols({{"id", K::kText}, {"admin", K::kBool}, {"created_at", K::kInt}}), "id", "id = $U", ""},
      {"user_tokens", "memory",
       cols({{"token_sha256", K::kText}, {"user_id", K::kText}, {"label", K::kText}, {"created_at", K::kInt}}),
       "token_sha256", "user_id = $U", ""},
      // What the companion learned about each person (store/profile.h).
      {"profile_emotions", "memory",
       cols({{"message_id", K::kText}, {"user_id", K::kText}, {"emotion", K::kText}, {"intensity", K::kReal},
             {"valence", K::kReal}, {"detector", K::kText}, {"at", K::kInt}}),
       "message_id", "user_id = $U", ""},
      {"profile_strategies", "memory",
       cols({{"user_id", K::kText}, {"emotion", K::kText}, {"strategy", K::kText}, {"weight", K::kReal},
             {"uses", K::kInt}, {"successes", K::kInt}, {"updated_at", K::kInt}}),
       "user_id, emotion, strategy", "user_id = $U", ""},
      {"profile_strategy_history", "memory",
       cols({{"seq", K::kInt}, {"user_id", K::kText}, {"emotion", K::kText}, {"strategy", K::kText},
             {"weight_before", K::kReal}, {"weight_after", K::kReal}, {"outcome", K::kReal}, {"reason", K::kText},
             {"message_id", K::kText}, {"at", K::kInt}}),
       "seq", "user_id = $U", "seq"},
      {"profile_importance_patterns", "memory",
       cols({{"user_id", K::kText}, {"kind", K::kText}, {"value", K::kText}, {"searched", K::kInt}, {"used", K::kInt},
             {"rated", K::kInt}, {"rating_sum", K::kReal}, {"updated_at", K::kInt}}),
       "user_id, kind, value", "user_id = $U", ""},
      {"profile_importance_predictions", "memory",
       cols({{"memory_id", K::kText}, {"user_id", K::kText}, {"base", K::kReal}, {"predicted", K::kReal},
             {"factors", K::kText}, {"at", K::kInt}}),
       "memory_id", "user_id = $U", ""},
      {"profile_conversations", "memory",
       cols({{"user_id", K::kText}, {"last_message_id", K::kText}, {"last_reply_id", K::kText}, {"channel", K::kText},
             {"turns", K::kInt}, {"updated_at", K::kInt}}),
       "user_id", "user_id = $U", ""},
      {"journal_sessions", "journal",
       cols({{"id", K::kText}, {"user_id", K::kText}, {"started_at", K::kInt}, {"last_activity", K::kInt}}), "id",
       "user_id = $U", ""},
      {"journal_entries", "journal",
       cols({{"id", K::kText}, {"session_id", K::kText}, {"timestamp", K::kInt}, {"type", K::kText},
             {"content", K::kText}, {"media_path", K::kText}, {"image_description", K::kText},
             {"created_at", K::kInt}}),
       "id", "session_id IN (SELECT id FROM journal_sessions WHERE user_id = $U)", ""},
  };
  return t;
}

using Row = std::vector<std::optional<std::string>>;

// The canonical text of a value of kind k, read from either backend.
std::string canonical(Kind k, const std::string& v) {
  switch (k) {
    case Kind::kReal: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", std::strtod(v.c_str(), nullptr));
      return buf;
    }
    case Kind::kBool: return v == "t" || v == "1" || v == "true" ? "1" : "0";
    case Kind::kJson: {
      auto j = nlohmann::json::parse(v, nullptr, false);
      return j.is_discarded() ? v : j.dump();
    }
    default: return v;
  }
}

std::string where_of(const Table& t, const std::string& user, const std::string& placeholder) {
  if (user.empty()) return "";
  std::string w = t.user_filter;
  const auto at = w.find("$U");
  if (at != std::string::npos) w.replace(at, 2, placeholder);
  return " WHERE " + w;
}

std::string column_list(const Table& t) {
  std::string s;
  for (const auto& c : t.columns) s += (s.empty() ? "" : ", ") + c.name;
  return s;
}

// --- The two sides ---

class Side {
 public:
  virtual ~Side() = default;
  virtual std::vector<Row> read(const Table& t, const std::string& user) = 0;
  // Inserts the rows whose key is not there yet; returns how many were new.
  virtual int64_t write(const Table& t, const std::vector<Row>& rows) = 0;
  virtual void finish() {}
};

class SqliteSide final : public Side {
 public:
  explicit SqliteSide(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    // Opening the stores creates and migrates both files.
    open_sqlite_memory_store(dir / "memory.db");
    open_sqlite_journal_store(dir / "journal.db");
    memory_ = std::make_unique<sqlite::Database>(dir / "memory.db");
    journal_ = std::make_unique<sqlite::Database>(dir / "journal.db");
    memory_->exec("PRAGMA foreign_keys = OFF");
  }

  std::vector<Row> read(const Table& t, const std::string& user) override {
    auto& db = of(t);
    auto st = db.prepare("SELECT " + column_list(t) + " FROM " + (t.sqlite_from.empty() ? t.name : t.sqlite_from) +
                         where_of(t, user, "?1"));
    if (!user.empty()) st.bind(1, user);
    std::vector<Row> out;
    while (st.step()) {
      Row r;
      for (size_t i = 0; i < t.columns.size(); ++i) {
        const int c = static_cast<int>(i);
        if (st.is_null(c)) {
          r.emplace_back(std::nullopt);
        } else if (t.columns[i].kind == Kind::kBlob) {
          r.emplace_back(lower_hex(st.blob(c), static_cast<size_t>(st.blob_bytes(c))));
        } else if (t.columns[i].kind == Kind::kContentHash) {
          r.emplace_back(read_content_hash(st, c));
        } else {
          r.emplace_back(canonical(t.columns[i].kind, st.text(c)));
        }
      }
      out.push_back(std::move(r));
    }
    st.reset();
    return out;
  }

  int64_t write(const Table& t, const std::vector<Row>& rows) override {
    auto& db = of(t);
    std::string marks;
    for (size_t i = 0; i < t.columns.size(); ++i) marks += i ? ",?" : "?";
    // The lifecycle row index_new_memories made while copying memories gives way to the copied one.
    const char* verb = t.name == "memory_lifecycle" ? "INSERT OR REPLACE" : "INSERT OR IGNORE";
    int64_t added = 0;
    db.transaction([&] {
      int64_t last_rowid = 0;
      if (t.name == "memories") {
        auto last = db.prepare("SELECT coalesce(max(rowid), 0) FROM memories");
        last.step();
        last_rowid = last.integer(0);
        last.reset();
      }
      auto st = db.prepare(t.sqlite_insert.empty()
                               ? std::string(verb) + " INTO " + t.name + "(" + column_list(t) + ") VALUES (" + marks + ")"
                               : t.sqlite_insert);
      if (t.name == "memory_vectors") {
        auto model = db.prepare("INSERT OR IGNORE INTO vector_models(model) VALUES (?)");
        for (const auto& r : rows)
          if (r[1]) {
            model.bind(1, *r[1]);
            model.run();
            model.reset();
          }
      }
      for (const auto& r : rows) {
        for (size_t i = 0; i < r.size(); ++i) {
          const int idx = static_cast<int>(i) + 1;
          if (!r[i]) {
            st.bind_null(idx);
            continue;
          }
          switch (t.columns[i].kind) {
            case Kind::kInt:
            case Kind::kBool: st.bind(idx, static_cast<int64_t>(std::strtoll(r[i]->c_str(), nullptr, 10))); break;
            case Kind::kReal: st.bind(idx, std::strtod(r[i]->c_str(), nullptr)); break;
            case Kind::kBlob: {
              const std::string bytes = bytes_of_hex(*r[i]);
              st.bind_blob(idx, bytes.data(), bytes.size());
              break;
            }
            case Kind::kContentHash: bind_content_hash(st, idx, *r[i]); break;
            default: st.bind(idx, *r[i]);
          }
        }
        st.run();
        added += db.changes();
        st.reset();
      }
      if (t.name == "memories") index_new_memories(db, last_rowid);
    });
    return added;
  }

 private:
  // What the memory store's add path does for each new row (memory.db has
  // no insert triggers since migration v11): full text, the embedding queue
  // of each registered model, the lifecycle of a memory tagged "identity".
  static void index_new_memories(sqlite::Database& db, int64_t after_rowid) {
    db.prepare(
          "INSERT INTO memory_lifecycle(memory_id, identity_since) SELECT id, created_at FROM memories "
          "WHERE rowid > ? AND EXISTS (SELECT 1 FROM json_each(tags) WHERE value = 'identity') "
          "ON CONFLICT(memory_id) DO UPDATE SET identity_since = coalesce(identity_since, excluded.identity_since)")
        .bind(1, after_rowid)
        .run();
    db.prepare(
          "INSERT OR IGNORE INTO embedding_pending(model, memory_rowid) "
          "SELECT em.model, m.rowid FROM embedding_models em, memories m WHERE m.rowid > ?")
        .bind(1, after_rowid)
        .run();
    db.prepare(
          "INSERT INTO memories_fts(rowid, content, summary, tags, entities) "
          "SELECT rowid, content, summary, tags, entities FROM memories WHERE rowid > ?")
        .bind(1, after_rowid)
        .run();
  }

  sqlite::Database& of(const Table& t) { return t.file == "journal" ? *journal_ : *memory_; }
  std::unique_ptr<sqlite::Database> memory_, journal_;
};

class PostgresSide final : public Side {
 public:
  explicit PostgresSide(const std::string& url) {
    open_postgres_memory_store(url);  // creates and migrates the database
    conn_ = std::make_unique<pg::Connection>(pg::parse_store_url(url).libpq_url);
    conn_->set_scope(pg::Scope::all_users());  // a copy spans users (row-level security, schema v4)
  }

  std::vector<Row> read(const Table& t, const std::string& user) override {
    auto r = user.empty() ? conn_->exec("SELECT " + column_list(t) + " FROM " + pg_table(t))
                          : conn_->exec("SELECT " + column_list(t) + " FROM " + pg_table(t) + where_of(t, user, "$1"), {user});
    std::vector<Row> out;
    out.reserve(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
      Row row;
      for (size_t c = 0; c < t.columns.size(); ++c) {
        const int col = static_cast<int>(c);
        if (r.is_null(i, col)) row.emplace_back(std::nullopt);
        else if (t.columns[c].kind == Kind::kBlob) row.emplace_back(r.text(i, col).substr(2));  // "\x..."
        else row.emplace_back(canonical(t.columns[c].kind, r.text(i, col)));
      }
      out.push_back(std::move(row));
    }
    return out;
  }

  int64_t write(const Table& t, const std::vector<Row>& rows) override {
    std::string values;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const auto& c = t.columns[i];
      const std::string p = "$" + std::to_string(i + 1);
      std::string v = p;
      switch (c.kind) {
        case Kind::kInt: v = p + "::bigint"; break;
        case Kind::kReal: v = p + "::double precision"; break;
        case Kind::kBool: v = "(" + p + "::int <> 0)"; break;
        case Kind::kJson: v = p + "::jsonb"; break;
        case Kind::kBlob: v = "decode(" + p + ", 'hex')"; break;
        default: break;
      }
      values += (i ? ", " : "") + v;
    }
    std::string columns = column_list(t);
    if (pg_table(t) == "memory_embeddings") {
      columns += ", dimension, created_at";
      values += ", length(decode($3, 'hex')) / 4, 0";
    }
    if (t.name == "memories") {
      // The full-text vector, computed as PgMemoryStore does.
      const size_t n = t.columns.size();
      columns += ", fts";
      values += ", setweight(to_tsvector('kioku', $" + std::to_string(n + 1) + "), 'A') || setweight(to_tsvector('kioku', $" +
                std::to_string(n + 2) + "), 'B') || setweight(to_tsvector('kioku', $" + std::to_string(n + 3) +
                "), 'C') || setweight(to_tsvector('kioku', $" + std::to_string(n + 4) + "), 'D')";
    }
    const std::string conflict = t.name == "memory_lifecycle"
                                     ? " ON CONFLICT (memory_id) DO UPDATE SET validated_at = excluded.validated_at, "
                                       "identity_since = excluded.identity_since, cold_since = excluded.cold_since, "
                                       "extracted_at = excluded.extracted_at, dedup_checked_at = excluded.dedup_checked_at, "
                                       "merged_into = excluded.merged_into"
                                     : " ON CONFLICT (" + t.key + ") DO NOTHING";
    const std::string sql = "INSERT INTO " + pg_table(t) + "(" + columns + ") VALUES (" + values + ")" + conflict;
    int64_t added = 0;
    conn_->transaction([&] {
      for (const auto& r : rows) {
        pg::Params p;
        for (const auto& v : r) p.push_back(v ? pg::Param(*v) : pg::Param(std::nullopt));
        if (t.name == "memories") {
          auto joined = [](const std::optional<std::string>& json_list) {
            std::string s;
            auto j = nlohmann::json::parse(json_list.value_or("[]"), nullptr, false);
            if (j.is_array())
              for (const auto& e : j)
                if (e.is_string()) s += e.get<std::string>() + " ";
            return s;
          };
          p.emplace_back(pg::cjk_index_text(r[3].value_or("")));
          p.emplace_back(pg::cjk_index_text(r[4].value_or("")));
          p.emplace_back(pg::cjk_index_text(joined(r[18])));
          p.emplace_back(pg::cjk_index_text(joined(r[20])));
        }
        added += conn_->exec(sql, p).affected();
      }
      if (!t.serial.empty())
        conn_->exec("SELECT setval(pg_get_serial_sequence('" + t.name + "', '" + t.serial + "'), " +
                    "greatest((SELECT max(" + t.serial + ") FROM " + t.name + "), 1))");
    });
    return added;
  }

 private:
  std::unique_ptr<pg::Connection> conn_;
};

std::unique_ptr<Side> open_side(const StoreLocation& l) {
  if (!l.postgres_url.empty()) return std::make_unique<PostgresSide>(l.postgres_url);
  return std::make_unique<SqliteSide>(l.sqlite_dir);
}

std::string checksum(const std::vector<Row>& rows) {
  std::vector<std::string> lines;
  lines.reserve(rows.size());
  for (const auto& r : rows) {
    std::string line;
    for (const auto& v : r) {
      line += v ? "v" + std::to_string(v->size()) + ":" + *v : std::string("n");
      line += '\x1f';
    }
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (const auto& l : lines) all += l + '\x1e';
  return sha256_hex(all);
}

}  // namespace

StoreLocation StoreLocation::parse(const std::string& folder_or_url) {
  StoreLocation l;
  if (is_postgres_store_url(folder_or_url)) l.postgres_url = folder_or_url;
  else if (folder_or_url.empty()) throw invalid_input("a store location needs a folder or a postgresql:// URL");
  else l.sqlite_dir = folder_or_url;
  return l;
}

std::string StoreLocation::describe() const {
  return postgres_url.empty() ? "SQLite in " + sqlite_dir.string() : "PostgreSQL at " + mask_store_url(postgres_url);
}

CopyReport copy_store(const StoreLocation& from, const StoreLocation& to, const std::string& user) {
  if (from.postgres_url == to.postgres_url && from.sqlite_dir == to.sqlite_dir)
    throw invalid_input("the source and the destination are the same store");
  auto source = open_side(from);
  auto dest = open_side(to);
  CopyReport report;
  std::vector<std::string> differ;
  for (const auto& t : tables()) {
    if (!user.empty() && t.user_filter.empty()) continue;
    const auto rows = source->read(t, user);
    TableCopy& c = report.tables[t.name];
    c.source_rows = static_cast<int64_t>(rows.size());
    c.checksum = checksum(rows);
    if (!rows.empty()) c.copied = dest->write(t, rows);
    const auto landed = dest->read(t, user);
    if (static_cast<int64_t>(landed.size()) != c.source_rows || checksum(landed) != c.checksum)
      differ.push_back(t.name + " (" + std::to_string(c.source_rows) + " rows in the source, " +
                       std::to_string(landed.size()) + " in the destination)");
  }
  if (!differ.empty()) {
    std::string list;
    for (const auto& d : differ) list += (list.empty() ? "" : ", ") + d;
    throw conflict("copied, but the destination differs from the source in: " + list +
                   ". It held other rows for the same keys before the copy");
  }
  report.verified = true;
  return report;
}

}  // namespace kioku
