#include "store/postgres/schema.h"

#include <nlohmann/json.hpp>

#include "core/json.h"

namespace kioku::pg {

namespace {

// Appended to, never edited: a database records how many it has applied
// (kioku_schema_versions, name 'kioku').
const std::vector<std::string> kMigrations = {
    // v1: memories and everything memory.db and journal.db hold. Times are
    // BIGINT milliseconds since the epoch (UTC), as in SQLite, so rows copy
    // across backends unchanged; lists and objects are jsonb.
    R"sql(
CREATE TEXT SEARCH DICTIONARY kioku_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION kioku (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION kioku ALTER MAPPING FOR asciiword, word, numword, asciihword, hword,
  numhword, hword_asciipart, hword_part, hword_numpart WITH kioku_stem;

-- ids compare as bytes (COLLATE "C"), as in SQLite: keyset pages (id > $n)
-- and (event_time, id) neighbours do not depend on the server's locale.
CREATE TABLE memories (
  id TEXT COLLATE "C" PRIMARY KEY,
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
  confidence DOUBLE PRECISION NOT NULL,
  source_reliability DOUBLE PRECISION NOT NULL,
  corroboration_count INTEGER NOT NULL DEFAULT 0,
  contradiction_count INTEGER NOT NULL DEFAULT 0,
  source TEXT NOT NULL,
  importance DOUBLE PRECISION NOT NULL,
  approved BOOLEAN NOT NULL DEFAULT true,
  tags JSONB NOT NULL DEFAULT '[]',
  domains JSONB NOT NULL DEFAULT '[]',
  entities JSONB NOT NULL DEFAULT '[]',
  provenance JSONB NOT NULL DEFAULT '{}',
  metadata JSONB NOT NULL DEFAULT '{}',
  recency DOUBLE PRECISION NOT NULL DEFAULT 1.0,
  event_time BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_accessed BIGINT,
  access_count INTEGER NOT NULL DEFAULT 0,
  fts TSVECTOR NOT NULL
);
CREATE UNIQUE INDEX idx_memories_user_hash ON memories(user_id, content_hash);
CREATE INDEX idx_memories_user_time ON memories(user_id, event_time DESC);
CREATE INDEX idx_memories_user_type_time ON memories(user_id, type, event_time DESC);
CREATE INDEX idx_memories_user_tier_importance ON memories(user_id, tier, importance DESC);
CREATE INDEX idx_memories_user_kind_importance ON memories(user_id, memory_type, importance DESC);
CREATE INDEX idx_memories_created ON memories(created_at);
CREATE INDEX idx_memories_fts ON memories USING GIN (fts);

CREATE TABLE memory_relations (
  source_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  target_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (source_id, target_id, kind)
);
CREATE INDEX idx_relations_target ON memory_relations(target_id);

-- Vectors as raw little-endian float32 (bytea): no pgvector in Debian; the
-- in-process index (src/search) serves the similarity search.
CREATE TABLE memory_embeddings (
  memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  dimension INTEGER NOT NULL,
  vector BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (model, memory_id)
);
CREATE INDEX idx_embeddings_memory ON memory_embeddings(memory_id);

CREATE TABLE embedding_cache (
  model TEXT NOT NULL,
  text_hash TEXT NOT NULL,
  vector BYTEA NOT NULL,
  PRIMARY KEY (model, text_hash)
);

CREATE TABLE journals (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  source_entry_ids JSONB NOT NULL DEFAULT '[]',
  tags JSONB NOT NULL DEFAULT '[]',
  markdown_path TEXT NOT NULL DEFAULT '',
  memory_id TEXT NOT NULL,
  needs_recompile BOOLEAN NOT NULL DEFAULT false,
  created_at BIGINT NOT NULL
);
CREATE INDEX idx_journals_user_created ON journals(user_id, created_at DESC);

CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload JSONB NOT NULL DEFAULT '{}',
  state TEXT NOT NULL DEFAULT 'queued',
  dedupe_key TEXT UNIQUE,
  attempts INTEGER NOT NULL DEFAULT 0,
  waits INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  wait_reason TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  run_after BIGINT NOT NULL,
  lease_holder TEXT NOT NULL DEFAULT '',
  lease_until BIGINT NOT NULL DEFAULT 0,
  started_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0,
  result JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_jobs_claim ON jobs(kind, state, run_after);
CREATE INDEX idx_jobs_user_state ON jobs(user_id, state, created_at);
CREATE TABLE job_schedules (
  name TEXT PRIMARY KEY,
  last_slot BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE job_runs (
  id BIGSERIAL PRIMARY KEY,
  schedule TEXT NOT NULL,
  job_id TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  status TEXT NOT NULL,
  counts JSONB NOT NULL DEFAULT '{}',
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX idx_job_runs_schedule ON job_runs(schedule, started_at DESC);

CREATE TABLE core_blocks (
  user_id TEXT NOT NULL,
  label TEXT NOT NULL,
  value TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  char_limit INTEGER NOT NULL,
  read_only BOOLEAN NOT NULL DEFAULT false,
  version INTEGER NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, label)
);
CREATE TABLE core_block_versions (
  user_id TEXT NOT NULL,
  label TEXT NOT NULL,
  version INTEGER NOT NULL,
  value TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  char_limit INTEGER NOT NULL,
  read_only BOOLEAN NOT NULL DEFAULT false,
  created_at BIGINT NOT NULL,
  author TEXT NOT NULL,
  tool_call_id TEXT NOT NULL DEFAULT '',
  tool_name TEXT NOT NULL DEFAULT '',
  turn_id TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (user_id, label, version)
);

-- Out of the hot vector index (cold storage, merged near-duplicates).
CREATE TABLE memory_lifecycle (
  memory_id TEXT PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
  validated_at BIGINT,
  identity_since BIGINT,
  cold_since BIGINT,
  extracted_at BIGINT,
  dedup_checked_at BIGINT,
  merged_into TEXT
);

-- journal.db's drafts: the open journal session of each user.
CREATE TABLE journal_sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL UNIQUE,
  started_at BIGINT NOT NULL,
  last_activity BIGINT NOT NULL
);
CREATE TABLE journal_entries (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES journal_sessions(id) ON DELETE CASCADE,
  timestamp BIGINT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  media_path TEXT NOT NULL DEFAULT '',
  image_description TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX idx_journal_entries_session ON journal_entries(session_id, timestamp);
)sql",
    // v2: the knowledge graph and memory lifecycle (SQLite's v8): entities,
    // aliases, mentions, bitemporal facts, tier history, the archive; one
    // trigger records what plain edits mean for the lifecycle (tagging
    // "identity", approving a suggestion, changing a tier by hand).
    R"sql(
CREATE TABLE graph_entities (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  confidence DOUBLE PRECISION NOT NULL DEFAULT 0.5,
  merged_into TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX idx_graph_entities_user ON graph_entities(user_id, created_at);
CREATE TABLE graph_aliases (
  entity_id TEXT NOT NULL REFERENCES graph_entities(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  alias TEXT COLLATE "C" NOT NULL,
  norm TEXT NOT NULL,
  PRIMARY KEY (entity_id, norm)
);
CREATE INDEX idx_graph_aliases_norm ON graph_aliases(user_id, norm);
CREATE TABLE graph_mentions (
  entity_id TEXT NOT NULL REFERENCES graph_entities(id) ON DELETE CASCADE,
  memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  surface TEXT NOT NULL,
  norm TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (entity_id, memory_id, surface)
);
CREATE INDEX idx_graph_mentions_memory ON graph_mentions(memory_id);
CREATE TABLE graph_facts (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  subject_id TEXT NOT NULL REFERENCES graph_entities(id),
  predicate TEXT NOT NULL,
  object_id TEXT REFERENCES graph_entities(id),
  value TEXT NOT NULL DEFAULT '',
  valid_from BIGINT,
  valid_to BIGINT,
  recorded_at BIGINT NOT NULL,
  invalidated_at BIGINT,
  memory_id TEXT REFERENCES memories(id) ON DELETE SET NULL,
  confidence DOUBLE PRECISION NOT NULL,
  extractor TEXT NOT NULL,
  superseded_by TEXT,
  revision_of TEXT
);
CREATE INDEX idx_graph_facts_subject ON graph_facts(subject_id, predicate);
CREATE INDEX idx_graph_facts_object ON graph_facts(object_id);
CREATE INDEX idx_graph_facts_user_recorded ON graph_facts(user_id, recorded_at);
CREATE UNIQUE INDEX idx_graph_facts_once ON graph_facts(subject_id, predicate, coalesce(object_id, ''), value,
  coalesce(memory_id, ''), coalesce(valid_from, -1), coalesce(revision_of, ''));
CREATE INDEX idx_memory_lifecycle_cold ON memory_lifecycle(memory_id) WHERE cold_since IS NOT NULL OR merged_into IS NOT NULL;
CREATE TABLE memory_tier_changes (
  seq BIGSERIAL PRIMARY KEY,
  memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  from_tier TEXT NOT NULL,
  to_tier TEXT NOT NULL,
  rule TEXT NOT NULL,
  detail JSONB NOT NULL DEFAULT '{}',
  at BIGINT NOT NULL
);
CREATE INDEX idx_tier_changes_memory ON memory_tier_changes(memory_id, seq);
CREATE INDEX idx_tier_changes_user_at ON memory_tier_changes(user_id, at);
CREATE TABLE memory_archive (
  memory_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  record TEXT NOT NULL,
  archived_at BIGINT NOT NULL
);
CREATE INDEX idx_memory_archive_user ON memory_archive(user_id, archived_at DESC);
CREATE INDEX idx_memories_maintenance_key ON memories(user_id, (metadata->>'maintenance_key'))
  WHERE metadata ? 'maintenance_key';

CREATE FUNCTION kioku_memory_lifecycle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.tags ? 'identity' THEN
      INSERT INTO memory_lifecycle(memory_id, identity_since) VALUES (NEW.id, NEW.created_at)
      ON CONFLICT(memory_id) DO UPDATE SET identity_since = coalesce(memory_lifecycle.identity_since, excluded.identity_since);
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.tags ? 'identity' AND NOT OLD.tags ? 'identity' THEN
    INSERT INTO memory_lifecycle(memory_id, identity_since) VALUES (NEW.id, NEW.updated_at)
    ON CONFLICT(memory_id) DO UPDATE SET identity_since = excluded.identity_since;
  ELSIF NOT NEW.tags ? 'identity' AND OLD.tags ? 'identity' THEN
    UPDATE memory_lifecycle SET identity_since = NULL WHERE memory_id = NEW.id;
  END IF;
  IF NOT OLD.approved AND NEW.approved THEN
    INSERT INTO memory_lifecycle(memory_id, validated_at) VALUES (NEW.id, NEW.updated_at)
    ON CONFLICT(memory_id) DO UPDATE SET validated_at = coalesce(memory_lifecycle.validated_at, excluded.validated_at);
  END IF;
  -- A tier changed without change_tier() recording it first: a change by hand.
  IF OLD.tier <> NEW.tier AND NOT EXISTS (
    SELECT 1 FROM memory_tier_changes c WHERE c.seq = (SELECT max(seq) FROM memory_tier_changes WHERE memory_id = NEW.id)
    AND c.from_tier = OLD.tier AND c.to_tier = NEW.tier) THEN
    INSERT INTO memory_tier_changes(memory_id, user_id, from_tier, to_tier, rule, detail, at)
    VALUES (NEW.id, NEW.user_id, OLD.tier, NEW.tier, 'manual', '{}', NEW.updated_at);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER memories_lifecycle AFTER INSERT OR UPDATE ON memories
  FOR EACH ROW EXECUTE FUNCTION kioku_memory_lifecycle();
)sql",
    // v3 (issue 14): users and the SHA-256 of their tokens (SQLite's users
    // migration), and what the companion learns about each person
    // (src/store/profile.h; SQLite's profile migration), so that several
    // `kioku serve` processes on one database share users, tokens and the
    // learned profile.
    R"sql(
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  admin BOOLEAN NOT NULL DEFAULT false,
  created_at BIGINT NOT NULL
);
CREATE TABLE user_tokens (
  token_sha256 TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  label TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX idx_user_tokens_user ON user_tokens(user_id);

CREATE TABLE profile_emotions (
  message_id TEXT PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  emotion TEXT NOT NULL,
  intensity DOUBLE PRECISION NOT NULL,
  valence DOUBLE PRECISION NOT NULL,
  detector TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX idx_profile_emotions_user_at ON profile_emotions(user_id, at DESC);
CREATE TABLE profile_strategies (
  user_id TEXT NOT NULL,
  emotion TEXT NOT NULL,
  strategy TEXT NOT NULL,
  weight DOUBLE PRECISION NOT NULL,
  uses BIGINT NOT NULL DEFAULT 0,
  successes BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, emotion, strategy)
);
CREATE TABLE profile_strategy_history (
  seq BIGSERIAL PRIMARY KEY,
  user_id TEXT NOT NULL,
  emotion TEXT NOT NULL,
  strategy TEXT NOT NULL,
  weight_before DOUBLE PRECISION NOT NULL,
  weight_after DOUBLE PRECISION NOT NULL,
  outcome DOUBLE PRECISION NOT NULL,
  reason TEXT NOT NULL,
  message_id TEXT NOT NULL DEFAULT '',
  at BIGINT NOT NULL,
  FOREIGN KEY (user_id, emotion, strategy) REFERENCES profile_strategies(user_id, emotion, strategy) ON DELETE CASCADE
);
CREATE INDEX idx_profile_strategy_history ON profile_strategy_history(user_id, emotion, strategy, seq);
CREATE TABLE profile_importance_patterns (
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  searched BIGINT NOT NULL DEFAULT 0,
  used BIGINT NOT NULL DEFAULT 0,
  rated BIGINT NOT NULL DEFAULT 0,
  rating_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, kind, value)
);
CREATE TABLE profile_importance_predictions (
  memory_id TEXT PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  base DOUBLE PRECISION NOT NULL,
  predicted DOUBLE PRECISION NOT NULL,
  factors TEXT NOT NULL DEFAULT '[]',  -- as given (SQLite keeps it as text too)
  at BIGINT NOT NULL
);
CREATE TABLE profile_conversations (
  user_id TEXT PRIMARY KEY,
  last_message_id TEXT NOT NULL DEFAULT '',
  last_reply_id TEXT NOT NULL DEFAULT '',
  channel TEXT NOT NULL DEFAULT '',
  turns BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL
);
)sql",
    // v4 (issue 14): row-level security, so that a query that forgot its
    // user filter still cannot reach another user's rows. Each call sets
    // kioku.user_id (the user it acts for) or kioku.all_users = on (the
    // paths that span users by design): store_base.h, docs/POSTGRES.md.
    // FORCE: the policies hold for the table's owner too (a superuser or a
    // BYPASSRLS role still bypasses them: run Kioku as neither). The
    // settings are read through scalar subqueries, evaluated once per
    // statement rather than once per row, and the user comparison is then
    // one an index can serve.
    // Full text moves to memory_fts, kept by a trigger, outside the
    // policies: PostgreSQL does not use a GIN index under row-level security
    // (the @@ operator is not leakproof), so a search for a rare word would
    // read every row of the user. Only search_text() reads memory_fts, joined
    // to memories, whose policy then decides which rows come back.
    // Not covered: journal_sessions and journal_entries (the draft calls name
    // a session, not a user), and the tables that belong to no user.
    R"sql(
CREATE TABLE memory_fts (
  memory_id TEXT COLLATE "C" PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  fts TSVECTOR NOT NULL
);
INSERT INTO memory_fts(memory_id, user_id, fts) SELECT id, user_id, fts FROM memories;
CREATE INDEX idx_memory_fts ON memory_fts USING GIN (fts);
DROP INDEX idx_memories_fts;
CREATE FUNCTION kioku_memory_fts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO memory_fts(memory_id, user_id, fts) VALUES (NEW.id, NEW.user_id, NEW.fts)
  ON CONFLICT(memory_id) DO UPDATE SET user_id = excluded.user_id, fts = excluded.fts;
  RETURN NEW;
END $$;
CREATE TRIGGER memories_fts AFTER INSERT OR UPDATE OF fts, user_id ON memories
  FOR EACH ROW EXECUTE FUNCTION kioku_memory_fts();

DO $$
DECLARE
  t TEXT;
  sees TEXT := $s$(SELECT current_setting('kioku.all_users', true)) = 'on' OR %I = (SELECT current_setting('kioku.user_id', true))$s$;
  -- Rows that belong to a memory: visible with it (memories' own policy applies inside).
  with_memory TEXT := 'EXISTS (SELECT 1 FROM memories o WHERE o.id = %I)';
  owners TEXT[][] := ARRAY[
    ['memories', 'user_id'], ['journals', 'user_id'], ['jobs', 'user_id'], ['core_blocks', 'user_id'],
    ['core_block_versions', 'user_id'], ['graph_entities', 'user_id'], ['graph_aliases', 'user_id'],
    ['graph_facts', 'user_id'], ['memory_tier_changes', 'user_id'], ['memory_archive', 'user_id'],
    ['users', 'id'], ['user_tokens', 'user_id'], ['profile_emotions', 'user_id'], ['profile_strategies', 'user_id'],
    ['profile_strategy_history', 'user_id'], ['profile_importance_patterns', 'user_id'],
    ['profile_importance_predictions', 'user_id'], ['profile_conversations', 'user_id'],
    ['memory_embeddings', '-memory_id'], ['memory_lifecycle', '-memory_id'], ['graph_mentions', '-memory_id'],
    ['memory_relations', '-source_id']];
  pair TEXT[];
  expr TEXT;
BEGIN
  FOREACH pair SLICE 1 IN ARRAY owners LOOP
    t := pair[1];
    IF left(pair[2], 1) = '-' THEN
      expr := format(with_memory, substr(pair[2], 2));
    ELSE
      expr := format(sees, pair[2]);
    END IF;
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY kioku_user ON %I USING (%s) WITH CHECK (%s)', t, expr, expr);
  END LOOP;
END $$;
)sql",
};

constexpr const char* kMemoryColumns =
    "m.id, m.user_id, m.type, m.content, m.summary, m.raw_content, m.media_path, m.content_hash, m.tier, "
    "m.truth_category, m.memory_type, m.confidence, m.source_reliability, m.corroboration_count, "
    "m.contradiction_count, m.source, m.importance, m.approved, m.tags, m.domains, m.entities, m.provenance, "
    "m.metadata, m.event_time, m.created_at, m.updated_at, m.last_accessed, m.access_count, m.recency";

bool is_cjk(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x3005 && cp <= 0x3007) || (cp >= 0x3040 && cp <= 0x30FF) ||
         (cp >= 0x3130 && cp <= 0x318F) || (cp >= 0x31F0 && cp <= 0x31FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0x20000 && cp <= 0x2FA1F);
}

// Splits UTF-8 text into code points, each with its bytes.
struct CodePoint {
  uint32_t cp;
  std::string bytes;
};
std::vector<CodePoint> code_points(const std::string& s) {
  std::vector<CodePoint> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back({cp, s.substr(i, n)});
    i += n;
  }
  return out;
}

