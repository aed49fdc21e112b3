// Row-level security on PostgreSQL (issue 14): a statement with no user
// filter at all, on a pooled connection set for one user, sees and writes
// only that user's rows; the all-users scope sees everyone's; a connection
// that no call has set sees nothing. And every user-scoped table is covered,
// so a table a later migration adds cannot be forgotten.
// The test schema belongs to a role that is neither superuser nor
// BYPASSRLS (testing/postgres.h): the policies hold as in production.
#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "store/postgres/connection.h"
#include "store/postgres/postgres_store.h"
#include "testing/postgres.h"

namespace kioku {
namespace {

using pg::Scope;

class RowLevelSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    KIOKU_REQUIRE_PG(schema);
    auto memories = open_postgres_memory_store(schema.url(), clock);
    auto profile = open_postgres_profile_store(schema.url(), clock);
    auto users = open_postgres_user_store(schema.url(), clock);
    for (const std::string user : {"alice", "bob"}) {
      users->add_user(user, false);
      users->add_token(user, "hash-of-" + user, "");
      Memory m;
      m.user_id = user;
      m.content = "the diary of " + user;
      const std::string id = memories->add(m).id;
      memories->put_embeddings("model", {{id, {1.0f, 2.0f}}});
      CoreBlock b;
      b.label = "human";
      b.value = user;
      memories->core_memory().put_block(user, b, CoreBlockAuthor{}, std::nullopt);
      profile->put_emotion(user, {id, "joy", 0.5, 0.5, "lexicon", clock.now()});
      profile->put_conversation(user, {id, "", "cli", 1});
    }
  }
  int64_t count(pg::Connection& c, const std::string& table) {
    return c.exec("SELECT count(*) FROM " + table).integer(0, 0);
  }
  testing::PgSchema schema{"rls"};
  FakeTimeSource clock{*parse_iso8601("2026-03-01T10:00:00Z")};
};

TEST_F(RowLevelSecurity, AQueryWithoutAUserFilterSeesOnlyTheUserOfItsConnection) {
  auto pool = pg::shared_pool(schema.url());
  auto lease = pool->acquire();
  lease->set_scope(Scope::user("alice"));
  // No WHERE user_id anywhere: the policies alone decide.
  for (const std::string table : {"memories", "memory_embeddings", "core_blocks", "core_block_versions",
                                  "profile_emotions", "profile_conversations", "user_tokens", "users"})
    EXPECT_EQ(count(*lease, table), 1) << table;
  auto r = lease->exec("SELECT content FROM memories");
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.text(0, 0), "the diary of alice");
  EXPECT_EQ(lease->exec("SELECT count(*) FROM memories WHERE user_id = 'bob'").integer(0, 0), 0);
  EXPECT_EQ(lease->exec("SELECT count(*) FROM memory_fts f JOIN memories m ON m.id = f.memory_id").integer(0, 0), 1)
      << "search reads the full text through memories' policy";
  // Nor can it change or remove bob's rows, or write rows in bob's name.
  EXPECT_EQ(lease->exec("UPDATE memories SET content = 'overwritten'").affected(), 1);
  EXPECT_EQ(lease->exec("DELETE FROM profile_emotions").affected(), 1);
  EXPECT_THROW(lease->exec("INSERT INTO core_blocks(user_id, label, value, char_limit, version, updated_at) "
                           "VALUES ('bob', 'planted', 'x', 100, 1, 0)"),
               Error);

  lease->set_scope(Scope::all_users());
  EXPECT_EQ(count(*lease, "memories"), 2);
  EXPECT_EQ(count(*lease, "profile_emotions"), 1) << "alice's went, bob's stayed";
  EXPECT_EQ(lease->exec("SELECT count(*) FROM memories WHERE content = 'the diary of bob'").integer(0, 0), 1);
  EXPECT_EQ(count(*lease, "core_blocks"), 2);

  lease->set_scope(Scope::none());
  EXPECT_EQ(count(*lease, "memories"), 0);
  EXPECT_EQ(count(*lease, "user_tokens"), 0);
}

TEST_F(RowLevelSecurity, AFreshConnectionSeesNothingUntilACallSetsItsUser) {
  pg::Connection fresh(pg::parse_store_url(schema.url()).libpq_url);
  EXPECT_EQ(count(fresh, "memories"), 0);
  EXPECT_EQ(count(fresh, "users"), 0);
  EXPECT_EQ(count(fresh, "memory_embeddings"), 0);
  fresh.set_scope(Scope::user("bob"));
  EXPECT_EQ(count(fresh, "memories"), 1);
  // Inside a transaction the scope holds for the rest of it only; a rollback cannot leave it set.
  try {
    fresh.transaction([&] {
      fresh.set_scope(Scope::all_users());
      EXPECT_EQ(count(fresh, "memories"), 2);
      throw invalid_input("roll back");
    });
  } catch (const Error&) {
  }
  EXPECT_EQ(count(fresh, "memories"), 1);
  EXPECT_THROW(Scope::user(""), Error) << "no call runs for nobody by accident";
}

TEST_F(RowLevelSecurity, EveryUserScopedTableHasItsPolicyForced) {
  pg::Connection c(pg::parse_store_url(schema.url()).libpq_url);
  // Tables with a user_id column, or a memory_id / source_id that ties them to a memory.
  auto r = c.exec(
      "SELECT DISTINCT cl.relname, cl.relrowsecurity, cl.relforcerowsecurity FROM pg_class cl "
      "JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped "
      "WHERE cl.relnamespace = current_schema()::regnamespace AND cl.relkind = 'r' "
      "AND a.attname IN ('user_id', 'memory_id', 'source_id') ORDER BY 1");
  // Outside the policies, on purpose (docs/POSTGRES.md): the full-text index
  // table (no GIN index under row-level security) and the journal drafts
  // (their calls name a session, not a user).
  const std::set<std::string> exempt = {"memory_fts", "journal_sessions", "journal_entries"};
  int covered = 0;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string table = r.text(i, 0);
    if (exempt.count(table)) continue;
    EXPECT_TRUE(r.boolean(i, 1) && r.boolean(i, 2)) << table << " has no forced row-level security";
    ++covered;
  }
  EXPECT_GE(covered, 20);
  EXPECT_TRUE(c.exec("SELECT relforcerowsecurity FROM pg_class WHERE oid = 'users'::regclass").boolean(0, 0));
}

TEST_F(RowLevelSecurity, TheStoresStillServeEachUserTheirOwnRows) {
  auto memories = open_postgres_memory_store(schema.url(), clock);
  MemoryFilter f;
  f.user_id = "bob";
  EXPECT_EQ(memories->count(f), 1);
  auto hits = memories->search_text({"diary"}, f, 10);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(memories->get("bob", hits[0].id)->content, "the diary of bob");
  EXPECT_FALSE(memories->get("alice", hits[0].id));
  EXPECT_EQ(memories->load_embeddings("model", "alice").size(), 1u);
  EXPECT_EQ(memories->count_missing_embeddings("model"), 0) << "the embedding queue spans users";
  auto users = open_postgres_user_store(schema.url(), clock);
  EXPECT_EQ(users->find_token("hash-of-bob")->user_id, "bob");
  EXPECT_GE(users->count_data("bob"), 4);
}

}  // namespace
}  // namespace kioku
