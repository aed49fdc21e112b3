// ProfileStore (seed 004: what the companion learns about each person) on
// every backend: everything learned survives a restart, stays per user, goes
// with the memory it belongs to, and can be erased part by part.
#include <gtest/gtest.h>

#include "core/error.h"
#include "store/store_backends.h"

namespace kioku {
namespace {

class ProfileStoreTest : public testing::BackendTest {
 protected:
  std::string message(const std::string& user, const std::string& text) {
    Memory m;
    m.user_id = user;
    m.type = "chat";
    m.content = text;
    m.event_time = clock.now();
    return memories->add(m).id;
  }
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    reopen();
  }
  // A restart: new store objects (new connections) on the same database.
  void reopen() {
    profile.reset();
    memories.reset();
    memories = GetParam().open_memory(dir, clock);
    profile = GetParam().open_profile(dir, clock);
  }
  std::unique_ptr<MemoryStore> memories;
  std::unique_ptr<ProfileStore> profile;
};

TEST_P(ProfileStoreTest, EverythingLearnedSurvivesAReopenAndStaysPerUser) {
  const std::string msg = message("ann", "I'm sad");
  const std::string note = message("ann", "a note");
  profile->put_emotion("ann", {msg, "sadness", 0.7, -0.5, "lexicon", clock.now()});
  StrategyWeight w{"sadness", "listen_reflect", 0.72, 1, 1};
  profile->put_strategy("ann", w, {"sadness", "listen_reflect", 0.6, 0.72, 1.0, "rating", msg});
  profile->add_pattern_counts("ann", {{"tag", "family", 1, 2, 0, 0}});
  profile->add_pattern_counts("ann", {{"tag", "family", 1, 0, 1, 5}});
  profile->put_prediction("ann", {note, 0.5, 0.64, R"([{"kind":"tag","value":"family"}])"});
  profile->put_conversation("ann", {msg, "", "cli", 1});
  // Another user's message cannot be given a reading by this one.
  const std::string bens = message("ben", "hello");
  EXPECT_THROW(profile->put_emotion("ann", {bens, "joy", 0.5, 0.4, "lexicon"}), Error);

  reopen();  // a restart

  auto e = profile->emotion("ann", msg);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->emotion, "sadness");
  EXPECT_DOUBLE_EQ(e->intensity, 0.7);
  auto strategies = profile->strategies("ann");
  ASSERT_EQ(strategies.size(), 1u);
  EXPECT_DOUBLE_EQ(strategies[0].weight, 0.72);
  auto history = profile->strategy_history("ann", "", 10);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].reason, "rating");
  EXPECT_DOUBLE_EQ(history[0].weight_before, 0.6);
  auto patterns = profile->patterns("ann");
  ASSERT_EQ(patterns.size(), 1u);
  EXPECT_EQ(patterns[0].searched, 2);
  EXPECT_EQ(patterns[0].used, 2);
  EXPECT_EQ(patterns[0].rated, 1);
  EXPECT_DOUBLE_EQ(patterns[0].rating_sum, 5);
  ASSERT_TRUE(profile->prediction("ann", note));
  EXPECT_DOUBLE_EQ(profile->prediction("ann", note)->predicted, 0.64);
  ASSERT_TRUE(profile->conversation("ann"));
  EXPECT_EQ(profile->conversation("ann")->channel, "cli");

  // Nothing of ann's is ben's.
  EXPECT_TRUE(profile->emotions("ben", 10).empty());
  EXPECT_TRUE(profile->strategies("ben").empty());
  EXPECT_TRUE(profile->patterns("ben").empty());
  EXPECT_FALSE(profile->prediction("ben", note));
  EXPECT_FALSE(profile->conversation("ben"));

  // Deleting a memory takes its reading and prediction with it.
  memories->remove("ann", note);
  EXPECT_FALSE(profile->prediction("ann", note));
  memories->remove("ann", msg);
  EXPECT_FALSE(profile->emotion("ann", msg));

  // Erasing parts; a strategy goes with its history.
  EXPECT_TRUE(profile->remove_strategy("ann", "", "listen_reflect"));
  EXPECT_TRUE(profile->strategy_history("ann", "", 10).empty());
  profile->erase("ann", "all");
  EXPECT_TRUE(profile->patterns("ann").empty());
  EXPECT_FALSE(profile->conversation("ann"));
  EXPECT_THROW(profile->erase("ann", "everything"), Error);
}

