#include <gtest/gtest.h>

#include <fstream>

#include "companion/companion_service.h"
#include "companion/context_export.h"
#include "core/error.h"
#include "llm/fake_llm_server.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

class CompanionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store = open_sqlite_memory_store(dir / "memory.db", clock);
    jobs = open_sqlite_job_store(dir / "memory.db", clock);
    searcher = std::make_unique<Searcher>(*store, nullptr, clock);
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
  std::string remember(const std::string& text, Tier tier = Tier::kShortTerm, MemoryKind kind = MemoryKind::kContext) {
    Memory m;
    m.content = text;
    m.tier = tier;
    m.memory_kind = kind;
    m.event_time = clock.now() - std::chrono::hours(24 * 30);
    return store->add(m).id;
  }
  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2025-03-01T10:00:00Z")};
  std::unique_ptr<MemoryStore> store;
  std::unique_ptr<JobStore> jobs;
  std::unique_ptr<Searcher> searcher;
};

TEST_F(CompanionTest, ATurnPutsTheRightMemoriesInThePromptAndStoresBothSides) {
  const std::string cat = remember("My cat is called Miso and she loves boxes");
  remember("I work as a nurse at the city hospital");
  testing::FakeLlmServer server([](const nlohmann::json&) { return "Miso! Has she found a new box?"; });
  auto llm = client_for(server);
  CompanionService companion(*store, *jobs, *searcher, llm.get(), default_persona(), {}, clock);
  std::string streamed;
  std::function<void(std::string_view)> on_delta = [&](std::string_view d) { streamed += d; };
  ChatTurnResult r = companion.chat("local", "What is my cat called again?", &on_delta);
  EXPECT_FALSE(r.queued);
  EXPECT_EQ(r.reply, "Miso! Has she found a new box?");
  EXPECT_EQ(streamed, r.reply);
  const std::string prompt = server.last_prompt();
  EXPECT_NE(prompt.find("My cat is called Miso"), std::string::npos);
  EXPECT_NE(prompt.find("You are Senko"), std::string::npos);
  EXPECT_NE(prompt.find("What is my cat called again?"), std::string::npos);
  EXPECT_NE(std::find(r.used_memory_ids.begin(), r.used_memory_ids.end(), cat), r.used_memory_ids.end());
  EXPECT_EQ(store->get("local", cat)->access_count, 1);
  auto user_msg = store->get("local", r.user_memory_id);
  auto reply = store->get("local", r.reply_memory_id);
  ASSERT_TRUE(user_msg && reply);
  EXPECT_EQ(user_msg->type, "chat");
  EXPECT_EQ(user_msg->metadata["role"], "user");
  EXPECT_EQ(reply->metadata["role"], "assistant");
  EXPECT_EQ(reply->metadata["in_reply_to"], r.user_memory_id);
  EXPECT_FALSE(reply->metadata["used_memory_ids"].empty());
  // The next turn carries the history as messages.
  clock.advance(std::chrono::minutes(1));
  companion.chat("local", "And what do I do for work?");
  const nlohmann::json msgs = server.requests().back()["messages"];
  ASSERT_EQ(msgs.size(), 4u);  // system, previous user, previous reply, new message
  EXPECT_EQ(msgs[1]["content"], "What is my cat called again?");
  EXPECT_EQ(msgs[2]["role"], "assistant");
}

