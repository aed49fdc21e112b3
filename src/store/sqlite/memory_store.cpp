// SqliteMemoryStore: memory.db.
//
// Schema notes: times are INTEGER milliseconds since the epoch (UTC) so they
// sort and compare as numbers; list-valued fields are JSON arrays in TEXT
// columns (filtered with json_each); full text lives in an external-content
// FTS5 table, filled by the add path and kept in sync by update and delete
// triggers (migration v11 says why inserts have none), tokenized with porter stemming over
// unicode61 with diacritics removed, CJK runs cut into bigrams (cjk_tokenizer.h).
#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/id.h"
#include "store/sqlite/core_memory_store.h"
#include "store/sqlite/database.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {
namespace {

const std::vector<std::string> kMemoryMigrations = {
    // v1: the universal memory record, relations, vectors, journals.
    R"sql(
CREATE TABLE memories (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  raw_content TEXT NOT NULL DEFAULT '',
  media_path TEXT NOT NULL DEFAULT '',
  content_hash TEXT NOT NULL,
  tier TEXT NOT NULL,
  truth_category TEXT NOT NULL,
  memory_type TEXT NOT NULL,
  confidence REAL NOT NULL,
  source_reliability REAL NOT NULL,
  corroboration_count INTEGER NOT NULL DEFAULT 0,
  contradiction_count INTEGER NOT NULL DEFAULT 0,
  source TEXT NOT NULL,
  importance REAL NOT NULL,
  approved INTEGER NOT NULL DEFAULT 1,
  tags TEXT NOT NULL DEFAULT '[]',
  domains TEXT NOT NULL DEFAULT '[]',
  entities TEXT NOT NULL DEFAULT '[]',
  provenance TEXT NOT NULL DEFAULT '{}',
  metadata TEXT NOT NULL DEFAULT '{}',
  event_time INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_accessed INTEGER,
  access_count INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX idx_memories_user_hash ON memories(user_id, content_hash);
CREATE INDEX idx_memories_user_time ON memories(user_id, event_time DESC);
CREATE INDEX idx_memories_user_type_time ON memories(user_id, type, event_time DESC);

CREATE VIRTUAL TABLE memories_fts USING fts5(
  content, summary, tags, entities,
  content='memories', content_rowid='rowid',
  tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
  INSERT INTO memories_fts(rowid, content, summary, tags, entities)
  VALUES (new.rowid, new.content, new.summary, new.tags, new.entities);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
  INSERT INTO memories_fts(memories_fts, rowid, content, summary, tags, entities)
  VALUES ('delete', old.rowid, old.content, old.summary, old.tags, old.entities);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, summary, tags, entities ON memories BEGIN
  INSERT INTO memories_fts(memories_fts, rowid, content, summary, tags, entities)
  VALUES ('delete', old.rowid, old.content, old.summary, old.tags, old.entities);
  INSERT INTO memories_fts(rowid, content, summary, tags, entities)
  VALUES (new.rowid, new.content, new.summary, new.tags, new.entities);
END;

CREATE TABLE memory_relations (
  source_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  target_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (source_id, target_id, kind)
);
CREATE INDEX idx_relations_target ON memory_relations(target_id);

CREATE TABLE memory_embeddings (
  memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  dimension INTEGER NOT NULL,
  vector BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (model, memory_id)
);
CREATE INDEX idx_embeddings_memory ON memory_embeddings(memory_id);

CREATE TABLE journals (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  source_entry_ids TEXT NOT NULL DEFAULT '[]',
  tags TEXT NOT NULL DEFAULT '[]',
  markdown_path TEXT NOT NULL DEFAULT '',
  memory_id TEXT NOT NULL,
  needs_recompile INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE INDEX idx_journals_user_created ON journals(user_id, created_at DESC);
)sql",
    // v2: embedding cache by text hash.
    R"sql(
CREATE TABLE embedding_cache (
  model TEXT NOT NULL,
  text_hash TEXT NOT NULL,
  vector BLOB NOT NULL,
  PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;
)sql",
    // v3: the AI work queue.
    R"sql(
CREATE TABLE ai_tasks (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT '{}',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL
);
CREATE INDEX idx_ai_tasks_due ON ai_tasks(next_attempt);
)sql",
    // v4: indexes for the companion's profile queries (by tier or memory
    // type, most important first).
    R"sql(
CREATE INDEX idx_memories_user_tier_importance ON memories(user_id, tier, importance DESC);
CREATE INDEX idx_memories_user_kind_importance ON memories(user_id, memory_type, importance DESC);
)sql",
    // v5: the job system (src/jobs) replaces the AI queue; waiting tasks
    // become queued jobs, nothing is dropped.
    R"sql(
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL DEFAULT 'queued',
  dedupe_key TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  waits INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  wait_reason TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  run_after INTEGER NOT NULL,
  lease_holder TEXT NOT NULL DEFAULT '',
  lease_until INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  result TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX idx_jobs_dedupe ON jobs(dedupe_key) WHERE dedupe_key IS NOT NULL;
-- claim(): due jobs of one kind; list(): a user's jobs by state.
CREATE INDEX idx_jobs_claim ON jobs(kind, state, run_after);
CREATE INDEX idx_jobs_user_state ON jobs(user_id, state, created_at);
INSERT INTO jobs(id, user_id, kind, payload, attempts, last_error, created_at, run_after)
  SELECT id, user_id, kind, payload, attempts, last_error, created_at, next_attempt FROM ai_tasks;
DROP TABLE ai_tasks;
INSERT OR IGNORE INTO jobs(id, user_id, kind, payload, dedupe_key, created_at, run_after)
  SELECT 'recompile-' || id, user_id, 'recompile_journal', json_object('journal_id', id), 'recompile_journal:' || id,
         created_at, created_at FROM journals WHERE needs_recompile = 1;
CREATE TABLE job_schedules (
  name TEXT PRIMARY KEY,
  last_slot INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE job_runs (
  id INTEGER PRIMARY KEY,
  schedule TEXT NOT NULL,
  job_id TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  counts TEXT NOT NULL DEFAULT '{}',
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX idx_job_runs_schedule ON job_runs(schedule, started_at DESC);
)sql",
    // v6: core memory blocks (seed 003) and every version of each.
    R"sql(
CREATE TABLE core_blocks (
  user_id TEXT NOT NULL,
  label TEXT NOT NULL,
  value TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  char_limit INTEGER NOT NULL,
  read_only INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, label)
) WITHOUT ROWID;
CREATE TABLE core_block_versions (
  user_id TEXT NOT NULL,
  label TEXT NOT NULL,
  version INTEGER NOT NULL,
  value TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  char_limit INTEGER NOT NULL,
  read_only INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  author TEXT NOT NULL,
  tool_call_id TEXT NOT NULL DEFAULT '',
  tool_name TEXT NOT NULL DEFAULT '',
  turn_id TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (user_id, label, version)
) WITHOUT ROWID;
)sql",
    // v7: full text for Chinese, Japanese and Korean: the same FTS table with
    // CJK runs cut into bigrams (cjk_tokenizer.h), rebuilt from memories.
    R"sql(
DROP TRIGGER memories_fts_insert;
DROP TRIGGER memories_fts_delete;
DROP TRIGGER memories_fts_update;
DROP TABLE memories_fts;
CREATE VIRTUAL TABLE memories_fts USING fts5(
  content, summary, tags, entities,
  content='memories', content_rowid='rowid',
  tokenize='porter kioku_cjk unicode61 remove_diacritics 2'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
  INSERT INTO memories_fts(rowid, content, summary, tags, entities)
  VALUES (new.rowid, new.content, new.summary, new.tags, new.entities);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
  INSERT INTO memories_fts(memories_fts, rowid, content, summary, tags, entities)
  VALUES ('delete', old.rowid, old.content, old.summary, old.tags, old.entities);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, summary, tags, entities ON memories BEGIN
  INSERT INTO memories_fts(memories_fts, rowid, content, summary, tags, entities)
  VALUES ('delete', old.rowid, old.content, old.summary, old.tags, old.entities);
  INSERT INTO memories_fts(rowid, content, summary, tags, entities)
  VALUES (new.rowid, new.content, new.summary, new.tags, new.entities);
END;
INSERT INTO memories_fts(memories_fts) VALUES ('rebuild');
)sql",
    // v8 (issue 12): knowledge graph and memory lifecycle. Confidence keeps
    // its recency part; entities, aliases, mentions and bitemporal facts;
    // per-memory lifecycle (validation, identity tagging, cold storage,
    // merges); tier history; the archive of expired inferences. Triggers
    // record what the user does through plain edits (tagging "identity",
    // approving a suggestion, changing a tier by hand) so the promotion
    // engine sees it whatever edge made the change.
    R"sql(
ALTER TABLE memories ADD COLUMN recency REAL NOT NULL DEFAULT 1.0;

CREATE TABLE graph_entities (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  confidence REAL NOT NULL DEFAULT 0.5,
  merged_into TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX idx_graph_entities_user ON graph_entities(user_id, created_at);
CREATE TABLE graph_aliases (
  entity_id TEXT NOT NULL REFERENCES graph_entities(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  alias TEXT NOT NULL,
  norm TEXT NOT NULL,
  PRIMARY KEY (entity_id, norm)
) WITHOUT ROWID;
CREATE INDEX idx_graph_aliases_norm ON graph_aliases(user_id, norm);
CREATE TABLE graph_mentions (
  entity_id TEXT NOT NULL REFERENCES graph_entities(id) ON DELETE CASCADE,
  memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  surface TEXT NOT NULL,
  norm TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (entity_id, memory_id, surface)
) WITHOUT ROWID;
CREATE INDEX idx_graph_mentions_memory ON graph_mentions(memory_id);
CREATE TABLE graph_facts (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  subject_id TEXT NOT NULL REFERENCES graph_entities(id),
  predicate TEXT NOT NULL,
  object_id TEXT REFERENCES graph_entities(id),
  value TEXT NOT NULL DEFAULT '',
  valid_from INTEGER,
  valid_to INTEGER,
  recorded_at INTEGER NOT NULL,
  invalidated_at INTEGER,
  memory_id TEXT REFERENCES memories(id) ON DELETE SET NULL,
  confidence REAL NOT NULL,
  extractor TEXT NOT NULL,
  superseded_by TEXT,
  revision_of TEXT
);
CREATE INDEX idx_graph_facts_subject ON graph_facts(subject_id, predicate);
CREATE INDEX idx_graph_facts_object ON graph_facts(object_id);
CREATE INDEX idx_graph_facts_user_recorded ON graph_facts(user_id, recorded_at);
CREATE UNIQUE INDEX idx_graph_facts_once ON graph_facts(subject_id, predicate, coalesce(object_id, ''), value,
  coalesce(memory_id, ''), coalesce(valid_from, -1), coalesce(revision_of, ''));

CREATE TABLE memory_lifecycle (
  memory_id TEXT PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
  validated_at INTEGER,
  identity_since INTEGER,
  cold_since INTEGER,
  extracted_at INTEGER,
  dedup_checked_at INTEGER,
  merged_into TEXT
) WITHOUT ROWID;
CREATE INDEX idx_memory_lifecycle_cold ON memory_lifecycle(memory_id) WHERE cold_since IS NOT NULL OR merged_into IS NOT NULL;
CREATE TABLE memory_tier_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  from_tier TEXT NOT NULL,
  to_tier TEXT NOT NULL,
  rule TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}',
  at INTEGER NOT NULL
);
CREATE INDEX idx_tier_changes_memory ON memory_tier_changes(memory_id, seq);
CREATE INDEX idx_tier_changes_user_at ON memory_tier_changes(user_id, at);
CREATE TABLE memory_archive (
  memory_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  record TEXT NOT NULL,
  archived_at INTEGER NOT NULL
);
CREATE INDEX idx_memory_archive_user ON memory_archive(user_id, archived_at DESC);
CREATE INDEX idx_memories_maintenance_key ON memories(user_id, json_extract(metadata, '$.maintenance_key'))
  WHERE json_extract(metadata, '$.maintenance_key') IS NOT NULL;

CREATE TRIGGER memories_identity_insert AFTER INSERT ON memories
WHEN EXISTS (SELECT 1 FROM json_each(new.tags) WHERE value = 'identity') BEGIN
  INSERT INTO memory_lifecycle(memory_id, identity_since) VALUES (new.id, new.created_at)
  ON CONFLICT(memory_id) DO UPDATE SET identity_since = coalesce(identity_since, excluded.identity_since);
END;
CREATE TRIGGER memories_identity_tagged AFTER UPDATE OF tags ON memories
WHEN EXISTS (SELECT 1 FROM json_each(new.tags) WHERE value = 'identity')
 AND NOT EXISTS (SELECT 1 FROM json_each(old.tags) WHERE value = 'identity') BEGIN
  INSERT INTO memory_lifecycle(memory_id, identity_since) VALUES (new.id, new.updated_at)
  ON CONFLICT(memory_id) DO UPDATE SET identity_since = excluded.identity_since;
END;
CREATE TRIGGER memories_identity_untagged AFTER UPDATE OF tags ON memories
WHEN NOT EXISTS (SELECT 1 FROM json_each(new.tags) WHERE value = 'identity') BEGIN
  UPDATE memory_lifecycle SET identity_since = NULL WHERE memory_id = new.id;
END;
CREATE TRIGGER memories_approved AFTER UPDATE OF approved ON memories
WHEN old.approved = 0 AND new.approved = 1 BEGIN
  INSERT INTO memory_lifecycle(memory_id, validated_at) VALUES (new.id, new.updated_at)
  ON CONFLICT(memory_id) DO UPDATE SET validated_at = coalesce(validated_at, excluded.validated_at);
END;
CREATE TRIGGER memories_tier_by_hand AFTER UPDATE OF tier ON memories
WHEN old.tier != new.tier AND NOT EXISTS (
  SELECT 1 FROM memory_tier_changes c WHERE c.seq = (SELECT max(seq) FROM memory_tier_changes WHERE memory_id = new.id)
  AND c.from_tier = old.tier AND c.to_tier = new.tier) BEGIN
  INSERT INTO memory_tier_changes(memory_id, user_id, from_tier, to_tier, rule, detail, at)
  VALUES (new.id, new.user_id, old.tier, new.tier, 'manual', '{}', new.updated_at);
END;
)sql",
    // users (issue 14): the users of this data directory and the SHA-256 of
    // their API tokens (never the tokens). Existing rows keep their user_id:
    // the default user is added at startup, other ids when `kioku users add`
    // names them.
    R"sql(
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  admin INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE user_tokens (
  token_sha256 TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  label TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX idx_user_tokens_user ON user_tokens(user_id);
)sql",
    // What the companion learns about each person (seed 004, src/store/profile.h):
    // emotions per message, support strategies with their weight history,
    // memory importance patterns and predictions, conversation state.
    R"sql(
