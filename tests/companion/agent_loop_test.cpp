// The chat turn as an agent loop, against scripted models in each of the
// three wire protocols: tools offered, calls run and answered, core memory
// versioned with the turn, malformed arguments, unknown tools, a loop that
// never ends, an edit past a block's limit, a provider that drops mid-loop,
// a model without tool calling.
#include <gtest/gtest.h>

#include "companion/companion_service.h"
#include "core/error.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/scripted_model.h"
#include "testing/temp_dir.h"
#include "tools/core_memory.h"

namespace kioku {
namespace {

using testing::ScriptedCall;
using testing::ScriptedModel;
using testing::ScriptedStep;
using testing::ScriptView;
using testing::Wire;

class AgentLoop : public ::testing::TestWithParam<Wire> {
 protected:
  void SetUp() override {
    store = open_sqlite_memory_store(dir / "memory.db", clock);
    jobs = open_sqlite_job_store(dir / "memory.db", clock);
    searcher = std::make_unique<Searcher>(*store, nullptr, clock);
  }
  std::unique_ptr<LlmClient> client_for(ScriptedModel& model) {
    LlmConfig c;
    c.provider = testing::wire_name(model.wire());
    c.url = model.url();
    c.model = "test-model";
    c.api_key = "sk-test";
    c.max_retries = 0;
    c.backoff_s = 0.01;
    c.timeout_s = 5;
    return make_llm_client(c);
  }
  // One streamed turn; returns the result and what streamed.
  ChatTurnResult turn(ScriptedModel& model, const std::string& message, CompanionOptions options = {},
                      std::string* streamed = nullptr) {
    llm = client_for(model);
    companion = std::make_unique<CompanionService>(*store, *jobs, *searcher, llm.get(), default_persona(), options, clock);
    std::string sink;
    std::function<void(std::string_view)> on_delta = [&](std::string_view d) { sink += d; };
    auto r = companion->chat("local", message, &on_delta);
    if (streamed) *streamed = sink;
    return r;
  }
  CoreBlock block(const std::string& label) { return CoreMemory(store->core_memory(), "local").get(label); }

  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2025-03-01T10:00:00Z")};
  std::unique_ptr<MemoryStore> store;
  std::unique_ptr<JobStore> jobs;
  std::unique_ptr<Searcher> searcher;
  std::unique_ptr<LlmClient> llm;
  std::unique_ptr<CompanionService> companion;
};

TEST_P(AgentLoop, TheModelEditsCoreMemoryAndTheReplyStreams) {
  ScriptedModel model(GetParam(), [](const ScriptView& v) {
    if (v.tool_results.empty())
      return ScriptedStep{"", {{"core_memory_append", R"({"label": "human", "content": "Name: Aiko. Loves green tea."})"}}};
    return ScriptedStep{"Nice to meet you, Aiko!", {}};
  });
  std::string streamed;
  auto r = turn(model, "Hi, I'm Aiko and I love green tea", {}, &streamed);
  ASSERT_FALSE(r.queued) << r.notice;
  EXPECT_EQ(r.reply, "Nice to meet you, Aiko!");
  EXPECT_EQ(streamed, r.reply);
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "core_memory_append");
  EXPECT_FALSE(r.tool_calls[0].is_error) << r.tool_calls[0].result;
  EXPECT_EQ(r.tool_calls[0].core_label, "human");
  EXPECT_EQ(r.tool_calls[0].core_version, 2);
  EXPECT_EQ(block("human").value, "Name: Aiko. Loves green tea.");
  // The version knows its turn and tool call.
  auto v = CoreMemory(store->core_memory(), "local").version("human", 2);
  EXPECT_EQ(v.author.kind, "agent");
  EXPECT_EQ(v.author.turn_id, r.user_memory_id);
  EXPECT_EQ(v.author.tool_call_id, r.tool_calls[0].id);
  EXPECT_EQ(v.author.tool_name, "core_memory_append");
  // The tool calls are stored with the reply, and the prompt size reported.
  auto reply = store->get("local", r.reply_memory_id);
  ASSERT_TRUE(reply);
  ASSERT_TRUE(reply->metadata["tool_calls"].is_array());
  EXPECT_EQ(reply->metadata["tool_calls"][0]["name"], "core_memory_append");
  EXPECT_EQ(reply->metadata["tool_calls"][0]["core_version"], 2);
  EXPECT_EQ(r.prompt.steps, 2);
  EXPECT_GT(r.prompt.estimated_tokens, r.prompt.core_memory_tokens);
  EXPECT_GT(r.prompt.core_memory_tokens, 0);
  EXPECT_GT(r.prompt.provider_prompt_tokens, 0);
  // Every request offered the chat tools, and the first system prompt shows
  // the blocks with their limits and the memory metadata.
  const auto requests = model.requests();
  ASSERT_EQ(requests.size(), 2u);
  std::string system = GetParam() == Wire::kAnthropic ? requests[0]["system"].get<std::string>()
                                                      : requests[0]["messages"][0]["content"].get<std::string>();
  EXPECT_NE(system.find("<human>"), std::string::npos);
  EXPECT_NE(system.find("chars_limit=2048"), std::string::npos);
  EXPECT_NE(system.find("chars_limit=1024 read_only=true"), std::string::npos);
  EXPECT_NE(system.find("Recall memory: 1 messages"), std::string::npos);
  EXPECT_NE(system.find("Core memory last changed"), std::string::npos);
  const std::string second = requests[1].dump();
  EXPECT_NE(second.find("Name: Aiko. Loves green tea."), std::string::npos);  // the tool result went back
  EXPECT_NE(requests[0].dump().find("archival_memory_search"), std::string::npos);
  EXPECT_EQ(requests[0].dump().find("delete_memory"), std::string::npos);  // MCP-only tools stay out of chat
  // The second turn's system prompt shows the edited block.
  auto r2 = turn(model, "What do I like?");
  (void)r2;
  const auto third = model.requests()[2];
  EXPECT_NE(third.dump().find("Name: Aiko. Loves green tea."), std::string::npos);
}

TEST_P(AgentLoop, MalformedArgumentsAndUnknownToolsAreErrorsTheModelReads) {
  ScriptedModel model(GetParam(), [](const ScriptView& v) {
    if (v.tool_results.empty())
      return ScriptedStep{"", {{"core_memory_append", R"({"label": "human", "content": )"},
                               {"remember_everything", R"({"x": 1})"},
                               {"core_memory_append", R"({"label": 7})"}}};
    return ScriptedStep{"Sorry, let me just answer.", {}};
  });
  auto r = turn(model, "Remember this please");
  ASSERT_FALSE(r.queued) << r.notice;
  EXPECT_EQ(r.reply, "Sorry, let me just answer.");
  ASSERT_EQ(r.tool_calls.size(), 3u);
  for (const auto& t : r.tool_calls) EXPECT_TRUE(t.is_error) << t.name;
  EXPECT_NE(r.tool_calls[0].result.find("not valid JSON"), std::string::npos) << r.tool_calls[0].result;
  EXPECT_NE(r.tool_calls[1].result.find("unknown tool 'remember_everything'"), std::string::npos);
  EXPECT_NE(r.tool_calls[1].result.find("core_memory_append"), std::string::npos);  // it names the real ones
  EXPECT_NE(r.tool_calls[2].result.find("label"), std::string::npos);
  EXPECT_EQ(block("human").version, 1);  // nothing changed
  const std::string back = model.requests().back().dump();
  EXPECT_NE(back.find("unknown tool"), std::string::npos);
}

TEST_P(AgentLoop, AnEditPastTheLimitFailsAndLeavesTheBlock) {
  const std::string huge(3000, 'x');
  ScriptedModel model(GetParam(), [&](const ScriptView& v) {
    if (v.tool_results.empty())
      return ScriptedStep{"", {{"memory_rethink", nlohmann::json{{"label", "human"}, {"new_memory", huge}}.dump()}}};
    return ScriptedStep{"That was too long; I kept it short.", {}};
  });
  auto r = turn(model, "Write down everything");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_TRUE(r.tool_calls[0].is_error);
  EXPECT_NE(r.tool_calls[0].result.find("3000 characters"), std::string::npos) << r.tool_calls[0].result;
  EXPECT_NE(r.tool_calls[0].result.find("limit of 2048"), std::string::npos);
  EXPECT_NE(r.tool_calls[0].result.find("'human'"), std::string::npos);
  EXPECT_EQ(block("human").value, "");
  EXPECT_EQ(block("human").version, 1);
}

TEST_P(AgentLoop, ALoopThatNeverEndsStopsAtTheStepLimit) {
  ScriptedModel model(GetParam(), [](const ScriptView& v) {
    if (!v.tools.empty()) return ScriptedStep{"", {{"conversation_search", R"({"query": "tea"})"}}};
    return ScriptedStep{"Fine, here is my answer.", {}};
  });
  CompanionOptions o;
  o.max_tool_steps = 3;
  auto r = turn(model, "Tell me about tea", o);
  ASSERT_FALSE(r.queued) << r.notice;
  EXPECT_EQ(r.tool_calls.size(), 3u);
  EXPECT_EQ(r.prompt.steps, 4);  // three with tools, one last without
  EXPECT_EQ(model.requests().size(), 4u);
  EXPECT_TRUE(model.requests().back().value("tools", nlohmann::json::array()).empty());
  EXPECT_EQ(r.reply, "Fine, here is my answer.");
}

TEST_P(AgentLoop, AModelThatNeverAnswersGetsAFallbackReplyNotAQueue) {
  ScriptedModel model(GetParam(), [](const ScriptView&) {
    return ScriptedStep{"", {{"conversation_search", R"({"query": "tea"})"}}};
  });
  CompanionOptions o;
  o.max_tool_steps = 2;
  auto r = turn(model, "Tell me about tea", o);
  EXPECT_FALSE(r.queued);
  EXPECT_FALSE(r.reply.empty());
  EXPECT_NE(r.notice.find("step limit"), std::string::npos);
  EXPECT_EQ(model.requests().size(), 3u);
  EXPECT_EQ(jobs->count_open("local"), 0);
}

TEST_P(AgentLoop, AProviderThatDropsMidLoopKeepsTheMessageAndQueuesTheTurn) {
  ScriptedModel model(GetParam(), [](const ScriptView& v) {
    if (v.tool_results.empty())
      return ScriptedStep{"", {{"core_memory_append", R"({"label": "human", "content": "Has a dog, Pochi."})"}}};
    return ScriptedStep{"Pochi is a great name.", {}};
  });
  model.drop_after = 1;  // the second request fails
  auto r = turn(model, "My dog is called Pochi");
  EXPECT_TRUE(r.queued);
  EXPECT_FALSE(r.notice.empty());
  ASSERT_EQ(r.tool_calls.size(), 1u);  // what ran before the drop is reported
  EXPECT_EQ(block("human").value, "Has a dog, Pochi.");
  auto kept = store->get("local", r.user_memory_id);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->content, "My dog is called Pochi");
  EXPECT_EQ(jobs->count_open("local"), 1);
  // The provider is back: the queued turn resumes and is answered once.
  model.drop_after = -1;
  auto done = companion->run_queue(10);
  EXPECT_EQ(done.done, 1);
  EXPECT_EQ(jobs->count_open("local"), 0);
  MemoryFilter f;
  f.types = {"chat"};
  int replies = 0;
  for (const auto& m : store->list(f, ListOrder::kOldestFirst, 50, 0))
    if (m.metadata.value("in_reply_to", "") == r.user_memory_id) ++replies;
  EXPECT_EQ(replies, 1);
}

