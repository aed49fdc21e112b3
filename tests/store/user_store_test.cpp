// SqliteUserStore (issue 14): users, token hashes, and removing a user with
// or without its data, never touching another user's rows.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/error.h"
#include "core/hash.h"
#include "store/knowledge.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

int64_t rows_of(const std::filesystem::path& db, const std::string& user) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  int64_t total = 0;
  for (const char* table : {"memories", "core_blocks", "core_block_versions", "jobs", "graph_entities", "graph_facts"}) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(h, (std::string("SELECT count(*) FROM ") + table + " WHERE user_id = ?").c_str(), -1, &st, nullptr);
    sqlite3_bind_text(st, 1, user.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) total += sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return total;
}

void store_everything_of(const std::filesystem::path& db, const std::string& user) {
  auto memories = open_sqlite_memory_store(db);
  Memory m;
  m.user_id = user;
  m.content = "a memory of " + user;
  m.media_path = "/data/media/photo-of-" + user + ".jpg";
  const std::string id = memories->add(m).id;
  memories->put_embeddings("test-model", {{id, {1.0f, 0.0f}}});
  CoreBlock block;
  block.label = "notes";
  block.value = "core of " + user;
  memories->core_memory().put_block(user, block, CoreBlockAuthor{}, std::nullopt);
  auto jobs = open_sqlite_job_store(db);
  Job job;
  job.user_id = user;
  job.kind = "chat_reply";
  jobs->enqueue(job);
  auto knowledge = open_sqlite_knowledge_store(db);
  Entity e;
  e.user_id = user;
  e.name = "Place of " + user;
  e = knowledge->add_entity(e);
  Fact f;
  f.user_id = user;
  f.subject_id = e.id;
  f.predicate = "lives_in";
  f.value = "town";
  f.memory_id = id;
  knowledge->record_fact(f, false);
}

TEST(SqliteUserStore, UsersAndTokenHashes) {
  testing::TempDir dir;
  auto users = open_sqlite_user_store(dir / "memory.db");
  EXPECT_TRUE(users->ensure_user("local", true));
  EXPECT_FALSE(users->ensure_user("local", false));
  EXPECT_TRUE(users->get_user("local")->admin);  // ensure leaves an existing user as it is
  users->add_user("alice", false);
  EXPECT_THROW(users->add_user("alice", true), Error);
  EXPECT_THROW(users->add_token("nobody", sha256_hex("t"), ""), Error);

  users->add_token("alice", sha256_hex("token-one"), "laptop");
  users->add_token("alice", sha256_hex("token-two"), "phone");
  auto owner = users->find_token(sha256_hex("token-two"));
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->user_id, "alice");
  EXPECT_FALSE(owner->admin);
  EXPECT_FALSE(users->find_token(sha256_hex("token-three")));
  EXPECT_FALSE(users->find_token("token-one")) << "only the hash opens";
  const auto all = users->list_users();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "alice");
  EXPECT_EQ(all[0].tokens, 2);
  EXPECT_EQ(users->revoke_tokens("alice"), 2);
  EXPECT_FALSE(users->find_token(sha256_hex("token-one")));
}

TEST(SqliteUserStore, RemovingAUserWithDataNeedsDeleteDataAndSparesOthers) {
  testing::TempDir dir;
  const auto db = dir / "memory.db";
  auto users = open_sqlite_user_store(db);
  users->add_user("alice", false);
  users->add_user("bob", false);
  users->add_token("bob", sha256_hex("bob-token"), "");
  store_everything_of(db, "alice");
  store_everything_of(db, "bob");
  const int64_t alice_rows = rows_of(db, "alice");
  ASSERT_GE(alice_rows, 6);
  EXPECT_GE(users->count_data("bob"), 6);

  EXPECT_THROW(users->remove_user("bob", false), Error);
  EXPECT_TRUE(users->get_user("bob"));
  EXPECT_TRUE(users->find_token(sha256_hex("bob-token")));

  const UserRemoval removed = users->remove_user("bob", true);
  EXPECT_EQ(removed.tokens, 1);
  EXPECT_GE(removed.data_rows, 6);
  EXPECT_FALSE(users->get_user("bob"));
  EXPECT_FALSE(users->find_token(sha256_hex("bob-token")));
  EXPECT_EQ(rows_of(db, "bob"), 0);
  EXPECT_EQ(users->count_data("bob"), 0);
  EXPECT_EQ(rows_of(db, "alice"), alice_rows);
  auto memories = open_sqlite_memory_store(db);
  EXPECT_TRUE(memories->load_embeddings("test-model", "bob").empty()) << "vectors go with their memories";
  EXPECT_EQ(memories->load_embeddings("test-model", "alice").size(), 1u);
  EXPECT_THROW(users->remove_user("bob", true), Error);
}

TEST(SqliteUserStore, MediaBelongsToTheUserWhoseMemoryNamesIt) {
  testing::TempDir dir;
  const auto db = dir / "memory.db";
  store_everything_of(db, "alice");
  auto memories = open_sqlite_memory_store(db);
  EXPECT_TRUE(memories->references_media("alice", "photo-of-alice.jpg"));
  EXPECT_FALSE(memories->references_media("bob", "photo-of-alice.jpg"));
  EXPECT_FALSE(memories->references_media("alice", "of-alice.jpg")) << "whole file names only";
  Memory journal;
  journal.user_id = "bob";
  journal.content = "A walk\n\n![photo](/data/media/abc123.jpg)";
  memories->add(journal);
  EXPECT_TRUE(memories->references_media("bob", "abc123.jpg"));
  EXPECT_FALSE(memories->references_media("alice", "abc123.jpg"));
}

}  // namespace
}  // namespace kioku
