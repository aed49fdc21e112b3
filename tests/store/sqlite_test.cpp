// SQLite-specific behaviour: files, pragmas, migrations, backup/restore.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "core/error.h"
#include "store/sqlite/database.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_copy.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

std::string pragma(const std::filesystem::path& db, const std::string& name) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, ("PRAGMA " + name).c_str(), -1, &st, nullptr);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

TEST(SqliteStore, CreatesWalDatabaseAtSchemaVersion) {
  testing::TempDir dir;
  { auto store = open_sqlite_memory_store(dir / "memory.db"); }
  EXPECT_EQ(pragma(dir / "memory.db", "journal_mode"), "wal");
  // Whatever the number of migrations is (they are renumbered on merges).
  EXPECT_EQ(pragma(dir / "memory.db", "user_version"), std::to_string(sqlite_memory_migrations().size()));
  // Reopening migrates nothing and keeps data.
  {
    auto store = open_sqlite_memory_store(dir / "memory.db");
    Memory m;
    m.content = "persisted";
    store->add(m);
  }
  auto store = open_sqlite_memory_store(dir / "memory.db");
  EXPECT_EQ(store->count(MemoryFilter{}), 1);
  EXPECT_EQ(pragma(dir / "memory.db", "user_version"), std::to_string(sqlite_memory_migrations().size()));
}

// Migrates db up to, not including, the first migration whose SQL holds
// marker: memory.db as an older kioku left it.
void migrate_until(sqlite::Database& db, const std::string& marker) {
  const auto& all = sqlite_memory_migrations();
  size_t before = 0;
  while (before < all.size() && all[before].find(marker) == std::string::npos) ++before;
  ASSERT_LT(before, all.size()) << marker;
  register_memory_sql_functions(db);
  db.migrate(std::vector<std::string>(all.begin(), all.begin() + static_cast<long>(before)));
}

// A memory.db as the schema stood before issue 15 (every migration before the
// embedding queue), with memories, a vector and a cached vector.
void make_pre_issue15_database(const std::filesystem::path& path) {
  sqlite::Database db(path);
  migrate_until(db, "CREATE TABLE embedding_models");
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    db.exec("INSERT INTO memories(id, user_id, type, content, content_hash, tier, truth_category, memory_type, "
            "confidence, source_reliability, source, importance, tags, event_time, created_at, updated_at) VALUES ('m" +
            n + "', 'local', 'note', 'old memory " + n + "', '" + std::string(64, static_cast<char>('a' + i)) +
            "', 'short_term', 'contextual', 'fact', 0.5, 0.5, 'manual', 0.5, '[\"t" + n + "\"]', " +
            std::to_string(1000 + i) + ", " + std::to_string(1000 + i) + ", " + std::to_string(1000 + i) + ")");
  }
  // m0 has a vector for model "old": (1, 0) as little-endian float32.
  db.exec("INSERT INTO memory_embeddings(memory_id, model, dimension, vector, created_at) VALUES "
          "('m0', 'old', 2, X'0000803F00000000', 1)");
  db.exec("INSERT INTO embedding_cache(model, text_hash, vector) VALUES ('old', 'h', X'0000803F00000000')");
}

TEST(SqliteStore, MigratesAPreIssue15DatabaseWithoutLoss) {
  testing::TempDir dir;
  make_pre_issue15_database(dir / "memory.db");
  auto store = open_sqlite_memory_store(dir / "memory.db");
  EXPECT_EQ(pragma(dir / "memory.db", "user_version"), std::to_string(sqlite_memory_migrations().size()));
  for (int i = 0; i < 3; ++i) {
    auto m = store->get("local", "m" + std::to_string(i));
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(m->content, "old memory " + std::to_string(i));
    EXPECT_EQ(m->tags, std::vector<std::string>{"t" + std::to_string(i)});
  }
  auto vectors = store->load_embeddings("old", "local");
  ASSERT_EQ(vectors.size(), 1u);
  EXPECT_EQ(vectors[0].memory_id, "m0");
  EXPECT_EQ(vectors[0].vector, (std::vector<float>{1.0f, 0.0f}));
  // The queue of the model that had vectors holds the two without one, oldest first.
  auto missing = store->missing_embeddings("old", 10);
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].id, "m1");
  EXPECT_EQ(missing[1].id, "m2");
  EXPECT_EQ(store->count_missing_embeddings("old"), 2);
  // A model never seen queues everything; new memories join both queues.
  EXPECT_EQ(store->count_missing_embeddings("new"), 3);
  auto added = store->add(Memory{.user_id = "local", .type = "note", .content = "after the migration"});
  EXPECT_EQ(store->count_missing_embeddings("old"), 3);
  EXPECT_EQ(store->count_missing_embeddings("new"), 4);
  store->put_embeddings("old", {{added.id, {0.0f, 1.0f}}});
  EXPECT_EQ(store->count_missing_embeddings("old"), 2);
  EXPECT_TRUE(store->remove("local", "m1"));
  EXPECT_EQ(store->count_missing_embeddings("old"), 1);
  EXPECT_EQ(store->missing_embeddings("old", 10).at(0).id, "m2");
}

