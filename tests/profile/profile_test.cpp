#include <gtest/gtest.h>

#include "companion/companion_service.h"
#include "core/error.h"
#include "llm/fake_llm_server.h"
#include "profile/learning_buffer.h"
#include "profile/profile_service.h"
#include "store/profile.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

// --- The lexicon classifier ---

TEST(EmotionLexicon, ReadsEmotionsWithNegationIntensifiersAndEmoticons) {
  EXPECT_EQ(classify_text("I'm sad today").emotion, "sadness");
  EXPECT_GT(classify_text("I'm so very sad today").intensity, classify_text("I'm sad today").intensity);
  EXPECT_EQ(classify_text("I am not happy with how it went").emotion, "sadness");
  EXPECT_EQ(classify_text("I'm not worried at all").emotion, "neutral");
  EXPECT_EQ(classify_text("I'm really anxious about the exam tomorrow").emotion, "anxiety");
  EXPECT_EQ(classify_text("Thank you so much, I'm grateful").emotion, "gratitude");
  EXPECT_EQ(classify_text("We got the flat!!! So excited").emotion, "joy");
  EXPECT_EQ(classify_text("I feel so lonely since I moved").emotion, "loneliness");
  EXPECT_EQ(classify_text("This is unfair and I'm furious").emotion, "anger");
  EXPECT_EQ(classify_text("The meeting is at three in room 4").emotion, "neutral");
  EXPECT_EQ(classify_text("The meeting is at three in room 4").intensity, 0);
  EXPECT_EQ(classify_text("rough day :(").emotion, "sadness");
  EXPECT_EQ(classify_text("I’m not happy").emotion, "sadness");  // typographic apostrophe
  // Shouting and exclamation marks make it stronger.
  EXPECT_GT(classify_text("I AM SO ANGRY!!!").intensity, classify_text("i am so angry").intensity);
  EXPECT_LT(classify_text("I'm sad").valence, 0);
  EXPECT_GT(classify_text("I'm happy").valence, 0);
}

TEST(EmotionLexicon, RecognisesFeedbackAndRequestsForSupport) {
  EXPECT_EQ(classify_text("Thanks, that helped a lot").feedback, 1);
  EXPECT_EQ(classify_text("that's not funny").feedback, -1);
  EXPECT_EQ(classify_text("Honestly that didn't help").feedback, -1);
  EXPECT_EQ(classify_text("I went to the shop").feedback, 0);
  EXPECT_EQ(classify_text("I just need to vent for a minute").asked_strategy, "listen_reflect");
  EXPECT_EQ(classify_text("What should I do about my landlord?").asked_strategy, "practical_steps");
  EXPECT_EQ(classify_text("please cheer me up").asked_strategy, "humour");
  EXPECT_EQ(classify_text("I went to the shop").asked_strategy, "");
}

// --- The learning rules ---

TEST(LearningRules, StrategyWeightsMoveTowardOutcomesAndTheBestIsChosen) {
  EXPECT_DOUBLE_EQ(outcome_from_rating(5), 1.0);
  EXPECT_DOUBLE_EQ(outcome_from_rating(1), 0.0);
  EXPECT_DOUBLE_EQ(outcome_from_rating(3), 0.5);
  EXPECT_GT(outcome_from_next_message(-0.6, 0.5), 0.9);
  EXPECT_LT(outcome_from_next_message(-0.2, -0.8), 0.5);

  StrategyWeight w{"sadness", "humour", 0.4};
  w = learn_strategy(w, 1.0, learning_rates::kRating);
  EXPECT_NEAR(w.weight, 0.4 + 0.3 * 0.6, 1e-9);
  EXPECT_EQ(w.uses, 1);
  EXPECT_EQ(w.successes, 1);
  w = learn_strategy(w, 0.0, learning_rates::kFeedback);
  EXPECT_LT(w.weight, 0.4);
  EXPECT_EQ(w.successes, 1);

  // Priors first: listening for sadness; learning overrides them.
  EXPECT_EQ(choose_strategy("sadness", {}).strategy, "listen_reflect");
  std::vector<StrategyWeight> learned = {{"sadness", "humour", 0.9, 3, 3}, {"anger", "practical_steps", 0.95, 2, 2}};
  EXPECT_EQ(choose_strategy("sadness", learned).strategy, "humour");
  const auto ranked = ranked_strategies("sadness", learned);
  EXPECT_EQ(ranked.size(), support_strategies().size());
  EXPECT_EQ(ranked.front().strategy, "humour");
  EXPECT_EQ(ranked.front().uses, 3);
}