// Replaces each CJK run by what emit(run) returns, spaced from its neighbours.
template <typename Emit>
std::string map_cjk_runs(const std::string& text, Emit emit) {
  std::string out;
  std::vector<std::string> run;
  auto flush = [&] {
    if (run.empty()) return;
    out += ' ';
    out += emit(run);
    out += ' ';
    run.clear();
  };
  for (auto& p : code_points(text)) {
    if (is_cjk(p.cp)) {
      run.push_back(std::move(p.bytes));
    } else {
      flush();
      out += p.bytes;
    }
  }
  flush();
  return out;
}

}  // namespace

std::string cjk_index_text(const std::string& text) {
  return map_cjk_runs(text, [](const std::vector<std::string>& run) {
    std::string s;
    for (const auto& c : run) s += c + " ";
    for (size_t i = 0; i + 1 < run.size(); ++i) s += run[i] + run[i + 1] + " ";
    return s;
  });
}

std::string cjk_query_text(const std::string& term) {
  return map_cjk_runs(term, [](const std::vector<std::string>& run) {
    if (run.size() == 1) return run[0];
    std::string s;
    for (size_t i = 0; i + 1 < run.size(); ++i) s += run[i] + run[i + 1] + " ";
    return s;
  });
}

const std::vector<std::string>& memory_migrations() { return kMigrations; }
const char* memory_columns() { return kMemoryColumns; }