CREATE TABLE profile_emotions (
  message_id TEXT PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  emotion TEXT NOT NULL,
  intensity REAL NOT NULL,
  valence REAL NOT NULL,
  detector TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX idx_profile_emotions_user_at ON profile_emotions(user_id, at DESC);
CREATE TABLE profile_strategies (
  user_id TEXT NOT NULL,
  emotion TEXT NOT NULL,
  strategy TEXT NOT NULL,
  weight REAL NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0,
  successes INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, emotion, strategy)
);
CREATE TABLE profile_strategy_history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  emotion TEXT NOT NULL,
  strategy TEXT NOT NULL,
  weight_before REAL NOT NULL,
  weight_after REAL NOT NULL,
  outcome REAL NOT NULL,
  reason TEXT NOT NULL,
  message_id TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL,
  FOREIGN KEY (user_id, emotion, strategy) REFERENCES profile_strategies(user_id, emotion, strategy) ON DELETE CASCADE
);
CREATE INDEX idx_profile_strategy_history ON profile_strategy_history(user_id, emotion, strategy, seq);
CREATE TABLE profile_importance_patterns (
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  searched INTEGER NOT NULL DEFAULT 0,
  used INTEGER NOT NULL DEFAULT 0,
  rated INTEGER NOT NULL DEFAULT 0,
  rating_sum REAL NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, kind, value)
);
CREATE TABLE profile_importance_predictions (
  memory_id TEXT PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  base REAL NOT NULL,
  predicted REAL NOT NULL,
  factors TEXT NOT NULL DEFAULT '[]',
  at INTEGER NOT NULL
);
CREATE TABLE profile_conversations (
  user_id TEXT PRIMARY KEY,
  last_message_id TEXT NOT NULL DEFAULT '',
  last_reply_id TEXT NOT NULL DEFAULT '',
  channel TEXT NOT NULL DEFAULT '',
  turns INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);
)sql",
    // v9 (issue 15): the embedding queue as a table, so finding memories
    // without a vector costs O(pending) instead of a scan of every memory per
    // call. A model is registered on first use (missing_embeddings), which
    // queues everything it has not embedded; from then on a trigger queues
    // each new memory for every registered model and put_embeddings takes it
    // off. Existing databases: every model that has vectors is registered and
    // its missing memories queued here.
    R"sql(