TEST(SqliteStore, EmbeddingQueueCostsPendingNotTable) {
  // The query plan reads the queue by its key, never the memories table in full.
  testing::TempDir dir;
  auto store = open_sqlite_memory_store(dir / "memory.db");
  store->count_missing_embeddings("m");
  sqlite3* h = nullptr;
  sqlite3_open((dir / "memory.db").c_str(), &h);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h,
                     "EXPLAIN QUERY PLAN SELECT m.id FROM embedding_pending p JOIN memories m ON m.rowid = "
                     "p.memory_rowid WHERE p.model = 'm' ORDER BY p.memory_rowid LIMIT 10",
                     -1, &st, nullptr);
  std::string plan;
  while (sqlite3_step(st) == SQLITE_ROW) plan += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))) + "\n";
  sqlite3_finalize(st);
  sqlite3_close(h);
  EXPECT_NE(plan.find("SEARCH p USING PRIMARY KEY (model=?)"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("SCAN m"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

// Virtual machine steps of every statement the store runs, by SQL text:
// a connection opened while a StepCounter lives reports each statement's
// steps when it finishes (sqlite3_trace_v2 PROFILE, installed through an
// auto extension, as the store's own connections are out of a test's reach).
class StepCounter {
 public:
  StepCounter() {
    active_ = this;
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(&install));
  }
  ~StepCounter() {
    sqlite3_cancel_auto_extension(reinterpret_cast<void (*)()>(&install));
    active_ = nullptr;
  }
  StepCounter(const StepCounter&) = delete;
  StepCounter& operator=(const StepCounter&) = delete;
  void clear() { steps_.clear(); }
  // The most steps one run of a statement whose SQL contains `part` took.
  int most_steps(const std::string& part) const {
    int most = -1;
    for (const auto& [sql, steps] : steps_)
      if (sql.find(part) != std::string::npos) most = std::max(most, steps);
    return most;
  }

 private:
  static int install(sqlite3* db, char**, const sqlite3_api_routines*) {
    sqlite3_trace_v2(db, SQLITE_TRACE_PROFILE, &on_profile, nullptr);
    return SQLITE_OK;
  }
  static int on_profile(unsigned, void*, void* stmt_pointer, void*) {
    auto* stmt = static_cast<sqlite3_stmt*>(stmt_pointer);
    const int steps = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 1);
    if (active_ && sqlite3_sql(stmt)) {
      int& most = active_->steps_[sqlite3_sql(stmt)];
      most = std::max(most, steps);
    }
    return 0;
  }
  static inline StepCounter* active_ = nullptr;
  std::map<std::string, int> steps_;
};

// Issue 15: candidates and records are read by their ids, whatever the
// number of memories. Dropping ORDER BY from these joins once let the
// planner lead from the user's memories instead of the ids (1.3 s a search
// at 100k); this counts the statements' steps, which such a plan multiplies
// by the table's size.
TEST(SqliteStore, ReadsByIdsVisitOnlyTheirRows) {
  testing::TempDir dir;
  StepCounter counter;
  auto store = open_sqlite_memory_store(dir / "memory.db");
  std::vector<Memory> batch;
  for (int i = 0; i < 3000; ++i) {
    Memory m;
    m.content = "memory number " + std::to_string(i);
    m.tags = {"t" + std::to_string(i % 7)};
    batch.push_back(std::move(m));
  }
  std::vector<std::string> ids;
  for (const auto& added : store->add_batch(std::move(batch))) ids.push_back(added.id);
  const std::vector<std::string> some = {ids[2500], ids[10], ids[1234]};
  counter.clear();
  const auto signal = store->get_signal_fields("local", some);
  const auto ranking = store->get_ranking_fields("local", some);
  const auto full = store->get_many("local", some);
  for (const auto* rows : {&signal, &ranking, &full}) {
    ASSERT_EQ(rows->size(), 3u);
    for (size_t i = 0; i < some.size(); ++i) EXPECT_EQ((*rows)[i].id, some[i]);  // in the ids' order
  }
  EXPECT_EQ(signal[1].content, "memory number 10");
  EXPECT_EQ(ranking[2].tags, std::vector<std::string>{"t" + std::to_string(1234 % 7)});
  const int most = counter.most_steps("FROM json_each(?) j");
  ASSERT_GT(most, 0) << "no statement seen";
  EXPECT_LT(most, 1000) << "a read of 3 ids took " << most << " steps over 3000 memories";
}

int64_t scalar(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  sqlite3_stmt* st = nullptr;
  int64_t out = -1;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

// New rows get their full text, queue entries and identity lifecycle from the
// add path (no insert triggers since issue 15): each once, nothing from a
// batch that failed.
TEST(SqliteStore, BatchAddIndexesEachNewRowOnce) {
  testing::TempDir dir;
  const auto path = dir / "memory.db";
  auto store = open_sqlite_memory_store(path);
  EXPECT_EQ(store->count_missing_embeddings("m"), 0);  // registers model m
  auto out = store->add_batch({Memory{.user_id = "local", .type = "note", .content = "alpha one", .tags = {"identity"}},
                               Memory{.user_id = "local", .type = "note", .content = "beta two"},
                               Memory{.user_id = "local", .type = "note", .content = "alpha  one"}});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].created);
  EXPECT_TRUE(out[1].created);
  EXPECT_FALSE(out[2].created);
  EXPECT_EQ(out[2].id, out[0].id);  // the same content (whitespace aside): a corroboration
  EXPECT_EQ(store->get("local", out[0].id)->confidence.corroboration_count, 1);
  EXPECT_EQ(store->search_text({"alpha"}, MemoryFilter{}, 10).size(), 1u);
  EXPECT_EQ(store->search_text({"beta"}, MemoryFilter{}, 10).size(), 1u);
  EXPECT_EQ(store->count_missing_embeddings("m"), 2);
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM memory_lifecycle WHERE identity_since IS NOT NULL"), 1);
  // A batch that fails leaves nothing behind, in the table or the index.
  EXPECT_THROW(store->add_batch({Memory{.user_id = "local", .type = "note", .content = "gamma three"},
                                 Memory{.user_id = "local", .type = "note", .content = ""}}),
               Error);
  store->add(Memory{.user_id = "local", .type = "note", .content = "delta four"});
  EXPECT_TRUE(store->search_text({"gamma"}, MemoryFilter{}, 10).empty());
  EXPECT_EQ(store->search_text({"delta"}, MemoryFilter{}, 10).size(), 1u);
  EXPECT_EQ(store->count_missing_embeddings("m"), 3);
  // One FTS entry per row (memories_fts_docsize: a plain table; the FTS
  // table itself needs the kioku_cjk tokenizer, unknown to a bare connection).
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM memories_fts_docsize"), 3);
}