TEST_F(CompanionTest, NothingIsLostWhenTheProviderIsDown) {
  testing::FakeLlmServer server;
  server.down = true;
  auto llm = client_for(server);
  CompanionService companion(*store, *jobs, *searcher, llm.get(), default_persona(), {}, clock);
  ChatTurnResult r = companion.chat("local", "Remember to buy oat milk");
  EXPECT_TRUE(r.queued);
  EXPECT_NE(r.notice.find("saved"), std::string::npos);
  ASSERT_TRUE(store->get("local", r.user_memory_id));
  EXPECT_EQ(jobs->count_open("local"), 1);
  // Still down: the task is rescheduled, nothing answered.
  auto attempt = companion.run_queue();
  EXPECT_EQ(attempt.done, 0);
  EXPECT_EQ(jobs->count_open("local"), 1);
  // Back up, and the retry time has come.
  server.down = false;
  clock.advance(std::chrono::hours(2));
  auto run = companion.run_queue();
  EXPECT_EQ(run.done, 1);
  EXPECT_EQ(jobs->count_open("local"), 0);
  MemoryFilter chats;
  chats.types = {"chat"};
  auto all = store->list(chats, ListOrder::kOldestFirst, 10, 0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].content, "echo: Remember to buy oat milk");
  // A stale duplicate task does not produce a second reply.
  Job dup;
  dup.kind = "chat_reply";
  dup.payload = {{"memory_id", r.user_memory_id}};
  jobs->enqueue(dup);
  companion.run_queue();
  EXPECT_EQ(store->list(chats, ListOrder::kOldestFirst, 10, 0).size(), 2u);
}