TEST(LearningRules, ImportanceIsPredictedFromPatternsAndExplained) {
  Memory m;
  m.type = "note";
  m.content = "Hana's piano recital is on Friday";
  m.tags = {"family"};
  m.entities = {"Hana"};
  // Nothing learned: the given importance stands, with no factors.
  auto p = predict_importance({}, m);
  EXPECT_DOUBLE_EQ(p.predicted, 0.5);
  EXPECT_EQ(p.factors_json, "[]");

  std::vector<ImportancePattern> patterns = {{"tag", "family", 4, 6, 2, 10.0}, {"entity", "Hana", 2, 3, 0, 0}};
  p = predict_importance(index_patterns(patterns), m);
  EXPECT_GT(p.predicted, 0.6);
  EXPECT_LE(p.predicted, 0.95);
  const auto lines = explain_prediction(p);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("tag 'family'"), std::string::npos) << lines[0];  // strongest first
  EXPECT_NE(lines[0].find("2 rated replies averaging 5.0"), std::string::npos) << lines[0];

  // Memories like this were rated badly: lower than given.
  std::vector<ImportancePattern> disliked = {{"tag", "family", 0, 0, 4, 4.0}};
  EXPECT_LT(predict_importance(index_patterns(disliked), m).predicted, 0.5);
  EXPECT_LT(pattern_affinity(disliked[0]), 0);
}

// --- Deferred learning (the SQLite ProfileStore) ---

class LearningBufferTest : public ::testing::Test {
 protected:
  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2026-03-01T10:00:00Z")};
  std::unique_ptr<MemoryStore> memories = open_sqlite_memory_store(dir / "memory.db", clock);
  std::unique_ptr<ProfileStore> profile = open_sqlite_profile_store(dir / "memory.db", clock);
};

// The learning signals of searches and adds are gathered and written in one
// transaction per user (src/profile/learning_buffer.h): none is lost or
// counted twice, and a prediction for a memory deleted meanwhile is dropped.
TEST_F(LearningBufferTest, DeferredLearningIsWrittenOnceByTheFlush) {
  auto buffer = std::make_shared<LearningBuffer>();
  ProfileService service(*profile, *memories, nullptr, nullptr, clock);
  service.defer_learning(buffer);
  Memory family;
  family.user_id = "ann";
  family.content = "Hana's piano recital is on Friday";
  family.tags = {"family"};
  family.id = memories->add(family).id;
  service.note_search("ann", "piano recital", {family});
  service.note_search("ann", "recital time", {family});
  service.note_opened("ann", family);
  Memory kept = family, gone = family;
  kept.id.clear();
  gone.id.clear();
  kept.content = "Hana starts school in April";
  gone.content = "A memory deleted before the flush";
  const auto p_kept = service.apply_prediction("ann", kept);
  const auto p_gone = service.apply_prediction("ann", gone);
  kept.id = memories->add(kept).id;
  gone.id = memories->add(gone).id;
  service.record_prediction("ann", kept.id, p_kept);
  service.record_prediction("ann", gone.id, p_gone);
  memories->remove("ann", gone.id);
  EXPECT_TRUE(profile->patterns("ann").empty()) << "nothing is written before the flush";
  EXPECT_FALSE(profile->prediction("ann", kept.id));

  EXPECT_GT(service.flush_learning(), 0u);
  EXPECT_TRUE(buffer->empty());
  auto index = index_patterns(profile->patterns("ann"));
  EXPECT_EQ((index[{"tag", "family"}].searched), 2);
  EXPECT_EQ((index[{"tag", "family"}].used), 1);
  // The same signals written at once give the same counts.
  ProfileService direct(*profile, *memories, nullptr, nullptr, clock);
  Memory bens = family;
  bens.id.clear();
  bens.user_id = "ben";
  bens.id = memories->add(bens).id;
  direct.note_search("ben", "piano recital", {bens});
  direct.note_search("ben", "recital time", {bens});
  direct.note_opened("ben", bens);
  const auto ann_patterns = profile->patterns("ann"), ben_patterns = profile->patterns("ben");
  ASSERT_EQ(ann_patterns.size(), ben_patterns.size());
  for (size_t i = 0; i < ann_patterns.size(); ++i) {
    EXPECT_EQ(ann_patterns[i].value, ben_patterns[i].value);
    EXPECT_EQ(ann_patterns[i].searched, ben_patterns[i].searched);
    EXPECT_EQ(ann_patterns[i].used, ben_patterns[i].used);
  }
  EXPECT_TRUE(profile->prediction("ann", kept.id));
  EXPECT_FALSE(profile->prediction("ann", gone.id));
  EXPECT_EQ(service.flush_learning(), 0u) << "a second flush writes nothing again";
  EXPECT_EQ((index_patterns(profile->patterns("ann"))[{"tag", "family"}].searched), 2);
}