// Migration v14 keys vectors by memory rowid and model key: each vector,
// model and text key survives, deleting a memory deletes its vectors, and
// nothing is keyed by the text id any more.
TEST(SqliteStore, KeysVectorsByMemoryRowid) {
  testing::TempDir dir;
  const auto path = dir / "memory.db";
  const std::string text_hash = "00000000000000ff" + std::string(48, '0');
  {
    sqlite::Database db(path);
    migrate_until(db, "CREATE TABLE vector_models");
    for (const char* id : {"m0", "m1", "m2"})
      db.exec(std::string("INSERT INTO memories(id, user_id, type, content, content_hash, tier, truth_category, "
                          "memory_type, confidence, source_reliability, source, importance, event_time, created_at, "
                          "updated_at) VALUES ('") +
              id + "', 'local', 'note', 'memory " + id + "', 'h" + id +
              "', 'short_term', 'contextual', 'fact', 0.5, 0.5, 'manual', 0.5, 1000, 1000, 1000)");
    // Rows added since v11 get their full-text entries from the add path.
    db.exec("INSERT INTO memories_fts(rowid, content, summary, tags, entities) "
            "SELECT rowid, content, summary, tags, entities FROM memories");
    // (1, 0), (0, 1) and (2, 0) as little-endian float32; m1's under two models.
    db.exec("INSERT INTO memory_vectors(memory_id, model, text_key, vector) VALUES "
            "('m0', 'a', NULL, X'0000803F00000000'), ('m1', 'a', 255, X'000000000000803F'), "
            "('m1', 'b', NULL, X'0000004000000000')");
  }
  auto store = open_sqlite_memory_store(path);
  EXPECT_EQ(store->count_embeddings("a", "local"), 2);
  EXPECT_EQ(store->count_embeddings("b", "local"), 1);
  EXPECT_EQ(store->count_embeddings("c", "local"), 0);
  auto a = store->get_embeddings("a", {"m1", "m0", "m2"});
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].memory_id, "m1");
  EXPECT_EQ(a[0].vector, (std::vector<float>{0, 1}));
  EXPECT_EQ(a[1].vector, (std::vector<float>{1, 0}));
  EXPECT_EQ(store->get_embeddings("b", {"m1"}).at(0).vector, (std::vector<float>{2, 0}));
  EXPECT_EQ(store->cached_embeddings("a", {text_hash}).at(text_hash), (std::vector<float>{0, 1}));
  EXPECT_TRUE(store->cached_embeddings("b", {text_hash}).empty());
  std::map<std::string, std::vector<float>> visited;
  store->for_each_embedding("a", "local", [&](const std::string& id, const std::vector<float>& v) { visited[id] = v; });
  EXPECT_EQ(visited.size(), 2u);
  // A model registered now queues only the memory it has no vector for.
  EXPECT_EQ(store->count_missing_embeddings("a"), 1);
  EXPECT_EQ(store->missing_embeddings("a", 10).at(0).id, "m2");
  store->put_embeddings("a", {{"m2", {3, 0}}, {"no-such-memory", {4, 0}}});
  EXPECT_EQ(store->count_embeddings("a", "local"), 3);
  EXPECT_EQ(store->count_missing_embeddings("a"), 0);
  store->put_embeddings("a", {{"m2", {5, 0}}});  // replaces
  EXPECT_EQ(store->get_embeddings("a", {"m2"}).at(0).vector, (std::vector<float>{5, 0}));
  EXPECT_TRUE(store->remove("local", "m1"));
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM memory_vectors"), 2);
  EXPECT_EQ(store->count_embeddings("b", "local"), 0);
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM pragma_table_info('memory_vectors') WHERE name = 'memory_id'"), 0);
}