CREATE TABLE embedding_models (
  model TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE embedding_pending (
  model TEXT NOT NULL,
  memory_rowid INTEGER NOT NULL,
  PRIMARY KEY (model, memory_rowid)
) WITHOUT ROWID;
INSERT INTO embedding_models(model) SELECT DISTINCT model FROM memory_embeddings;
INSERT INTO embedding_pending(model, memory_rowid)
  SELECT em.model, m.rowid FROM embedding_models em, memories m
  WHERE NOT EXISTS (SELECT 1 FROM memory_embeddings e WHERE e.model = em.model AND e.memory_id = m.id);
CREATE TRIGGER memories_embedding_queue AFTER INSERT ON memories BEGIN
  INSERT OR IGNORE INTO embedding_pending(model, memory_rowid) SELECT model, new.rowid FROM embedding_models;
END;
CREATE TRIGGER memories_embedding_unqueue AFTER DELETE ON memories BEGIN
  DELETE FROM embedding_pending WHERE model IN (SELECT model FROM embedding_models) AND memory_rowid = old.rowid;
END;
)sql",
    // v10 (issue 15): each vector stored once, and only the indexes a query
    // needs. memory_embeddings and embedding_cache held every vector twice;
    // memory_vectors keeps one per (memory, model) with the first 64 bits of
    // the SHA-256 of the text it embeds, which is what the cache looks up
    // (cached_embeddings reads the stored vector of any memory with that text).
    // The old cache's entries without a memory are dropped: a miss only costs
    // an embedding. The memories indexes and the query each serves:
    //   sqlite_autoindex (id)                        get, get_many, relations
    //   idx_memories_user_hash (user, hash) UNIQUE   add: deduplication (ON CONFLICT)
    //   idx_memories_user_time (user, event_time)    list newest/oldest first, time filters
    //   idx_memories_user_type_time                  adjacent (neighbour propagation), list by type
    //   idx_memories_user_tier_importance            companion profile: persistent tier by importance;
    //                                                partial now (short-term memories, the bulk, are never listed so)
    //   idx_memories_user_kind_importance            companion profile: preferences by importance;
    //                                                partial now (memory_type 'context', the default, is never listed
    //                                                so)
    //   idx_memories_maintenance_key (partial)       lifecycle maintenance records
    // The Where builder adds the partial indexes' conditions to the queries
    // they serve, so the planner can use them.
    R"sql(
CREATE TABLE memory_vectors (
  memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  text_key INTEGER,
  vector BLOB NOT NULL,
  PRIMARY KEY (memory_id, model)
);
CREATE INDEX idx_memory_vectors_text ON memory_vectors(model, text_key) WHERE text_key IS NOT NULL;
INSERT INTO memory_vectors(memory_id, model, vector) SELECT memory_id, model, vector FROM memory_embeddings;
DROP TABLE memory_embeddings;
DROP TABLE embedding_cache;
DROP INDEX idx_memories_user_tier_importance;
CREATE INDEX idx_memories_user_tier_importance ON memories(user_id, tier, importance DESC) WHERE tier != 'short_term';
DROP INDEX idx_memories_user_kind_importance;
CREATE INDEX idx_memories_user_kind_importance ON memories(user_id, memory_type, importance DESC)
  WHERE memory_type != 'context';
)sql",
    // v11 (issue 15): new rows get their full-text entry, embedding-queue
    // entries and identity lifecycle from the store's add path (add_one,
    // index_added), once per batch, instead of from AFTER INSERT triggers: a
    // trigger gives every INSERT a statement savepoint, at which FTS5 writes
    // its pending terms out as one segment per row. New rows come only from
    // SqliteMemoryStore and from store copy (store_copy.cpp), which does the
    // same; updates and deletes keep their triggers.
    R"sql(
DROP TRIGGER memories_fts_insert;
DROP TRIGGER memories_identity_insert;
DROP TRIGGER memories_embedding_queue;
)sql",
    // v12 (issue 15): the time indexes ascend. New memories arrive in time
    // order; a descending index takes each at the front of its range and
    // left its pages half full (49 of 724 bytes per memory at 50k). SQLite
    // walks an ascending index backwards for "newest first", same plans.
    R"sql(
DROP INDEX idx_memories_user_time;
CREATE INDEX idx_memories_user_time ON memories(user_id, event_time);
DROP INDEX idx_memories_user_type_time;
CREATE INDEX idx_memories_user_type_time ON memories(user_id, type, event_time);
)sql",
    // v13 (issue 15): content hashes as bytes (bind_content_hash in
    // schema.h): 64 hex characters in the row and again in the unique index
    // were 152 of 709 bytes per memory at 20k. kioku_content_hash_key is the
    // same encoding as an SQL function, registered by migrate_memory_database.
    R"sql(
DROP INDEX idx_memories_user_hash;
UPDATE memories SET content_hash = kioku_content_hash_key(content_hash);
CREATE UNIQUE INDEX idx_memories_user_hash ON memories(user_id, content_hash);
)sql",
    // v14 (issue 15): vectors keyed by the memory's rowid and a small model
    // key instead of the memory's text UUID and the model's name: the key
    // index was 70 of the 2,316 bytes per memory with a vector at 100k (now
    // about 12), and loading an index joins memories by rowid. Deleting a
    // memory deletes its vectors by trigger (the foreign key's cascade went
    // with the text key); rowids are stable because memory.db is never
    // vacuumed (the full-text index and the embedding queue rely on it too).
    // The copy streams (no ORDER BY: sorting would hold every vector in
    // memory); the old table's pages stay in the file as free pages, which
    // new rows reuse.
    R"sql(
CREATE TABLE vector_models (
  key INTEGER PRIMARY KEY,
  model TEXT NOT NULL UNIQUE
);
INSERT INTO vector_models(model) SELECT DISTINCT model FROM memory_vectors ORDER BY model;
CREATE TABLE memory_vectors_by_rowid (
  memory_rowid INTEGER NOT NULL,
  model_key INTEGER NOT NULL,
  text_key INTEGER,
  vector BLOB NOT NULL
);
INSERT INTO memory_vectors_by_rowid(memory_rowid, model_key, text_key, vector)
  SELECT m.rowid, vm.key, e.text_key, e.vector FROM memory_vectors e
  JOIN memories m ON m.id = e.memory_id JOIN vector_models vm ON vm.model = e.model;
DROP TABLE memory_vectors;
ALTER TABLE memory_vectors_by_rowid RENAME TO memory_vectors;
CREATE UNIQUE INDEX idx_memory_vectors_memory ON memory_vectors(memory_rowid, model_key);
CREATE INDEX idx_memory_vectors_text ON memory_vectors(model_key, text_key) WHERE text_key IS NOT NULL;
CREATE TRIGGER memories_vectors_delete AFTER DELETE ON memories BEGIN
  DELETE FROM memory_vectors WHERE memory_rowid = old.rowid;
END;
)sql",
};

// The key of a model's vectors (v14), as a subquery: NULL, so no vector
// matches, for a model that never stored one.
constexpr const char* kModelKey = "(SELECT key FROM vector_models WHERE model = ?)";

constexpr const char* kMemoryColumns =
    "m.id, m.user_id, m.type, m.content, m.summary, m.raw_content, m.media_path, m.content_hash, m.tier, "
    "m.truth_category, m.memory_type, m.confidence, m.source_reliability, m.corroboration_count, "
    "m.contradiction_count, m.source, m.importance, m.approved, m.tags, m.domains, m.entities, m.provenance, "
    "m.metadata, m.event_time, m.created_at, m.updated_at, m.last_accessed, m.access_count, m.recency";
constexpr int kMemoryColumnCount = 29;

// Memories out of the hot vector index: in cold storage (older than
// max_memory_age_days) or merged into a near-duplicate. Full text still finds them.
constexpr const char* kNotCold =
    " AND NOT EXISTS (SELECT 1 FROM memory_lifecycle l WHERE l.memory_id = m.id AND "
    "(l.cold_since IS NOT NULL OR l.merged_into IS NOT NULL))";

// A SHA-256 in lower-case hex: the content hashes kept as bytes.
bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// kioku_content_hash_key(x): bind_content_hash's encoding for migration v13.
void content_hash_key_function(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_TEXT) {
    const std::string_view text(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])),
                                static_cast<size_t>(sqlite3_value_bytes(argv[0])));
    if (is_sha256_hex(text)) {
      const std::string bytes = bytes_of_hex(text);
      sqlite3_result_blob(ctx, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
      return;
    }
  }
  sqlite3_result_value(ctx, argv[0]);
}