Memory read_memory(const Result& r, int row) {
  Memory m;
  m.id = r.text(row, 0);
  m.user_id = r.text(row, 1);
  m.type = r.text(row, 2);
  m.content = r.text(row, 3);
  m.summary = r.text(row, 4);
  m.raw_content = r.text(row, 5);
  m.media_path = r.text(row, 6);
  m.content_hash = r.text(row, 7);
  m.tier = parse_tier(r.text(row, 8));
  m.truth_category = parse_truth_category(r.text(row, 9));
  m.memory_kind = parse_memory_kind(r.text(row, 10));
  m.confidence.overall = r.real(row, 11);
  m.confidence.source_reliability = r.real(row, 12);
  m.confidence.corroboration_count = static_cast<int>(r.integer(row, 13));
  m.confidence.contradiction_count = static_cast<int>(r.integer(row, 14));
  m.source = parse_source(r.text(row, 15));
  m.importance = r.real(row, 16);
  m.approved = r.boolean(row, 17);
  m.tags = json_string_list(r.text(row, 18));
  m.domains = json_string_list(r.text(row, 19));
  m.entities = json_string_list(r.text(row, 20));
  m.provenance = provenance_from_json(nlohmann::json::parse(r.text(row, 21), nullptr, false));
  auto meta = nlohmann::json::parse(r.text(row, 22), nullptr, false);
  m.metadata = meta.is_object() ? meta : nlohmann::json::object();
  m.event_time = from_millis(r.integer(row, 23));
  m.created_at = from_millis(r.integer(row, 24));
  m.updated_at = from_millis(r.integer(row, 25));
  if (!r.is_null(row, 26)) m.last_accessed = from_millis(r.integer(row, 26));
  m.access_count = static_cast<int>(r.integer(row, 27));
  m.confidence.recency = r.real(row, 28);
  return m;
}

}  // namespace kioku::pg