// Migration v13 keeps a lower-case hex SHA-256 as its 32 bytes and any
// other key as text; each reads back as it was written, and content added
// again after the migration still meets its migrated copy.
TEST(SqliteStore, KeepsHexContentHashesAsBytes) {
  testing::TempDir dir;
  const auto path = dir / "memory.db";
  const Memory walrus{.user_id = "local", .type = "note", .content = "walrus facts"};
  const std::string walrus_hash = compute_content_hash(walrus);
  const std::string upper(64, 'A');
  {
    sqlite::Database db(path);
    migrate_until(db, "kioku_content_hash_key");
    const std::pair<const char*, std::string> rows[] = {{"hexed", walrus_hash}, {"short", "h"}, {"upper", upper}};
    for (const auto& [id, hash] : rows)
      db.exec(std::string("INSERT INTO memories(id, user_id, type, content, content_hash, tier, truth_category, "
                          "memory_type, confidence, source_reliability, source, importance, event_time, created_at, "
                          "updated_at) VALUES ('") +
              id + "', 'local', 'note', '" + (std::string(id) == "hexed" ? "walrus facts" : id) + "', '" + hash +
              "', 'short_term', 'contextual', 'fact', 0.5, 0.5, 'manual', 0.5, 1000, 1000, 1000)");
  }
  auto store = open_sqlite_memory_store(path);
  EXPECT_EQ(store->get("local", "hexed")->content_hash, walrus_hash);
  EXPECT_EQ(store->get("local", "short")->content_hash, "h");
  EXPECT_EQ(store->get("local", "upper")->content_hash, upper);
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM memories WHERE typeof(content_hash) = 'blob' AND length(content_hash) = 32"), 1);
  const auto again = store->add(walrus);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.id, "hexed");
  EXPECT_EQ(store->get("local", "hexed")->confidence.corroboration_count, 1);
  const auto fresh = store->add(Memory{.user_id = "local", .type = "note", .content = "narwhal facts"});
  ASSERT_TRUE(fresh.created);
  EXPECT_EQ(store->get("local", fresh.id)->content_hash,
            compute_content_hash(Memory{.user_id = "local", .type = "note", .content = "narwhal facts"}));
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM memories WHERE typeof(content_hash) = 'blob'"), 2);
  // Editing into another memory's content is refused by its hash, as before.
  auto edited = *store->get("local", fresh.id);
  edited.content = "walrus facts";
  EXPECT_THROW(store->update(edited), Error);
}