// The first 64 bits of a hex SHA-256 as the integer memory_vectors indexes
// (a cache key: a collision at 2^-64 per pair would reuse a wrong vector).
std::optional<int64_t> text_key(const std::string& hex) {
  if (hex.size() < 16) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = hex[i];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return static_cast<int64_t>(v);
}

// Appends "AND ..." clauses for a filter; binds are collected in order.
struct Where {
  std::string sql;
  std::vector<std::string> text_binds;  // bound in order after the fixed ones
  std::vector<int64_t> int_binds;
  std::vector<char> order;  // 't' or 'i', order of binds
  void text(const std::string& clause, const std::string& v) {
    sql += clause;
    text_binds.push_back(v);
    order.push_back('t');
  }
  void integer(const std::string& clause, int64_t v) {
    sql += clause;
    int_binds.push_back(v);
    order.push_back('i');
  }
  void bind_all(sqlite::Statement& st, int first_index) const {
    size_t ti = 0, ii = 0;
    int idx = first_index;
    for (char c : order) {
      if (c == 't')
        st.bind(idx++, text_binds[ti++]);
      else
        st.bind(idx++, int_binds[ii++]);
    }
  }
  int count() const { return static_cast<int>(order.size()); }
};

Where build_where(const MemoryFilter& f) {
  Where w;
  w.text(" AND m.user_id = ?", f.user_id);
  if (!f.types.empty()) {
    w.sql += " AND m.type IN (";
    for (size_t i = 0; i < f.types.size(); ++i) {
      if (i) w.sql += ",";
      w.text("?", f.types[i]);
    }
    w.sql += ")";
  }
  if (!f.tags.empty()) {
    w.sql += " AND EXISTS (SELECT 1 FROM json_each(m.tags) WHERE json_each.value IN (";
    for (size_t i = 0; i < f.tags.size(); ++i) {
      if (i) w.sql += ",";
      w.text("?", f.tags[i]);
    }
    w.sql += "))";
  }
  if (f.tier) w.text(" AND m.tier = ?", std::string(to_string(*f.tier)));
  // Implied by the clause above, spelled out so that SQLite may use the
  // partial index idx_memories_user_tier_importance.
  if (f.tier && *f.tier != Tier::kShortTerm) w.sql += " AND m.tier != 'short_term'";
  if (!f.kinds.empty()) {
    w.sql += " AND m.memory_type IN (";
    for (size_t i = 0; i < f.kinds.size(); ++i) {
      if (i) w.sql += ",";
      w.text("?", std::string(to_string(f.kinds[i])));
    }
    w.sql += ")";
    // As for tiers: lets SQLite use idx_memories_user_kind_importance.
    if (std::find(f.kinds.begin(), f.kinds.end(), MemoryKind::kContext) == f.kinds.end())
      w.sql += " AND m.memory_type != 'context'";
  }
  if (f.since) w.integer(" AND m.event_time >= ?", to_millis(*f.since));
  if (f.until) w.integer(" AND m.event_time < ?", to_millis(*f.until));
  if (f.approved) w.integer(" AND m.approved = ?", *f.approved ? 1 : 0);
  return w;
}

// FTS5 string literal: wrap in double quotes, double any inner quote. Inside a
// string FTS5 treats everything (AND, NEAR, parentheses, *) as text.
std::string fts_quote(const std::string& term) {
  std::string out = "\"";
  for (char c : term) {
    if (c == '"') out += "\"\"";
    else out.push_back(c);
  }
  out += "\"";
  return out;
}

class SqliteMemoryStore final : public MemoryStore {
 public:
  SqliteMemoryStore(const std::filesystem::path& path, const TimeSource& clock)
      : db_(path), clock_(clock), core_(db_, clock) {
    migrate_memory_database(db_);
  }

  CoreMemoryStore& core_memory() override { return core_; }

  bool references_media(const std::string& user_id, const std::string& file_name) override {
    if (file_name.empty()) return false;
    auto st = db_.prepare(
        "SELECT 1 FROM memories WHERE user_id = ?1 AND (media_path = ?2 OR substr(media_path, -length(?2) - 1) = "
        "'/' || ?2 OR instr(content, ?2) > 0) LIMIT 1");
    st.bind(1, user_id).bind(2, file_name);
    const bool found = st.step();
    st.reset();
    return found;
  }

  AddOutcome add(Memory m) override {
    AddOutcome out;
    db_.transaction([&] {
      added_rows_.clear();  // left by a batch that failed
      out = add_one(m);
      index_added();
    });
    return out;
  }

  std::vector<AddOutcome> add_batch(std::vector<Memory> memories) override {
    std::vector<AddOutcome> out;
    out.reserve(memories.size());
    db_.transaction([&] {
      added_rows_.clear();  // left by a batch that failed
      for (auto& m : memories) out.push_back(add_one(m));
      index_added();
    });
    return out;
  }

  std::optional<Memory> get(const std::string& user_id, const std::string& id) override {
    auto st = db_.prepare(std::string("SELECT ") + kMemoryColumns + " FROM memories m WHERE m.id = ? AND m.user_id = ?");
    st.bind(1, id).bind(2, user_id);
    std::optional<Memory> out;
    if (st.step()) out = read_memory(st);
    st.reset();
    if (out) load_relations(*out);
    return out;
  }

  // One statement for any number of ids: they go in as a JSON array (no
  // per-id round trip), relations come along as a JSON column.
  std::vector<Memory> get_many(const std::string& user_id, const std::vector<std::string>& ids) override {
    if (ids.empty()) return {};
    auto st = db_.prepare(std::string("SELECT ") + kMemoryColumns +
                          ", (SELECT json_group_array(json_array(r.target_id, r.kind)) FROM "
                          "(SELECT target_id, kind FROM memory_relations WHERE source_id = m.id ORDER BY created_at) r) "
                          ", j.key FROM json_each(?) j CROSS JOIN memories m ON m.id = j.value WHERE m.user_id = ?");
    st.bind(1, json_string_list_text(ids)).bind(2, user_id);
    std::vector<Memory> rows;
    std::vector<int64_t> positions;
    rows.reserve(ids.size());
    positions.reserve(ids.size());
    while (st.step()) {
      Memory& m = rows.emplace_back(read_memory(st));
      const std::string relations_text = st.text(kMemoryColumnCount);
      const auto relations =
          relations_text == "[]" ? nlohmann::json::array() : nlohmann::json::parse(relations_text, nullptr, false);
      if (relations.is_array())
        for (const auto& r : relations)
          if (r.is_array() && r.size() == 2 && r[0].is_string() && r[1].is_string())
            m.relations.push_back({r[0].get<std::string>(), parse_relation_kind(r[1].get<std::string>())});
      positions.push_back(st.integer(kMemoryColumnCount + 1));
    }
    st.reset();
    return in_request_order(std::move(rows), positions);
  }