TEST_P(ProfileStoreTest, OrdersCorrectionsAndErasingOnePartAtATime) {
  const std::string first = message("ann", "fine");
  clock.advance(std::chrono::minutes(1));
  const std::string second = message("ann", "worried");
  profile->put_emotion("ann", {first, "neutral", 0.2, 0, "lexicon", clock.now() - std::chrono::minutes(1)});
  profile->put_emotion("ann", {second, "anxiety", 0.6, -0.4, "llm", clock.now()});
  profile->put_emotion("ann", {second, "sadness", 0.9, -0.7, "user", clock.now()});  // a correction replaces it
  auto readings = profile->emotions("ann", 10);
  ASSERT_EQ(readings.size(), 2u);
  EXPECT_EQ(readings[0].message_id, second) << "newest first";
  EXPECT_EQ(readings[0].emotion, "sadness");
  EXPECT_EQ(readings[0].detector, "user");
  EXPECT_EQ(profile->emotions("ann", 1).size(), 1u);
  EXPECT_TRUE(profile->remove_emotion("ann", first));
  EXPECT_FALSE(profile->remove_emotion("ann", first));
  EXPECT_FALSE(profile->remove_emotion("ben", second)) << "not ben's to remove";

  profile->put_strategy("ann", {"sadness", "humour", 0.3, 2, 0},
                        {"sadness", "humour", 0.5, 0.3, 0.1, "feedback", second});
  profile->put_strategy("ann", {"sadness", "encourage", 0.8, 1, 1},
                        {"sadness", "encourage", 0.5, 0.8, 1, "rating", second});
  profile->put_strategy("ann", {"anxiety", "practical_steps", 0.6, 1, 1},
                        {"anxiety", "practical_steps", 0.5, 0.6, 0.9, "next_message", ""});
  const auto strategies = profile->strategies("ann");
  ASSERT_EQ(strategies.size(), 3u);
  EXPECT_EQ(strategies[0].emotion, "anxiety");
  EXPECT_EQ(strategies[1].strategy, "encourage") << "by emotion, then the best first";
  EXPECT_EQ(strategies[2].strategy, "humour");
  EXPECT_EQ(strategies[2].uses, 2);
  EXPECT_EQ(profile->strategy_history("ann", "humour", 10).size(), 1u);
  const auto history = profile->strategy_history("ann", "", 2);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].strategy, "practical_steps") << "newest first";
  EXPECT_EQ(history[1].reason, "rating");

  profile->add_pattern_counts("ann",
                              {{"type", "chat", 3, 0, 0, 0}, {"tag", "work", 0, 1, 2, 7}, {"", "skipped", 1, 1, 1, 1}});
  profile->put_pattern("ann", {"tag", "work", 9, 9, 1, 4});
  const auto patterns = profile->patterns("ann");
  ASSERT_EQ(patterns.size(), 2u);
  EXPECT_EQ(patterns[0].kind, "tag");
  EXPECT_EQ(patterns[0].searched, 9) << "a correction replaces the counts";
  EXPECT_DOUBLE_EQ(patterns[0].rating_sum, 4);
  EXPECT_EQ(patterns[1].searched, 3);
  EXPECT_TRUE(profile->remove_pattern("ann", "type", "chat"));
  EXPECT_FALSE(profile->remove_pattern("ann", "type", "chat"));
  EXPECT_THROW(profile->put_prediction("ann", {"no-such-memory", 0.5, 0.6, "[]"}), Error);

  profile->put_conversation("ann", {second, "", "web", 2});
  profile->put_conversation("ann", {second, "reply-1", "telegram", 3});
  EXPECT_EQ(profile->conversation("ann")->channel, "telegram");
  EXPECT_EQ(profile->conversation("ann")->turns, 3);

  profile->erase("ann", "emotions");
  EXPECT_TRUE(profile->emotions("ann", 10).empty());
  EXPECT_EQ(profile->strategies("ann").size(), 3u) << "only the part asked for";
  profile->erase("ann", "strategies");
  EXPECT_TRUE(profile->strategies("ann").empty());
  EXPECT_TRUE(profile->strategy_history("ann", "", 10).empty());
  EXPECT_EQ(profile->patterns("ann").size(), 1u);
  profile->erase("ann", "patterns");
  EXPECT_TRUE(profile->patterns("ann").empty());
  EXPECT_TRUE(profile->conversation("ann"));
  profile->erase("ann", "conversation");
  EXPECT_FALSE(profile->conversation("ann"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ProfileStoreTest, ::testing::ValuesIn(testing::store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kioku