// A database from before the add path took over from the insert triggers:
// old rows stay searchable, new ones join them.
TEST(SqliteStore, MigratesFromInsertTriggers) {
  testing::TempDir dir;
  const auto path = dir / "memory.db";
  {
    sqlite::Database db(path);
    migrate_until(db, "DROP TRIGGER memories_fts_insert;");
    db.exec(
        "INSERT INTO memories(id, user_id, type, content, content_hash, tier, truth_category, memory_type, "
        "confidence, source_reliability, source, importance, tags, event_time, created_at, updated_at) VALUES "
        "('old', 'local', 'note', 'remembered before', 'h', 'short_term', 'contextual', 'fact', 0.5, 0.5, "
        "'manual', 0.5, '[]', 1000, 1000, 1000)");
  }
  auto store = open_sqlite_memory_store(path);
  store->add(Memory{.user_id = "local", .type = "note", .content = "remembered after"});
  EXPECT_EQ(store->search_text({"remembered"}, MemoryFilter{}, 10).size(), 2u);
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%insert%'"), 0);
  auto newest = store->list(MemoryFilter{}, ListOrder::kNewestFirst, 1, 0);
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0].content, "remembered after");
}

// Store copy writes rows into memories itself: what it copies is searchable,
// queued for a registered model and, tagged "identity", in the lifecycle.
TEST(SqliteStore, CopiedMemoriesAreIndexed) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "from");
  std::filesystem::create_directories(dir / "to");
  {
    auto from = open_sqlite_memory_store(dir / "from" / "memory.db");
    from->add_batch({Memory{.user_id = "local", .type = "note", .content = "copied walrus", .tags = {"identity"}},
                     Memory{.user_id = "local", .type = "note", .content = "copied narwhal"}});
  }
  {
    auto to = open_sqlite_memory_store(dir / "to" / "memory.db");
    EXPECT_EQ(to->count_missing_embeddings("m"), 0);
  }
  StoreLocation from, to;
  from.sqlite_dir = dir / "from";
  to.sqlite_dir = dir / "to";
  EXPECT_TRUE(copy_store(from, to, "").verified);
  auto store = open_sqlite_memory_store(dir / "to" / "memory.db");
  EXPECT_EQ(store->search_text({"walrus"}, MemoryFilter{}, 10).size(), 1u);
  EXPECT_EQ(store->search_text({"copied"}, MemoryFilter{}, 10).size(), 2u);
  EXPECT_EQ(store->count_missing_embeddings("m"), 2);
  EXPECT_EQ(scalar(dir / "to" / "memory.db", "SELECT count(*) FROM memory_lifecycle WHERE identity_since IS NOT NULL"),
            1);
}