  // Rows of a json_each(ids) join (rows[i] from position positions[i] of the
  // array), in the order of the ids. The join reads them in that order
  // (CROSS JOIN keeps the array leading: without an ORDER BY the planner
  // would otherwise scan the user's memories), so this only checks and
  // returns the rows untouched; an ORDER BY made SQLite sort them in a
  // temporary B-tree.
  static std::vector<Memory> in_request_order(std::vector<Memory> rows, const std::vector<int64_t>& positions) {
    if (std::is_sorted(positions.begin(), positions.end())) return rows;
    std::vector<size_t> order(rows.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return positions[a] < positions[b]; });
    std::vector<Memory> out;
    out.reserve(rows.size());
    for (const size_t i : order) out.push_back(std::move(rows[i]));
    return out;
  }

  std::vector<Memory> get_ranking_fields(const std::string& user_id, const std::vector<std::string>& ids) override {
    return ranking_rows(user_id, ids, false);
  }

  std::vector<Memory> get_signal_fields(const std::string& user_id, const std::vector<std::string>& ids) override {
    return ranking_rows(user_id, ids, true);
  }

  // The columns of a ranking row of memories m (with_text: also content, and
  // metadata.speaker and .conversation when they are strings: two keys read
  // in SQL, as parsing whole records' metadata cost more than the rest of the
  // ranking), and their reader from column `at` on.
  static std::string ranking_columns(bool with_text) {
    return std::string("m.id, m.user_id, m.type, m.tier, m.memory_type, m.confidence, m.importance, m.approved, "
                       "m.tags, m.event_time") +
           (with_text ? ", m.content, "
                        "CASE WHEN m.metadata = '{}' THEN NULL WHEN json_type(m.metadata, '$.speaker') = 'text' "
                        "THEN json_extract(m.metadata, '$.speaker') END, "
                        "CASE WHEN m.metadata = '{}' THEN NULL WHEN json_type(m.metadata, '$.conversation') = 'text' "
                        "THEN json_extract(m.metadata, '$.conversation') END"
                      : "");
  }

  static Memory ranking_row(sqlite::Statement& st, int at, bool with_text) {
    Memory m;
    m.id = st.text(at);
    m.user_id = st.text(at + 1);
    m.type = st.text(at + 2);
    m.tier = parse_tier(st.text(at + 3));
    m.memory_kind = parse_memory_kind(st.text(at + 4));
    m.confidence.overall = st.real(at + 5);
    m.importance = st.real(at + 6);
    m.approved = st.integer(at + 7) != 0;
    m.tags = json_string_list(st.text(at + 8));
    m.event_time = from_millis(st.integer(at + 9));
    if (with_text) {
      m.content = st.text(at + 10);
      if (!st.is_null(at + 11)) m.metadata["speaker"] = st.text(at + 11);
      if (!st.is_null(at + 12)) m.metadata["conversation"] = st.text(at + 12);
    }
    return m;
  }

  std::vector<Memory> ranking_rows(const std::string& user_id, const std::vector<std::string>& ids, bool with_text) {
    if (ids.empty()) return {};
    auto st = db_.prepare("SELECT j.key, " + ranking_columns(with_text) +
                          " FROM json_each(?) j CROSS JOIN memories m ON m.id = j.value WHERE m.user_id = ?");
    st.bind(1, json_string_list_text(ids)).bind(2, user_id);
    std::vector<Memory> rows;
    std::vector<int64_t> positions;
    rows.reserve(ids.size());
    positions.reserve(ids.size());
    while (st.step()) {
      positions.push_back(st.integer(0));
      rows.push_back(ranking_row(st, 1, with_text));
    }
    st.reset();
    return in_request_order(std::move(rows), positions);
  }

  void update(Memory m) override {
    db_.transaction([&] {
      auto existing = get(m.user_id, m.id);
      if (!existing) throw not_found("no memory with id " + m.id);
      m.content_hash = compute_content_hash(m);
      if (m.content_hash != existing->content_hash) {
        auto dup = db_.prepare("SELECT id FROM memories WHERE user_id = ? AND content_hash = ? AND id != ?");
        dup.bind(1, m.user_id);
        bind_content_hash(dup, 2, m.content_hash);
        dup.bind(3, m.id);
        if (dup.step()) {
          std::string other = dup.text(0);
          dup.reset();
          throw conflict("the new content duplicates memory " + other);
        }
        dup.reset();
      }
      m.created_at = existing->created_at;
      m.updated_at = clock_.now();
      if (to_millis(m.event_time) == 0) m.event_time = existing->event_time;
      auto st = db_.prepare(
          "UPDATE memories SET type=?, content=?, summary=?, raw_content=?, media_path=?, content_hash=?, tier=?, "
          "truth_category=?, memory_type=?, confidence=?, source_reliability=?, corroboration_count=?, "
          "contradiction_count=?, source=?, importance=?, approved=?, tags=?, domains=?, entities=?, provenance=?, "
          "metadata=?, recency=?, event_time=?, updated_at=?, last_accessed=?, access_count=? WHERE id=? AND "
          "user_id=?");
      int i = bind_fields(st, m, 1);
      st.bind(i++, to_millis(m.event_time));
      st.bind(i++, to_millis(m.updated_at));
      st.bind_optional(i++, m.last_accessed ? std::optional<int64_t>(to_millis(*m.last_accessed)) : std::nullopt);
      st.bind(i++, m.access_count);
      st.bind(i++, m.id);
      st.bind(i++, m.user_id);
      st.run();
      db_.prepare("DELETE FROM memory_relations WHERE source_id = ?").bind(1, m.id).run();
      for (const auto& r : m.relations) insert_relation(m.user_id, m.id, r);
    });
  }

  bool remove(const std::string& user_id, const std::string& id) override {
    bool removed = false;
    db_.transaction([&] {
      auto st = db_.prepare("DELETE FROM memories WHERE id = ? AND user_id = ?");
      st.bind(1, id).bind(2, user_id).run();
      removed = db_.changes() > 0;
    });
    return removed;
  }

  std::vector<Memory> list(const MemoryFilter& filter, ListOrder order, int limit, int offset) override {
    Where w = build_where(filter);
    std::string order_sql;
    switch (order) {
      case ListOrder::kNewestFirst: order_sql = "m.event_time DESC, m.id DESC"; break;
      case ListOrder::kOldestFirst: order_sql = "m.event_time ASC, m.id ASC"; break;
      case ListOrder::kMostImportant: order_sql = "m.importance DESC, m.event_time DESC"; break;
      case ListOrder::kRecentlyUpdated: order_sql = "m.updated_at DESC, m.id DESC"; break;
    }
    auto st = db_.prepare(std::string("SELECT ") + kMemoryColumns + " FROM memories m WHERE 1=1" + w.sql +
                          " ORDER BY " + order_sql + " LIMIT ? OFFSET ?");
    w.bind_all(st, 1);
    st.bind(w.count() + 1, static_cast<int64_t>(limit)).bind(w.count() + 2, static_cast<int64_t>(offset));
    std::vector<Memory> out;
    while (st.step()) out.push_back(read_memory(st));
    st.reset();
    for (auto& m : out) load_relations(m);
    return out;
  }

  int64_t count(const MemoryFilter& filter) override {
    Where w = build_where(filter);
    auto st = db_.prepare("SELECT count(*) FROM memories m WHERE 1=1" + w.sql);
    w.bind_all(st, 1);
    st.step();
    int64_t n = st.integer(0);
    st.reset();
    return n;
  }

  std::vector<LexicalHit> search_text(const std::vector<std::string>& terms, const MemoryFilter& filter,
                                      int limit) override {
    return lexical_hits(terms, filter, limit, std::nullopt);
  }

  std::vector<LexicalHit> search_text_rows(const std::vector<std::string>& terms, const MemoryFilter& filter,
                                           int limit, HitRow row) override {
    return lexical_hits(terms, filter, limit, row);
  }

  std::vector<LexicalHit> lexical_hits(const std::vector<std::string>& terms, const MemoryFilter& filter, int limit,
                                       std::optional<HitRow> row) {
    std::string match;
    for (const auto& t : terms) {
      if (t.empty()) continue;
      if (!match.empty()) match += " OR ";
      match += fts_quote(t);
    }
    std::vector<LexicalHit> out;
    if (match.empty() || limit <= 0) return out;
    Where w = build_where(filter);
    // Rank inside FTS5 first (ORDER BY rank over the FTS table alone is its
    // fast path), then join the top candidates to apply filters. When the
    // filters reject too many, widen the window and try again: the best
    // `limit` survivors of any window holding that many are the best overall,
    // so a small first window (one user, approved memories: usually all of
    // them) only costs a retry where the filters reject many.
    // The join reads the memories' rows for the filters anyway: a row asked
    // for comes with them.
    const bool with_text = row == HitRow::kSignals;
    const std::string sql =
        "SELECT f.score, " + (row ? ranking_columns(with_text) : std::string("m.id")) +
        " FROM (SELECT rowid, bm25(memories_fts, 1.0, 0.8, 0.6, 0.6) AS score "
        "FROM memories_fts WHERE memories_fts MATCH ? ORDER BY score LIMIT ?) f "
        "JOIN memories m ON m.rowid = f.rowid WHERE 1=1" +
        w.sql + " ORDER BY f.score LIMIT ?";
    for (int64_t window = std::max<int64_t>(limit, 50);; window *= 8) {
      auto st = db_.prepare(sql);
      st.bind(1, match).bind(2, window);
      w.bind_all(st, 3);
      st.bind(w.count() + 3, static_cast<int64_t>(limit));
      out.clear();
      int64_t rows = 0;
      while (st.step()) {
        if (row) {
          Memory m = ranking_row(st, 1, with_text);
          std::string id = m.id;
          out.push_back({std::move(id), -st.real(0), std::move(m)});
        } else {
          out.push_back({st.text(1), -st.real(0)});
        }
        ++rows;
      }
      st.reset();
      if (rows >= limit) break;
      // Fewer than limit survived: were there more candidates than the window?
      auto total = db_.prepare("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?");
      total.bind(1, match);
      total.step();
      const int64_t matches = total.integer(0);
      total.reset();
      if (matches <= window) break;
    }
    return out;
  }

  std::map<std::string, std::pair<std::string, std::string>> adjacent(const std::string& user_id,
                                                                      const std::vector<std::string>& ids) override {
    std::map<std::string, std::pair<std::string, std::string>> out;
    if (ids.empty()) return out;
    // Row values over idx_memories_user_type_time; ids are UUIDv7, so equal
    // event times (a session's turns) fall back to insertion order.
    auto self = db_.prepare("SELECT type, event_time FROM memories WHERE id = ? AND user_id = ?");
    auto before = db_.prepare(
        "SELECT id FROM memories WHERE user_id = ? AND type = ? AND approved = 1 AND (event_time, id) < (?, ?) "
        "ORDER BY event_time DESC, id DESC LIMIT 1");
    auto after = db_.prepare(
        "SELECT id FROM memories WHERE user_id = ? AND type = ? AND approved = 1 AND (event_time, id) > (?, ?) "
        "ORDER BY event_time ASC, id ASC LIMIT 1");
    for (const auto& id : ids) {
      self.bind(1, id).bind(2, user_id);
      if (!self.step()) {
        self.reset();
        continue;
      }
      const std::string type = self.text(0);
      const int64_t when = self.integer(1);
      self.reset();
      auto& [previous, next] = out[id];
      before.bind(1, user_id).bind(2, type).bind(3, when).bind(4, id);
      if (before.step()) previous = before.text(0);
      before.reset();
      after.bind(1, user_id).bind(2, type).bind(3, when).bind(4, id);
      if (after.step()) next = after.text(0);
      after.reset();
    }
    return out;
  }

  void record_access(const std::string& user_id, const std::vector<std::string>& ids, TimePoint at) override {
    if (ids.empty()) return;
    db_.transaction([&] {
      auto st = db_.prepare(
          "UPDATE memories SET last_accessed = ?, access_count = access_count + 1 WHERE id = ? AND user_id = ?");
      for (const auto& id : ids) {
        st.bind(1, to_millis(at)).bind(2, id).bind(3, user_id);
        st.run();
        st.reset();
      }
    });
  }

  void add_relation(const std::string& user_id, const std::string& from_id, const Relation& relation) override {
    db_.transaction([&] { insert_relation(user_id, from_id, relation); });
  }

  void put_embeddings(const std::string& model, const std::vector<StoredVector>& vectors) override {
    db_.transaction([&] {
      if (vectors.empty()) return;
      // Looked up inside this transaction each time: a key kept across
      // calls could belong to a rolled-back insert.
      db_.prepare("INSERT OR IGNORE INTO vector_models(model) VALUES (?)").bind(1, model).run();
      auto key_of = db_.prepare("SELECT key FROM vector_models WHERE model = ?");
      key_of.bind(1, model);
      if (!key_of.step()) throw io_error("vector model " + model + " has no key");
      const int64_t model_key = key_of.integer(0);
      key_of.reset();
      auto st = db_.prepare(
          "INSERT INTO memory_vectors(memory_rowid, model_key, text_key, vector) "
          "SELECT m.rowid, ?, ?, ? FROM memories m WHERE m.id = ? "
          "ON CONFLICT(memory_rowid, model_key) DO UPDATE SET text_key = excluded.text_key, vector = excluded.vector");
      auto done = db_.prepare(
          "DELETE FROM embedding_pending WHERE model = ? AND memory_rowid = (SELECT rowid FROM memories WHERE id = ?)");
      for (const auto& v : vectors) {
        st.bind(1, model_key);
        if (auto key = text_key(v.text_hash)) st.bind(2, *key);
        else st.bind_null(2);
        st.bind_blob(3, v.vector.data(), v.vector.size() * sizeof(float)).bind(4, v.memory_id);
        st.run();
        st.reset();
        done.bind(1, model).bind(2, v.memory_id);
        done.run();
        done.reset();
      }
    });
  }

  // A model seen for the first time queues every memory it has no vector
  // for (once: the trigger queues new memories from then on).
  void register_model(const std::string& model) {
    if (registered_models_.count(model)) return;
    db_.transaction([&] {
      db_.prepare("INSERT OR IGNORE INTO embedding_models(model) VALUES (?)").bind(1, model).run();
      if (db_.changes() == 0) return;
      db_.prepare(
             "INSERT OR IGNORE INTO embedding_pending(model, memory_rowid) SELECT ?, m.rowid FROM memories m "
             "WHERE NOT EXISTS (SELECT 1 FROM memory_vectors e WHERE e.memory_rowid = m.rowid AND e.model_key = " +
             std::string(kModelKey) + ")")
          .bind(1, model)
          .bind(2, model)
          .run();
    });
    registered_models_.insert(model);
  }

  void for_each_embedding(const std::string& model, const std::string& user_id,
                          const EmbeddingVisitor& visit) override {
    auto st = db_.prepare(
        // CROSS JOIN keeps this order: the vectors in the order they lie in
        // the file, each memory found by rowid. Led by memories (the
        // planner's choice), it read the vectors in random order (first
        // vector search at 100k: 530 -> 1,023 ms).
        "SELECT m.id, e.vector FROM memory_vectors e CROSS JOIN memories m ON m.rowid = e.memory_rowid "
        "WHERE e.model_key = " + std::string(kModelKey) + " AND m.user_id = ?" + kNotCold);
    st.bind(1, model).bind(2, user_id);
    std::vector<float> vector;
    std::string id;
    while (st.step()) {
      id = st.text(0);
      const int bytes = st.blob_bytes(1);
      vector.resize(static_cast<size_t>(bytes) / sizeof(float));
      if (bytes > 0) std::memcpy(vector.data(), st.blob(1), vector.size() * sizeof(float));
      visit(id, vector);
    }
    st.reset();
  }

  std::vector<Memory> missing_embeddings(const std::string& model, int limit) override {
    register_model(model);
    // The queue in insertion order, joined to its memories: O(limit + cold
    // entries skipped), whatever the size of the table.
    auto st = db_.prepare(std::string("SELECT ") + kMemoryColumns +
                          " FROM embedding_pending p JOIN memories m ON m.rowid = p.memory_rowid "
                          "WHERE p.model = ?" + std::string(kNotCold) + " ORDER BY p.memory_rowid LIMIT ?");
    st.bind(1, model).bind(2, static_cast<int64_t>(limit));
    std::vector<Memory> out;
    while (st.step()) out.push_back(read_memory(st));
    st.reset();
    return out;
  }

  int64_t count_missing_embeddings(const std::string& model) override {
    register_model(model);
    auto st = db_.prepare(
        "SELECT count(*) FROM embedding_pending p JOIN memories m ON m.rowid = p.memory_rowid WHERE p.model = ?" +
        std::string(kNotCold));
    st.bind(1, model);
    st.step();
    const int64_t n = st.integer(0);
    st.reset();
    return n;
  }

  std::vector<std::string> embedding_ids(const std::string& model, const std::string& user_id) override {
    auto st = db_.prepare(
        "SELECT m.id FROM memory_vectors e JOIN memories m ON m.rowid = e.memory_rowid "
        "WHERE e.model_key = " + std::string(kModelKey) + " AND m.user_id = ?" + kNotCold);
    st.bind(1, model).bind(2, user_id);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    st.reset();
    return out;
  }

  int64_t count_embeddings(const std::string& model, const std::string& user_id) override {
    auto st = db_.prepare(
        "SELECT count(*) FROM memory_vectors e JOIN memories m ON m.rowid = e.memory_rowid "
        "WHERE e.model_key = " + std::string(kModelKey) + " AND m.user_id = ?" + kNotCold);
    st.bind(1, model).bind(2, user_id);
    st.step();
    const int64_t n = st.integer(0);
    st.reset();
    return n;
  }

  std::vector<StoredVector> get_embeddings(const std::string& model, const std::vector<std::string>& ids) override {
    auto st = db_.prepare(
        "SELECT e.vector FROM memories m JOIN memory_vectors e ON e.memory_rowid = m.rowid WHERE m.id = ? AND "
        "e.model_key = " + std::string(kModelKey));
    std::vector<StoredVector> out;
    for (const auto& id : ids) {
      st.bind(1, id).bind(2, model);
      if (st.step()) out.push_back({id, read_vector(st, 0)});
      st.reset();
    }
    return out;
  }

  // The cache is the stored vectors themselves, found by the text they embed.
  std::map<std::string, std::vector<float>> cached_embeddings(const std::string& model,
                                                             const std::vector<std::string>& text_hashes) override {
    auto st = db_.prepare("SELECT vector FROM memory_vectors WHERE model_key = " + std::string(kModelKey) +
                          " AND text_key = ? LIMIT 1");
    std::map<std::string, std::vector<float>> out;
    for (const auto& h : text_hashes) {
      const auto key = text_key(h);
      if (!key) continue;
      st.bind(1, model).bind(2, *key);
      if (st.step()) out[h] = read_vector(st, 0);
      st.reset();
    }
    return out;
  }

  // Nothing to do: put_embeddings keeps each vector's text key, so a vector
  // is stored once (issue 15).
  void cache_embeddings(const std::string&, const std::vector<std::pair<std::string, std::vector<float>>>&) override {}

  bool add_journal(const Journal& journal, Memory as_memory) override {
    bool inserted = false;
    db_.transaction([&] {
      auto exists = db_.prepare("SELECT 1 FROM journals WHERE id = ?");
      exists.bind(1, journal.id);
      const bool already = exists.step();
      exists.reset();
      if (already) return;
      as_memory.id = journal.memory_id.empty() ? new_uuid_v7(clock_.now()) : journal.memory_id;
      as_memory.user_id = journal.user_id;
      added_rows_.clear();
      AddOutcome added = add_one(as_memory);
      index_added();
      auto st = db_.prepare(
          "INSERT INTO journals(id, user_id, title, body, source_entry_ids, tags, markdown_path, memory_id, "
          "needs_recompile, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)");
      st.bind(1, journal.id).bind(2, journal.user_id).bind(3, journal.title).bind(4, journal.body);
      st.bind(5, json_string_list_text(journal.source_entry_ids)).bind(6, json_string_list_text(journal.tags));
      st.bind(7, journal.markdown_path).bind(8, added.id).bind(9, journal.needs_recompile ? 1 : 0);
      st.bind(10, to_millis(to_millis(journal.created_at) ? journal.created_at : clock_.now()));
      st.run();
      // Compiled without a model: a `recompile_journal` job, committed with
      // the journal, rewrites it once one answers (src/jobs).
      if (journal.needs_recompile) enqueue_recompile(journal.user_id, journal.id);
      inserted = true;
    });
    return inserted;
  }

  void enqueue_recompile(const std::string& user_id, const std::string& journal_id) {
    const TimePoint now = clock_.now();
    auto st = db_.prepare(
        "INSERT OR IGNORE INTO jobs(id, user_id, kind, payload, dedupe_key, created_at, run_after) "
        "VALUES (?, ?, 'recompile_journal', ?, ?, ?, ?)");
    st.bind(1, new_uuid_v7(now)).bind(2, user_id).bind(3, nlohmann::json{{"journal_id", journal_id}}.dump());
    st.bind(4, "recompile_journal:" + journal_id).bind(5, to_millis(now)).bind(6, to_millis(now)).run();
  }

  std::optional<Journal> get_journal(const std::string& user_id, const std::string& id) override {
    auto st = db_.prepare(
        "SELECT id, user_id, title, body, source_entry_ids, tags, markdown_path, memory_id, needs_recompile, "
        "created_at FROM journals WHERE id = ? AND user_id = ?");
    st.bind(1, id).bind(2, user_id);
    std::optional<Journal> out;
    if (st.step()) out = read_journal(st);
    st.reset();
    return out;
  }

  std::vector<Journal> list_journals(const std::string& user_id, int limit) override {
    auto st = db_.prepare(
        "SELECT id, user_id, title, body, source_entry_ids, tags, markdown_path, memory_id, needs_recompile, "
        "created_at FROM journals WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?");
    st.bind(1, user_id).bind(2, static_cast<int64_t>(limit));
    std::vector<Journal> out;
    while (st.step()) out.push_back(read_journal(st));
    st.reset();
    return out;
  }

  void update_journal(const Journal& journal) override {
    db_.transaction([&] {
      auto st = db_.prepare(
          "UPDATE journals SET title=?, body=?, tags=?, markdown_path=?, needs_recompile=? WHERE id=? AND user_id=?");
      st.bind(1, journal.title).bind(2, journal.body).bind(3, json_string_list_text(journal.tags));
      st.bind(4, journal.markdown_path).bind(5, journal.needs_recompile ? 1 : 0).bind(6, journal.id);
      st.bind(7, journal.user_id).run();
      if (db_.changes() == 0) throw not_found("no journal with id " + journal.id);
      auto mem = db_.prepare("UPDATE memories SET content=?, tags=?, updated_at=? WHERE id=? AND user_id=?");
      mem.bind(1, journal.title + "\n\n" + journal.body).bind(2, json_string_list_text(journal.tags));
      mem.bind(3, to_millis(clock_.now())).bind(4, journal.memory_id).bind(5, journal.user_id).run();
    });
  }

  StoreStats stats(const std::string& user_id) override {
    StoreStats s;
    auto by_type = db_.prepare("SELECT type, count(*) FROM memories WHERE user_id = ? GROUP BY type");
    by_type.bind(1, user_id);
    while (by_type.step()) {
      s.by_type[by_type.text(0)] = by_type.integer(1);
      s.memories += by_type.integer(1);
    }
    by_type.reset();
    auto by_tier = db_.prepare("SELECT tier, count(*) FROM memories WHERE user_id = ? GROUP BY tier");
    by_tier.bind(1, user_id);
    while (by_tier.step()) s.by_tier[by_tier.text(0)] = by_tier.integer(1);
    by_tier.reset();
    auto journals = db_.prepare("SELECT count(*) FROM journals WHERE user_id = ?");
    journals.bind(1, user_id);
    journals.step();
    s.journals = journals.integer(0);
    journals.reset();
    auto emb = db_.prepare(
        "SELECT count(*) FROM memory_vectors e JOIN memories m ON m.rowid = e.memory_rowid WHERE m.user_id = ?");
    emb.bind(1, user_id);
    emb.step();
    s.embeddings = emb.integer(0);
    emb.reset();
    auto size = db_.prepare("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
    size.step();
    s.database_bytes = size.integer(0);
    size.reset();
    return s;
  }

  void backup_to(const std::filesystem::path& destination) override { db_.backup_to(destination); }

 private:
  // Inserts one row (or counts a corroboration of the row with the same
  // content) and notes a new row's rowid for index_added(), which the caller
  // runs before its transaction commits. The statement has no trigger and no
  // RETURNING on purpose: either makes SQLite open a statement savepoint,
  // and FTS5 (3.40) writes its pending terms out as a new segment at every
  // savepoint, i.e. once per row (issue 15: bulk add at 0.19x raw SQLite).
  AddOutcome add_one(Memory& m) {
    if (m.content.empty() && m.media_path.empty()) throw invalid_input("a memory needs content");
    if (m.user_id.empty()) throw invalid_input("a memory needs a user_id");
    const TimePoint now = clock_.now();
    if (m.content_hash.empty()) m.content_hash = compute_content_hash(m);
    if (m.id.empty()) m.id = new_uuid_v7(now);
    if (to_millis(m.created_at) == 0) m.created_at = now;
    m.updated_at = now;
    if (to_millis(m.event_time) == 0) m.event_time = m.created_at;
    // One statement both inserts and deduplicates: on a (user, hash) clash it
    // counts a corroboration instead (seeing the same thing again confirms
    // it). Only an insert sets last_insert_rowid.
    auto st = db_.prepare(
        "INSERT INTO memories(type, content, summary, raw_content, media_path, content_hash, tier, truth_category, "
        "memory_type, confidence, source_reliability, corroboration_count, contradiction_count, source, importance, "
        "approved, tags, domains, entities, provenance, metadata, recency, id, user_id, event_time, created_at, "
        "updated_at, last_accessed, access_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(user_id, content_hash) DO UPDATE SET corroboration_count = corroboration_count + 1, "
        "confidence = min(1.0, confidence + 0.05), updated_at = excluded.updated_at");
    int i = bind_fields(st, m, 1);
    st.bind(i++, m.id);
    st.bind(i++, m.user_id);
    st.bind(i++, to_millis(m.event_time));
    st.bind(i++, to_millis(m.created_at));
    st.bind(i++, to_millis(m.updated_at));
    st.bind_optional(i++, m.last_accessed ? std::optional<int64_t>(to_millis(*m.last_accessed)) : std::nullopt);
    st.bind(i++, m.access_count);
    sqlite3_set_last_insert_rowid(db_.handle(), 0);
    st.run();
    const int64_t rowid = sqlite3_last_insert_rowid(db_.handle());
    if (rowid == 0) {
      auto kept = db_.prepare("SELECT id FROM memories WHERE user_id = ? AND content_hash = ?");
      kept.bind(1, m.user_id);
      bind_content_hash(kept, 2, m.content_hash);
      std::string kept_id = kept.step() ? kept.text(0) : std::string();
      kept.reset();
      return {kept_id, false};
    }
    added_rows_.push_back(rowid);
    if (std::find(m.tags.begin(), m.tags.end(), "identity") != m.tags.end()) {
      // Tagged "identity" from the start (the lifecycle layer's promotion
      // rules read identity_since).
      db_.prepare(
             "INSERT INTO memory_lifecycle(memory_id, identity_since) VALUES (?, ?) "
             "ON CONFLICT(memory_id) DO UPDATE SET identity_since = coalesce(identity_since, excluded.identity_since)")
          .bind(1, m.id)
          .bind(2, to_millis(m.created_at))
          .run();
    }
    for (const auto& r : m.relations) insert_relation(m.user_id, m.id, r);
    return {m.id, true};
  }

  // The rows add_one inserted since the last call join the embedding queue of
  // every registered model and the full-text index, each in one statement
  // (full text last: one FTS5 segment per batch, as a hand-written bulk load
  // gets). Must run inside the transaction that added them.
  void index_added() {
    if (added_rows_.empty()) return;
    std::string rows = "[";
    for (size_t i = 0; i < added_rows_.size(); ++i) {
      if (i) rows += ',';
      rows += std::to_string(added_rows_[i]);
    }
    rows += ']';
    added_rows_.clear();
    db_.prepare(
           "INSERT OR IGNORE INTO embedding_pending(model, memory_rowid) "
           "SELECT em.model, j.value FROM embedding_models em, json_each(?) j")
        .bind(1, rows)
        .run();
    db_.prepare(
           "INSERT INTO memories_fts(rowid, content, summary, tags, entities) "
           "SELECT m.rowid, m.content, m.summary, m.tags, m.entities FROM json_each(?) j "
           "JOIN memories m ON m.rowid = j.value")
        .bind(1, rows)
        .run();
  }

  // Binds the 22 descriptive columns shared by INSERT and UPDATE, in order.
  static int bind_fields(sqlite::Statement& st, const Memory& m, int i) {
    st.bind(i++, m.type);
    st.bind(i++, m.content);
    st.bind(i++, m.summary);
    st.bind(i++, m.raw_content);
    st.bind(i++, m.media_path);
    bind_content_hash(st, i++, m.content_hash);
    st.bind(i++, to_string(m.tier));
    st.bind(i++, to_string(m.truth_category));
    st.bind(i++, to_string(m.memory_kind));
    st.bind(i++, m.confidence.overall);
    st.bind(i++, m.confidence.source_reliability);
    st.bind(i++, m.confidence.corroboration_count);
    st.bind(i++, m.confidence.contradiction_count);
    st.bind(i++, to_string(m.source));
    st.bind(i++, m.importance);
    st.bind(i++, m.approved ? 1 : 0);
    st.bind(i++, json_string_list_text(m.tags));
    st.bind(i++, json_string_list_text(m.domains));
    st.bind(i++, json_string_list_text(m.entities));
    const auto provenance = to_json(m.provenance);
    st.bind(i++, provenance.empty() ? "{}" : provenance.dump());
    st.bind(i++, m.metadata.is_null() || (m.metadata.is_object() && m.metadata.empty()) ? "{}" : m.metadata.dump());
    st.bind(i++, m.confidence.recency);
    return i;
  }

  void insert_relation(const std::string& user_id, const std::string& from_id, const Relation& r) {
    auto check = db_.prepare("SELECT count(*) FROM memories WHERE user_id = ? AND id IN (?, ?)");
    check.bind(1, user_id).bind(2, from_id).bind(3, r.target_id);
    check.step();
    const int64_t found = check.integer(0);
    check.reset();
    if (found < 2 && from_id != r.target_id) throw not_found("relation between unknown memories");
    auto st = db_.prepare(
        "INSERT OR IGNORE INTO memory_relations(source_id, target_id, kind, created_at) VALUES (?,?,?,?)");
    st.bind(1, from_id).bind(2, r.target_id).bind(3, to_string(r.kind)).bind(4, to_millis(clock_.now())).run();
  }

  void load_relations(Memory& m) {
    auto st = db_.prepare("SELECT target_id, kind FROM memory_relations WHERE source_id = ? ORDER BY created_at");
    st.bind(1, m.id);
    m.relations.clear();
    while (st.step()) m.relations.push_back({st.text(0), parse_relation_kind(st.text(1))});
    st.reset();
  }

  static Memory read_memory(const sqlite::Statement& st) { return read_memory_row(st); }

  static std::vector<float> read_vector(const sqlite::Statement& st, int column) {
    std::vector<float> v(static_cast<size_t>(st.blob_bytes(column)) / sizeof(float));
    if (!v.empty()) std::memcpy(v.data(), st.blob(column), v.size() * sizeof(float));
    return v;
  }

  static Journal read_journal(const sqlite::Statement& st) {
    Journal j;
    j.id = st.text(0);
    j.user_id = st.text(1);
    j.title = st.text(2);
    j.body = st.text(3);
    j.source_entry_ids = json_string_list(st.text(4));
    j.tags = json_string_list(st.text(5));
    j.markdown_path = st.text(6);
    j.memory_id = st.text(7);
    j.needs_recompile = st.integer(8) != 0;
    j.created_at = from_millis(st.integer(9));
    return j;
  }

  sqlite::Database db_;
  const TimeSource& clock_;
  sqlite::SqliteCoreMemoryStore core_;
  std::set<std::string> registered_models_;  // in embedding_models already (this connection saw it)
  std::vector<int64_t> added_rows_;          // inserted by add_one, not yet in FTS and the queues
};

}  // namespace