TEST_F(CompanionTest, AReplayedIncomingMessageIsStoredOnceAndAnsweredOnce) {
  testing::FakeLlmServer server;
  auto llm = client_for(server);
  CompanionService companion(*store, *jobs, *searcher, llm.get(), default_persona(), {}, clock);
  const CompanionService::IncomingMessage update{"telegram:42:7", clock.now() - std::chrono::seconds(3)};
  ChatTurnResult first = companion.chat_incoming("local", "Is the bakery open on Sundays?", update);
  ASSERT_FALSE(first.queued);
  // The same update again (a restart before the bot noted it handled).
  clock.advance(std::chrono::minutes(1));
  ChatTurnResult again = companion.chat_incoming("local", "Is the bakery open on Sundays?", update);
  EXPECT_EQ(again.user_memory_id, first.user_memory_id);
  EXPECT_EQ(again.reply_memory_id, first.reply_memory_id);
  EXPECT_EQ(again.reply, first.reply);
  EXPECT_EQ(server.requests().size(), 1u);
  MemoryFilter chats;
  chats.types = {"chat"};
  EXPECT_EQ(store->count(chats), 2);
  // The same words in a new message are a new turn.
  companion.chat_incoming("local", "Is the bakery open on Sundays?", {"telegram:42:8", clock.now()});
  EXPECT_EQ(store->count(chats), 4);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(CompanionTest, AReplayedMessageThatWasQueuedIsAnsweredWhenTheModelIsBack) {
  testing::FakeLlmServer server;
  server.down = true;
  auto llm = client_for(server);
  CompanionService companion(*store, *jobs, *searcher, llm.get(), default_persona(), {}, clock);
  const CompanionService::IncomingMessage update{"telegram:42:9", clock.now()};
  EXPECT_TRUE(companion.chat_incoming("local", "Water the ferns", update).queued);
  server.down = false;
  ChatTurnResult again = companion.chat_incoming("local", "Water the ferns", update);
  EXPECT_FALSE(again.queued);
  EXPECT_EQ(again.reply, "echo: Water the ferns");
  // The queued task finds the reply and answers nothing more.
  clock.advance(std::chrono::hours(2));
  companion.run_queue();
  MemoryFilter chats;
  chats.types = {"chat"};
  EXPECT_EQ(store->count(chats), 2);
  EXPECT_EQ(jobs->count_open("local"), 0);
}

TEST_F(CompanionTest, WithoutAProviderTurnsAreQueued) {
  CompanionService companion(*store, *jobs, *searcher, nullptr, default_persona(), {}, clock);
  ChatTurnResult r = companion.chat("local", "hello?");
  EXPECT_TRUE(r.queued);
  EXPECT_EQ(jobs->count_open("local"), 1);
  EXPECT_THROW(companion.chat("local", "   "), Error);
}

TEST_F(CompanionTest, SuggestionsArePendingUntilApproved) {
  testing::FakeLlmServer server([](const nlohmann::json& req) -> std::string {
    const std::string system = req["messages"][0]["content"];
    if (system.find("worth remembering") != std::string::npos)
      return "```json\n{\"memories\": [{\"content\": \"The user is learning the cello\", \"importance\": 0.8, "
             "\"tags\": [\"music\"]}, {\"content\": \"The user said hi\", \"importance\": 0.1}]}\n```";
    return "How exciting!";
  });
  auto llm = client_for(server);
  CompanionOptions o;
  o.suggestions = true;
  CompanionService companion(*store, *jobs, *searcher, llm.get(), default_persona(), o, clock);
  companion.chat("local", "I started cello lessons today");
  MemoryFilter pending;
  pending.approved = false;
  auto list = store->list(pending, ListOrder::kNewestFirst, 10, 0);
  ASSERT_EQ(list.size(), 1u);  // the unimportant one was dropped
  EXPECT_EQ(list[0].content, "The user is learning the cello");
  EXPECT_EQ(list[0].source, Source::kAiSuggested);
  EXPECT_EQ(list[0].tags, std::vector<std::string>{"music"});
  SearchOptions so;
  // Pending ones stay out of search (the chat turn and, through neighbour
  // propagation, the reply beside it may be found).
  for (const auto& r : searcher->search("cello learning", so)) {
    EXPECT_TRUE(r.memory.approved);
    EXPECT_NE(r.memory.content, "The user is learning the cello");
  }
}

TEST_F(CompanionTest, RatingTheLastReply) {
  testing::FakeLlmServer server;
  auto llm = client_for(server);
  CompanionService companion(*store, *jobs, *searcher, llm.get(), default_persona(), {}, clock);
  EXPECT_THROW(companion.rate_last_reply("local", 4), Error);
  auto r = companion.chat("local", "hi");
  EXPECT_EQ(companion.rate_last_reply("local", 4), r.reply_memory_id);
  EXPECT_EQ(store->get("local", r.reply_memory_id)->metadata["rating"], 4);
  EXPECT_THROW(companion.rate_last_reply("local", 9), Error);
}

TEST_F(CompanionTest, ContextFitsTheTokenBudget) {
  for (int i = 0; i < 200; ++i) remember("garden note " + std::to_string(i) + ": " + std::string(200, 'x'));
  ContextBuilder builder(*store, *searcher, clock);
  ContextOptions o;
  o.token_budget = 300;
  o.relevant_limit = 50;
  auto ctx = builder.build("local", "garden note", o);
  EXPECT_LE(ctx.estimated_tokens, 300);
  EXPECT_LE(estimate_tokens(ctx.render()), 360);
  EXPECT_FALSE(ctx.relevant.empty());
}

TEST_F(CompanionTest, JournalCompileByLlmWithFallbacks) {
  std::vector<JournalEntry> entries(2);
  entries[0].content = "Rainy morning, read by the window";
  entries[0].timestamp = clock.now();
  entries[1].content = "Made curry with Hana";
  entries[1].timestamp = clock.now();
  testing::FakeLlmServer good([](const nlohmann::json&) {
    return R"({"title": "A Rainy Day In", "article": "It rained all morning...", "tags": ["rain", "cooking"]})";
  });
  auto llm = client_for(good);
  LlmJournalCompiler compiler(*llm);
  auto c = compiler.compile(entries, clock.now());
  EXPECT_EQ(c.title, "A Rainy Day In");
  EXPECT_FALSE(c.needs_recompile);
  EXPECT_EQ(c.tags[0], "journal");
  EXPECT_NE(good.last_prompt().find("Made curry with Hana"), std::string::npos);
  testing::FakeLlmServer nonsense([](const nlohmann::json&) { return "I cannot do JSON today"; });
  auto llm2 = client_for(nonsense);
  LlmJournalCompiler c2(*llm2);
  EXPECT_TRUE(c2.compile(entries, clock.now()).needs_recompile);
  testing::FakeLlmServer down;
  down.down = true;
  auto llm3 = client_for(down);
  LlmJournalCompiler c3(*llm3);
  auto fallback = c3.compile(entries, clock.now());
  EXPECT_TRUE(fallback.needs_recompile);
  EXPECT_NE(fallback.body.find("Made curry with Hana"), std::string::npos);
}

TEST_F(CompanionTest, ContextExportFormats) {
  remember("My name is Aiko", Tier::kPersistent, MemoryKind::kFact);
  remember("I prefer <tabs> & spaces never", Tier::kLongTerm, MemoryKind::kPreference);
  remember("Planning a trip to Hokkaido in June");
  ExportOptions o;
  o.format = ExportFormat::kClaude;
  const std::string xml = export_context(*store, *searcher, "local", "Hokkaido trip", o);
  EXPECT_EQ(xml.rfind("<user_profile>", 0), 0u);
  EXPECT_NE(xml.find("<identity>"), std::string::npos);
  EXPECT_NE(xml.find("&lt;tabs&gt; &amp; spaces"), std::string::npos);
  EXPECT_NE(xml.find("Hokkaido"), std::string::npos);
  o.format = ExportFormat::kOpenAi;
  auto system = nlohmann::json::parse(export_context(*store, *searcher, "local", "Hokkaido", o));
  EXPECT_EQ(system["role"], "system");
  EXPECT_NE(system["content"].get<std::string>().find("My name is Aiko"), std::string::npos);
  o.format = ExportFormat::kJson;
  auto j = nlohmann::json::parse(export_context(*store, *searcher, "local", "Hokkaido", o));
  EXPECT_EQ(j["preferences"].size(), 1u);
  EXPECT_EQ(j["relevant_memories"].size(), 1u);
  o.format = ExportFormat::kMarkdown;
  EXPECT_NE(export_context(*store, *searcher, "local", "", o).find("## Preferences"), std::string::npos);
  EXPECT_THROW(parse_export_format("yaml"), Error);
}

TEST_F(CompanionTest, PhotosAreDescribedByAVisionModelOrQueued) {
  auto drafts = open_sqlite_journal_store(dir / "journal.db", clock);
  auto session = drafts->start_session("local", clock.now());
  std::ofstream(dir / "p.jpg", std::ios::binary) << "\xFF\xD8\xFF fake jpeg bytes";
  JournalEntry e;
  e.type = "image";
  e.media_path = (dir / "p.jpg").string();
  e = drafts->add_entry(session.id, e);
  testing::FakeLlmServer server([](const nlohmann::json& req) -> std::string {
    const auto& content = req["messages"][0]["content"];
    return content.is_array() && content[1]["type"] == "image_url" ? "A heron standing on a rock." : "no image seen";
  });
  auto llm = client_for(server);
  CompanionService companion(*store, *jobs, *searcher, llm.get(), default_persona(), {}, clock);
  companion.set_journal_drafts(drafts.get());
  // Without vision the photo waits in the queue.
  EXPECT_EQ(companion.describe_or_queue("local", e), "");
  EXPECT_EQ(jobs->count_open("local"), 1);
  companion.set_vision(true);
  EXPECT_EQ(companion.run_queue().done, 1);
  EXPECT_EQ(drafts->entries(session.id)[0].image_description, "A heron standing on a rock.");
  EXPECT_EQ(companion.describe_or_queue("local", e), "A heron standing on a rock.");
  EXPECT_EQ(jobs->count_open("local"), 0);
}

TEST(Persona, ConfigAddsAndSelectsPersonas) {
  testing::TempDir dir;
  std::ofstream(dir / "config.toml") << "[companion]\npersona = \"sage\"\n[companion.personas.sage]\nname = \"Sage\"\nprompt = \"You are Sage.\"\n";
  Config c = Config::load(dir / "config.toml", process_env());
  EXPECT_EQ(active_persona(c).prompt, "You are Sage.");
  EXPECT_EQ(available_personas(c).size(), 2u);
  std::ofstream(dir / "bad.toml") << "[companion]\npersona = \"nobody\"\n";
  EXPECT_THROW(active_persona(Config::load(dir / "bad.toml", process_env())), Error);
  EXPECT_EQ(active_persona(Config::empty(process_env())).id, "senko");
}

TEST(ExtractJson, FindsJsonInsideProse) {
  EXPECT_EQ((*extract_json("Sure! {\"a\": 1} hope that helps"))["a"], 1);
  EXPECT_EQ((*extract_json("```json\n[1,2]\n```"))[1], 2);
  EXPECT_FALSE(extract_json("no json here"));
}

}  // namespace
}  // namespace kioku