TEST(SqliteStore, RefusesADatabaseFromTheFuture) {
  testing::TempDir dir;
  { auto store = open_sqlite_memory_store(dir / "memory.db"); }
  sqlite3* h = nullptr;
  sqlite3_open((dir / "memory.db").c_str(), &h);
  sqlite3_exec(h, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(h);
  EXPECT_THROW(open_sqlite_memory_store(dir / "memory.db"), Error);
}

TEST(SqliteStore, NotADatabaseIsAClearError) {
  testing::TempDir dir;
  std::ofstream(dir / "memory.db") << "this is not sqlite, just some text that is long enough to look like a header";
  try {
    open_sqlite_memory_store(dir / "memory.db");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
  }
}

TEST(SqliteStore, BackupWhileOpenThenRestore) {
  testing::TempDir dir;
  auto store = open_sqlite_memory_store(dir / "memory.db");
  auto drafts = open_sqlite_journal_store(dir / "journal.db");
  for (int i = 0; i < 200; ++i) {
    Memory m;
    m.content = "memory number " + std::to_string(i);
    store->add(m);
  }
  drafts->start_session("local", system_time().now());
  backup_sqlite_data(*store, *drafts, dir / "backup1");
  EXPECT_THROW(backup_sqlite_data(*store, *drafts, dir / "backup1"), Error);  // never overwrites a backup
  // Changes after the backup are undone by the restore.
  Memory extra;
  extra.content = "after the backup";
  store->add(extra);
  store.reset();
  drafts.reset();
  restore_sqlite_data(dir / "backup1", dir.path());
  store = open_sqlite_memory_store(dir / "memory.db");
  EXPECT_EQ(store->count(MemoryFilter{}), 200);
  EXPECT_EQ(store->search_text({"number"}, MemoryFilter{}, 500).size(), 200u);
  EXPECT_TRUE(open_sqlite_journal_store(dir / "journal.db")->open_session("local"));
  EXPECT_THROW(restore_sqlite_data(dir / "nowhere", dir.path()), Error);
}

TEST(SqliteStore, RestoreRejectsACorruptBackup) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "bad");
  std::ofstream(dir / "bad" / "memory.db") << std::string(8192, 'x');
  { auto store = open_sqlite_memory_store(dir / "memory.db"); Memory m; m.content = "keep me"; store->add(m); }
  EXPECT_THROW(restore_sqlite_data(dir / "bad", dir.path()), Error);
  EXPECT_EQ(open_sqlite_memory_store(dir / "memory.db")->count(MemoryFilter{}), 1);
}

}  // namespace
}  // namespace kioku

namespace kioku {
namespace {

// Core memory blocks in memory.db: versions in order, optimistic concurrency,
// per-user isolation, removal with history.
TEST(SqliteCoreMemory, VersionsConflictsAndUsers) {
  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2025-03-01T10:00:00Z")};
  auto store = open_sqlite_memory_store(dir / "memory.db", clock);
  CoreMemoryStore& core = store->core_memory();
  EXPECT_FALSE(core.blocks_changed_at("local"));
  CoreBlock b;
  b.label = "human";
  b.limit = 2048;
  CoreBlockAuthor user;
  EXPECT_EQ(core.put_block("local", b, user, 0).version, 1);
  b.value = "Name: Aiko";
  CoreBlockAuthor agent{"agent", "call_1", "core_memory_append", "turn_1", ""};
  clock.advance(std::chrono::seconds(5));
  const CoreBlock v2 = core.put_block("local", b, agent, 1);
  EXPECT_EQ(v2.version, 2);
  EXPECT_THROW(core.put_block("local", b, user, 1), Error);  // stale
  auto history = core.block_history("local", "human");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].author.kind, "agent");
  EXPECT_EQ(history[1].author.tool_call_id, "call_1");
  EXPECT_EQ(history[1].author.turn_id, "turn_1");
  EXPECT_EQ(history[1].block.value, "Name: Aiko");
  EXPECT_EQ(core.block_version("local", "human", 1)->block.value, "");
  EXPECT_FALSE(core.block_version("local", "human", 3));
  EXPECT_EQ(*core.blocks_changed_at("local"), v2.updated_at);
  // Another user sees none of it.
  EXPECT_TRUE(core.list_blocks("other").empty());
  EXPECT_FALSE(core.get_block("other", "human"));
  EXPECT_TRUE(core.block_history("other", "human").empty());
  // Reopened: still there.
  store.reset();
  store = open_sqlite_memory_store(dir / "memory.db", clock);
  EXPECT_EQ(store->core_memory().get_block("local", "human")->value, "Name: Aiko");
  EXPECT_TRUE(store->core_memory().remove_block("local", "human"));
  EXPECT_TRUE(store->core_memory().block_history("local", "human").empty());
  EXPECT_FALSE(store->core_memory().remove_block("local", "human"));
}

}  // namespace
}  // namespace kioku