Memory read_memory_row(const sqlite::Statement& st) {
  Memory m;
  m.id = st.text(0);
  m.user_id = st.text(1);
  m.type = st.text(2);
  m.content = st.text(3);
  m.summary = st.text(4);
  m.raw_content = st.text(5);
  m.media_path = st.text(6);
  m.content_hash = read_content_hash(st, 7);
  m.tier = parse_tier(st.text(8));
  m.truth_category = parse_truth_category(st.text(9));
  m.memory_kind = parse_memory_kind(st.text(10));
  m.confidence.overall = st.real(11);
  m.confidence.source_reliability = st.real(12);
  m.confidence.corroboration_count = static_cast<int>(st.integer(13));
  m.confidence.contradiction_count = static_cast<int>(st.integer(14));
  m.source = parse_source(st.text(15));
  m.importance = st.real(16);
  m.approved = st.integer(17) != 0;
  m.tags = json_string_list(st.text(18));
  m.domains = json_string_list(st.text(19));
  m.entities = json_string_list(st.text(20));
  // Most records keep the default '{}' in both: no parse for those.
  const std::string provenance = st.text(21);
  if (provenance != "{}") m.provenance = provenance_from_json(nlohmann::json::parse(provenance, nullptr, false));
  const std::string metadata = st.text(22);
  if (metadata != "{}") {
    auto meta = nlohmann::json::parse(metadata, nullptr, false);
    if (meta.is_object()) m.metadata = std::move(meta);
  }
  m.event_time = from_millis(st.integer(23));
  m.created_at = from_millis(st.integer(24));
  m.updated_at = from_millis(st.integer(25));
  if (!st.is_null(26)) m.last_accessed = from_millis(st.integer(26));
  m.access_count = static_cast<int>(st.integer(27));
  m.confidence.recency = st.real(28);
  return m;
}