// The ProfileStore itself (both backends, across a reopen): tests/store/profile_store_test.cpp.

// --- Chat turns with the profile ---

// The loopback model: emotion requests get `emotion_answer`, chat requests a reply.
std::string model_reply(const nlohmann::json& request, const std::string& emotion_answer) {
  const std::string system = request["messages"][0].value("content", std::string());
  if (system.find("You read the emotion") != std::string::npos) return emotion_answer;
  return "reply to: " + request["messages"].back().value("content", std::string());
}

bool is_emotion_request(const nlohmann::json& request) {
  return request["messages"][0].value("content", std::string()).find("You read the emotion") != std::string::npos;
}

class ProfileTurnTest : public ::testing::Test {
 protected:
  void open(LlmClient* llm) {
    memories = open_sqlite_memory_store(dir / "memory.db", clock);
    jobs = open_sqlite_job_store(dir / "memory.db", clock);
    profile_store = open_sqlite_profile_store(dir / "memory.db", clock);
    searcher = std::make_unique<Searcher>(*memories, nullptr, clock);
    cache = std::make_shared<ConversationCache>();
    profile = std::make_unique<ProfileService>(*profile_store, *memories, llm, cache, clock);
    companion = std::make_unique<CompanionService>(*memories, *jobs, *searcher, llm, default_persona(),
                                                   CompanionOptions{}, clock);
    companion->set_profile(profile.get());
  }
  // A process exit: everything in memory goes, the files stay.
  void close() {
    companion.reset();
    profile.reset();
    cache.reset();
    searcher.reset();
    profile_store.reset();
    jobs.reset();
    memories.reset();
  }
  std::unique_ptr<LlmClient> client_for(testing::FakeLlmServer& server) {
    LlmConfig c;
    c.provider = "openai";
    c.url = server.url();
    c.model = "test-model";
    c.max_retries = 0;
    c.backoff_s = 0.01;
    c.timeout_s = 5;
    return make_llm_client(c);
  }
  ChatTurnResult say(const std::string& text) {
    clock.advance(std::chrono::minutes(1));
    return companion->chat("local", text);
  }
  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2026-03-01T10:00:00Z")};
  std::unique_ptr<MemoryStore> memories;
  std::unique_ptr<JobStore> jobs;
  std::unique_ptr<ProfileStore> profile_store;
  std::unique_ptr<Searcher> searcher;
  std::shared_ptr<ConversationCache> cache;
  std::unique_ptr<ProfileService> profile;
  std::unique_ptr<CompanionService> companion;
};

