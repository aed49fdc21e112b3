// UserStore (issue 14) on every backend: users, token hashes, and removing a
// user with or without its data, never touching another user's rows.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/hash.h"
#include "store/store_backends.h"

namespace kioku {
namespace {

class UserStoreTest : public testing::BackendTest {
 protected:
  // Rows of user in the tables the store_everything_of() fills, counted past the stores.
  int64_t rows_of(const std::string& user) {
    int64_t total = 0;
    for (const char* table : {"memories", "core_blocks", "core_block_versions", "jobs", "graph_entities", "graph_facts",
                              "profile_emotions", "profile_strategies", "profile_conversations"})
      total += GetParam().count_rows(dir, table, user);
    return total;
  }

  void store_everything_of(const std::string& user) {
    auto memories = GetParam().open_memory(dir, clock);
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
    auto jobs = GetParam().open_jobs(dir, clock);
    Job job;
    job.user_id = user;
    job.kind = "chat_reply";
    jobs->enqueue(job);
    auto knowledge = GetParam().open_knowledge(dir, clock);
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
    auto profile = GetParam().open_profile(dir, clock);
    profile->put_emotion(user, {id, "joy", 0.5, 0.5, "lexicon", clock.now()});
    profile->put_strategy(user, {"joy", "encourage", 0.6, 1, 1}, {"joy", "encourage", 0.5, 0.6, 1.0, "rating", id});
    profile->put_conversation(user, {id, "", "cli", 1});
  }
};

TEST_P(UserStoreTest, UsersAndTokenHashes) {
  auto users = GetParam().open_users(dir, clock);
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
  EXPECT_EQ(all[1].id, "local");
  EXPECT_TRUE(all[1].admin);
  EXPECT_EQ(all[1].created_at, clock.now());

  // Another process on the same store sees the same users and tokens.
  auto other = GetParam().open_users(dir, clock);
  ASSERT_TRUE(other->find_token(sha256_hex("token-one")));
  EXPECT_EQ(other->find_token(sha256_hex("token-one"))->user_id, "alice");
  EXPECT_EQ(users->revoke_tokens("alice"), 2);
  EXPECT_FALSE(other->find_token(sha256_hex("token-one")));
  EXPECT_EQ(other->get_user("alice")->tokens, 0);
}

TEST_P(UserStoreTest, RemovingAUserWithDataNeedsDeleteDataAndSparesOthers) {
  auto users = GetParam().open_users(dir, clock);
  users->add_user("alice", false);
  users->add_user("bob", false);
  users->add_token("bob", sha256_hex("bob-token"), "");
  store_everything_of("alice");
  store_everything_of("bob");
  const int64_t alice_rows = rows_of("alice");
  ASSERT_GE(alice_rows, 9);
  EXPECT_GE(users->count_data("bob"), 9);

  EXPECT_THROW(users->remove_user("bob", false), Error);
  EXPECT_TRUE(users->get_user("bob"));
  EXPECT_TRUE(users->find_token(sha256_hex("bob-token")));
  EXPECT_EQ(rows_of("bob"), alice_rows) << "a refused removal changes nothing";

  const UserRemoval removed = users->remove_user("bob", true);
  EXPECT_EQ(removed.tokens, 1);
  EXPECT_GE(removed.data_rows, 9);
  EXPECT_FALSE(users->get_user("bob"));
  EXPECT_FALSE(users->find_token(sha256_hex("bob-token")));
  EXPECT_EQ(rows_of("bob"), 0);
  EXPECT_EQ(users->count_data("bob"), 0);
  EXPECT_EQ(rows_of("alice"), alice_rows);
  auto memories = GetParam().open_memory(dir, clock);
  EXPECT_TRUE(memories->load_embeddings("test-model", "bob").empty()) << "vectors go with their memories";
  EXPECT_EQ(memories->load_embeddings("test-model", "alice").size(), 1u);
  EXPECT_EQ(GetParam().open_profile(dir, clock)->strategy_history("alice", "", 10).size(), 1u);
  EXPECT_THROW(users->remove_user("bob", true), Error);
}

TEST_P(UserStoreTest, MediaBelongsToTheUserWhoseMemoryNamesIt) {
  store_everything_of("alice");
  auto memories = GetParam().open_memory(dir, clock);
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

INSTANTIATE_TEST_SUITE_P(Backends, UserStoreTest, ::testing::ValuesIn(testing::store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kioku