const char* memory_columns() { return kMemoryColumns; }

void bind_content_hash(sqlite::Statement& st, int index, const std::string& hash) {
  if (!is_sha256_hex(hash)) {
    st.bind(index, hash);
    return;
  }
  const std::string bytes = bytes_of_hex(hash);
  st.bind_blob(index, bytes.data(), bytes.size());
}

std::string read_content_hash(const sqlite::Statement& st, int column) {
  if (st.is_blob(column)) return lower_hex(st.blob(column), static_cast<size_t>(st.blob_bytes(column)));
  return st.text(column);
}

void register_memory_sql_functions(sqlite::Database& db) {
  const int rc = sqlite3_create_function_v2(db.handle(), "kioku_content_hash_key", 1,
                                            SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, content_hash_key_function,
                                            nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) db.fail("registering kioku_content_hash_key", rc);
}

void migrate_memory_database(sqlite::Database& db) {
  register_memory_sql_functions(db);
  db.migrate(kMemoryMigrations);
}
const std::vector<std::string>& sqlite_memory_migrations() { return kMemoryMigrations; }

std::unique_ptr<MemoryStore> open_sqlite_memory_store(const std::filesystem::path& path, const TimeSource& clock) {
  return std::make_unique<SqliteMemoryStore>(path, clock);
}

}  // namespace kioku