TEST_F(ProfileTurnTest, TheLlmReadsTheEmotionAndThePromptGetsStateAndStrategy) {
  testing::FakeLlmServer server(
      [](const nlohmann::json& r) { return model_reply(r, R"(Sure: {"emotion": "loneliness", "intensity": 0.8})"); });
  auto llm = client_for(server);
  open(llm.get());
  const auto r = say("Everyone went home for the holidays");  // no lexicon word: only the model sees it
  ASSERT_FALSE(r.queued);
  auto reading = profile_store->emotion("local", r.user_memory_id);
  ASSERT_TRUE(reading);
  EXPECT_EQ(reading->emotion, "loneliness");
  EXPECT_EQ(reading->detector, "llm");
  EXPECT_DOUBLE_EQ(reading->intensity, 0.8);
  const std::string prompt = server.last_prompt();
  EXPECT_NE(prompt.find("## How the user feels"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("Now: loneliness (intensity 0.80)"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("This reply: listen and reflect"), std::string::npos) << prompt;
  auto reply = memories->get("local", r.reply_memory_id);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->metadata["support"]["strategy"], "listen_reflect");
  EXPECT_EQ(reply->metadata["support"]["emotion"], "loneliness");
}

TEST_F(ProfileTurnTest, AMisbehavingModelFallsBackToTheLexiconAndLosesNothing) {
  std::atomic<int> emotion_calls{0};
  testing::FakeLlmServer server([&](const nlohmann::json& r) {
    if (is_emotion_request(r)) {
      ++emotion_calls;
      return std::string(emotion_calls == 1 ? "I'd say they are a bit sad?"
                                            : R"({"emotion": "bored", "intensity": "lots"})");
    }
    return model_reply(r, "");
  });
  auto llm = client_for(server);
  open(llm.get());
  auto r = say("I'm so sad, my exam went terribly");
  ASSERT_FALSE(r.queued);
  auto reading = profile_store->emotion("local", r.user_memory_id);
  ASSERT_TRUE(reading);
  EXPECT_EQ(reading->detector, "lexicon");  // prose instead of JSON
  EXPECT_EQ(reading->emotion, "sadness");
  r = say("I'm really anxious now");
  reading = profile_store->emotion("local", r.user_memory_id);
  ASSERT_TRUE(reading);
  EXPECT_EQ(reading->detector, "lexicon");  // an unknown emotion and a non-number
  EXPECT_EQ(reading->emotion, "anxiety");
  // A 500 on the emotion call: the lexicon reads it, the turn is answered.
  server.fail_next = 1;
  r = say("I'm worried about tomorrow");
  EXPECT_FALSE(r.queued);
  EXPECT_EQ(r.reply, "reply to: I'm worried about tomorrow");
  ASSERT_TRUE(profile_store->emotion("local", r.user_memory_id));
  EXPECT_EQ(profile_store->emotion("local", r.user_memory_id)->detector, "lexicon");
}

TEST_F(ProfileTurnTest, StrategiesAreLearnedFromFeedbackRatingsAndTheNextMessageWithHistory) {
  testing::FakeLlmServer server([](const nlohmann::json& r) { return model_reply(r, "no json"); });
  auto llm = client_for(server);
  open(llm.get());
  say("I feel so lonely since I moved");  // listen_reflect (the prior for loneliness)
  say("Thanks, that helped");             // explicit feedback: listen_reflect worked
  auto learned = profile_store->strategies("local");
  ASSERT_EQ(learned.size(), 1u);
  EXPECT_EQ(learned[0].emotion, "loneliness");
  EXPECT_EQ(learned[0].strategy, "listen_reflect");
  EXPECT_NEAR(learned[0].weight, 0.6 + 0.35 * 0.4, 1e-9);

  say("I'm sad again today");              // sadness: listen_reflect
  companion->rate_last_reply("local", 1);  // it did not help
  companion->rate_last_reply("local", 2);  // a second rating of the same reply teaches no more
  auto history = profile_store->strategy_history("local", "listen_reflect", 10);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].reason, "rating");
  EXPECT_EQ(history[0].emotion, "sadness");
  EXPECT_LT(history[0].weight_after, history[0].weight_before);
  EXPECT_EQ(history[1].reason, "feedback");

  // The user's mood after the reply: worse, so it counts against it.
  say("I'm sad and now I'm crying, it's hopeless");
  history = profile_store->strategy_history("local", "", 10);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].reason, "next_message");
  EXPECT_LT(history[0].outcome, 0.5);

  // Asking for a kind of support is followed and learned.
  const auto r = say("I'm sad, please cheer me up");
  EXPECT_EQ(memories->get("local", r.reply_memory_id)->metadata["support"]["strategy"], "humour");
  bool asked = false;
  for (const auto& c : profile_store->strategy_history("local", "humour", 10)) asked |= c.reason == "asked";
  EXPECT_TRUE(asked);

  // The document shows it all, with each weight's history.
  const auto doc = profile->document("local");
  EXPECT_EQ(doc["emotions"]["current"]["emotion"], "sadness");
  EXPECT_GE(doc["strategies"].size(), 3u);
  for (const auto& s : doc["strategies"]) EXPECT_FALSE(s["history"].empty());
  EXPECT_EQ(doc["conversation"]["turns"], 5);
}