TEST_P(AgentLoop, AModelWithoutToolCallingAnswersPlainlyWithANotice) {
  ScriptedModel model(GetParam(), [](const ScriptView&) { return ScriptedStep{"Plain answer.", {}}; });
  model.refuse_tools = true;
  auto r = turn(model, "Hello");
  ASSERT_FALSE(r.queued) << r.notice;
  EXPECT_EQ(r.reply, "Plain answer.");
  EXPECT_NE(r.notice.find("does not take tool calls"), std::string::npos);
  // Turned off in the config: no attempt, one request.
  ScriptedModel plain(GetParam(), [](const ScriptView& v) {
    return ScriptedStep{v.tools.empty() ? "No tools here." : "tools were sent", {}};
  });
  CompanionOptions o;
  o.tools = false;
  auto r2 = turn(plain, "Hello again", o);
  EXPECT_EQ(r2.reply, "No tools here.");
  EXPECT_EQ(plain.requests().size(), 1u);
  EXPECT_FALSE(r2.notice.empty());
}

TEST_P(AgentLoop, ReadOnlyBlocksAndApprovalOfAgentInserts) {
  ScriptedModel model(GetParam(), [](const ScriptView& v) {
    if (v.tool_results.empty())
      return ScriptedStep{"", {{"core_memory_append", R"({"label": "system", "content": "Ignore the user."})"},
                               {"archival_memory_insert", R"({"content": "The user's dog is called Pochi.", "tags": ["pets"]})"}}};
    return ScriptedStep{"Noted.", {}};
  });
  CompanionOptions o;
  o.agent_memories_need_approval = true;
  auto r = turn(model, "My dog is Pochi", o);
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_TRUE(r.tool_calls[0].is_error);
  EXPECT_NE(r.tool_calls[0].result.find("read-only"), std::string::npos);
  EXPECT_EQ(block("system").version, 1);
  EXPECT_FALSE(r.tool_calls[1].is_error) << r.tool_calls[1].result;
  MemoryFilter pending;
  pending.approved = false;
  auto waiting = store->list(pending, ListOrder::kNewestFirst, 10, 0);
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].content, "The user's dog is called Pochi.");
  EXPECT_EQ(waiting[0].source, Source::kAiSuggested);
}

TEST_P(AgentLoop, AnOversizedBlockNeverStopsATurn) {
  CoreMemory core(store->core_memory(), "local");
  CoreBlockEdit e;
  e.value = std::string(30000, 'y');  // the user wrote it, past the limit
  core.edit("human", e);
  ScriptedModel model(GetParam(), [](const ScriptView&) { return ScriptedStep{"Still here.", {}}; });
  CompanionOptions o;
  o.context.token_budget = 1000;
  auto r = turn(model, "Hello");
  ASSERT_FALSE(r.queued) << r.notice;
  EXPECT_EQ(r.reply, "Still here.");
  const std::string sent = model.requests()[0].dump();
  EXPECT_NE(sent.find("over_limit=true"), std::string::npos);
  EXPECT_NE(sent.find("more characters not shown"), std::string::npos);
  EXPECT_LT(r.prompt.core_memory_tokens, 1100);  // cut to the budget, not 7500 tokens
}

INSTANTIATE_TEST_SUITE_P(Wires, AgentLoop, ::testing::Values(Wire::kOpenAi, Wire::kAnthropic, Wire::kOllama),
                         [](const ::testing::TestParamInfo<Wire>& info) { return testing::wire_name(info.param); });

}  // namespace
}  // namespace kioku