TEST_F(ProfileTurnTest, ImportancePatternsComeFromUseAndRatingsAndPredictNewMemories) {
  testing::FakeLlmServer server([](const nlohmann::json& r) { return model_reply(r, "{}"); });
  auto llm = client_for(server);
  open(llm.get());
  Memory family;
  family.content = "Hana's piano recital is on Friday evening";
  family.tags = {"family"};
  family.event_time = clock.now() - std::chrono::hours(24 * 40);
  family.id = memories->add(family).id;
  say("When is the piano recital?");  // the context uses the family memory
  companion->rate_last_reply("local", 5);
  profile->note_search("local", "piano recital", {*memories->get("local", family.id)});
  auto index = index_patterns(profile_store->patterns("local"));
  const std::pair<std::string, std::string> key{"tag", "family"};
  ASSERT_TRUE(index.count(key));
  EXPECT_EQ(index[key].used, 1);
  EXPECT_EQ(index[key].rated, 1);
  EXPECT_EQ(index[key].searched, 1);
  EXPECT_TRUE(index.count({"topic", "piano"}));

  Memory next;
  next.content = "Hana starts a new school in April";
  next.tags = {"family"};
  const auto p = profile->apply_prediction("local", next);
  EXPECT_GT(next.importance, 0.5);
  next.id = memories->add(next).id;
  profile->record_prediction("local", next.id, p);
  const auto why = profile->explain_importance("local", next);
  EXPECT_TRUE(why.stored);
  bool explained = false;
  for (const auto& line : why.lines) explained |= line.find("tag 'family'") != std::string::npos;
  EXPECT_TRUE(explained);

  // Forgetting the pattern: a new memory like it is predicted as given.
  EXPECT_TRUE(profile->forget_pattern("local", "tag", "family"));
  profile->erase("local", "patterns");
  Memory later;
  later.content = "Hana's birthday";
  later.tags = {"family"};
  EXPECT_DOUBLE_EQ(profile->predict("local", later).predicted, 0.5);
}

TEST_F(ProfileTurnTest, AConversationResumesAfterARestartAndSeesOtherDevicesTurns) {
  testing::FakeLlmServer server([](const nlohmann::json& r) { return model_reply(r, "{}"); });
  auto llm = client_for(server);
  open(llm.get());
  say("My sister Hana visits on Saturday");
  say("I'm nervous about cooking for her");
  EXPECT_GE(cache->stats().hits, 1u);  // the second turn read the first from the cache
  close();                             // restart: the cache is gone, the database stays

  open(llm.get());
  auto state = profile_store->conversation("local");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->turns, 2);
  EXPECT_FALSE(state->last_reply_id.empty());
  say("What should I cook?");
  auto chat = server.requests().back();
  ASSERT_FALSE(is_emotion_request(chat));
  auto msgs = chat["messages"];
  ASSERT_EQ(msgs.size(), 6u);  // system, 2 earlier turns (user + reply each), the new message
  EXPECT_EQ(msgs[1]["content"], "My sister Hana visits on Saturday");
  EXPECT_EQ(msgs[4]["content"], "reply to: I'm nervous about cooking for her");
  EXPECT_EQ(cache->stats().misses, 1u);  // the first read after the restart filled the cache

  // Another device (a Telegram bot on the same data) adds a turn through its
  // own connection: the cache notices and the next turn sees it.
  {
    auto other = open_sqlite_memory_store(dir / "memory.db", clock);
    clock.advance(std::chrono::minutes(1));
    Memory m;
    m.type = "chat";
    m.content = "Telegram: maybe pasta";
    m.event_time = clock.now();
    m.metadata = {{"role", "user"}};
    other->add(m);
  }
  say("Or risotto?");
  msgs = server.requests().back()["messages"];
  bool seen = false;
  for (const auto& m : msgs) seen |= m.value("content", std::string()) == "Telegram: maybe pasta";
  EXPECT_TRUE(seen);
  EXPECT_EQ(profile_store->conversation("local")->turns, 4);
}

TEST_F(ProfileTurnTest, WithoutAModelTheLexiconReadsEveryMessageAndTheTurnIsQueued) {
  open(nullptr);
  const auto r = say("I'm so stressed about the deadline");
  EXPECT_TRUE(r.queued);
  auto reading = profile_store->emotion("local", r.user_memory_id);
  ASSERT_TRUE(reading);
  EXPECT_EQ(reading->emotion, "anxiety");
  EXPECT_EQ(reading->detector, "lexicon");
  // Corrections: the user says what they felt.
  profile->correct_emotion("local", r.user_memory_id, "anger", 0.9);
  EXPECT_EQ(profile_store->emotion("local", r.user_memory_id)->detector, "user");
  EXPECT_THROW(profile->correct_emotion("local", r.user_memory_id, "meh", 0.5), Error);
  EXPECT_THROW(profile->set_strategy_weight("local", "sadness", "shout", 0.5), Error);
  profile->set_strategy_weight("local", "anger", "practical_steps", 0.9);
  EXPECT_EQ(choose_strategy("anger", profile_store->strategies("local")).strategy, "practical_steps");
  EXPECT_EQ(profile_store->strategy_history("local", "practical_steps", 5).at(0).reason, "correction");
}

}  // namespace
}  // namespace kioku
