// Core memory rules over a real SQLite store, and every tool of the registry
// called the way the agent loop and MCP call them.
#include <gtest/gtest.h>

#include "core/error.h"
#include "search/searcher.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"
#include "tools/core_memory.h"
#include "tools/memory_tools.h"

namespace kioku {
namespace {

class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store = open_sqlite_memory_store(dir / "memory.db", clock);
    searcher = std::make_unique<Searcher>(*store, nullptr, clock);
    register_memory_tools(tools, *store, *searcher, options, clock);
  }
  ToolResult call(const std::string& name, const nlohmann::json& args, const std::string& caller = "mcp") {
    ToolContext ctx;
    ctx.caller = caller;
    ctx.turn_id = "turn-1";
    ctx.tool_call_id = "call-1";
    return tools.call(name, args, ctx);
  }
  CoreMemory core() { return CoreMemory(store->core_memory(), "local"); }
  CoreBlockAuthor agent() {
    CoreBlockAuthor a;
    a.kind = "agent";
    return a;
  }
  std::string add_chat(const std::string& role, const std::string& text, const char* at) {
    Memory m;
    m.type = "chat";
    m.content = text;
    m.event_time = *parse_iso8601(at);
    m.metadata = {{"role", role}};
    return store->add(m).id;
  }

  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2025-03-01T10:00:00Z")};
  std::unique_ptr<MemoryStore> store;
  std::unique_ptr<Searcher> searcher;
  MemoryToolOptions options;
  ToolRegistry tools;
};

TEST_F(ToolsTest, DefaultBlocksAndTheirLimits) {
  auto blocks = core().blocks();
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].label, "persona");
  EXPECT_EQ(blocks[0].limit, 2048);
  EXPECT_EQ(blocks[1].label, "human");
  EXPECT_EQ(blocks[1].limit, 2048);
  EXPECT_EQ(blocks[2].label, "system");
  EXPECT_EQ(blocks[2].limit, 1024);
  EXPECT_TRUE(blocks[2].read_only);
  for (const auto& b : blocks) EXPECT_EQ(b.version, 1);
  EXPECT_EQ(core().blocks().size(), 3u);  // created once
  EXPECT_THROW(core().remove("human"), Error);
}

TEST_F(ToolsTest, EveryChangeIsAVersionWithHistoryDiffAndRollback) {
  auto cm = core();
  cm.append("human", "Name: Aiko", agent());
  cm.append("human", "Likes tea", agent());
  cm.replace("human", "tea", "green tea", agent());
  auto history = cm.history("human");
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[0].block.value, "");
  EXPECT_EQ(history[3].block.value, "Name: Aiko\nLikes green tea");
  EXPECT_EQ(history[3].author.kind, "agent");
  EXPECT_EQ(cm.diff("human", 2, 4), "  Name: Aiko\n+ Likes green tea\n");
  auto back = cm.rollback("human", 2);
  EXPECT_EQ(back.version, 5);
  EXPECT_EQ(back.value, "Name: Aiko");
  EXPECT_EQ(cm.history("human").back().author.note, "rollback to version 2");
  EXPECT_THROW(cm.rollback("human", 99), Error);
  // A stale expected version is a conflict, not a lost edit.
  CoreBlockEdit e;
  e.value = "other";
  e.expected_version = 3;
  try {
    cm.edit("human", e);
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kConflict);
  }
  // User blocks.
  CoreBlock b;
  b.label = "projects";
  b.limit = 100;
  b.value = "Kioku";
  EXPECT_EQ(cm.create(b).version, 1);
  EXPECT_EQ(cm.blocks().back().label, "projects");
  EXPECT_THROW(cm.create(b), Error);
  b.label = "Bad Label";
  EXPECT_THROW(cm.create(b), Error);
  cm.remove("projects");
  EXPECT_THROW(cm.get("projects"), Error);
}

TEST_F(ToolsTest, LimitsCountCharactersAndInsertCountsLines) {
  auto cm = core();
  CoreBlock b;
  b.label = "short";
  b.limit = 5;
  cm.create(b);
  cm.append("short", "日本語", agent());  // 3 characters, 9 bytes
  try {
    cm.append("short", "ab", agent());  // 3 + newline + 2 = 6 > 5
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTooLarge);
    EXPECT_NE(std::string(e.what()).find("6 characters, over its limit of 5"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cm.get("short").value, "日本語");
  cm.rethink("human", "one\nthree", agent());
  cm.insert("human", "two", 1, agent());
  cm.insert("human", "zero", 0, agent());
  cm.insert("human", "four", -1, agent());
  EXPECT_EQ(cm.get("human").value, "zero\none\ntwo\nthree\nfour");
  EXPECT_THROW(cm.insert("human", "x", 42, agent()), Error);
  EXPECT_THROW(cm.replace("human", "absent", "x", agent()), Error);
  EXPECT_THROW(cm.append("system", "x", agent()), Error);
  // The user may go past a limit; the render cuts what is shown.
  CoreBlockEdit e;
  e.value = std::string(5000, 'z');
  const CoreBlock big = cm.edit("human", e);
  EXPECT_TRUE(CoreMemory::over_limit(big));
  const std::string shown = render_core_blocks(cm.blocks(), 3000);
  EXPECT_LE(shown.size(), 3000u);
  EXPECT_NE(shown.find("over_limit=true"), std::string::npos);
  EXPECT_NE(shown.find("more characters not shown"), std::string::npos);
}

TEST_F(ToolsTest, CoreMemoryToolsReturnTheNewVersion) {
  auto r = call("core_memory_append", {{"label", "human"}, {"content", "Name: Aiko"}}, "agent");
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.core_version, 2);
  EXPECT_EQ(r.data["value"], "Name: Aiko");
  r = call("core_memory_replace", {{"label", "human"}, {"old_content", "Aiko"}, {"new_content", "Aiko Tanaka"}}, "agent");
  ASSERT_FALSE(r.is_error) << r.text;
  r = call("core_memory_replace", {{"label", "human"}, {"old_content", "Bob"}, {"new_content", "x"}}, "agent");
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("is not in core memory block 'human'"), std::string::npos);
  r = call("memory_insert", {{"label", "human"}, {"new_str", "Lives in Osaka"}}, "agent");
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.data["value"], "Name: Aiko Tanaka\nLives in Osaka");
  r = call("memory_rethink", {{"label", "human"}, {"new_memory", "Aiko (Osaka)"}}, "agent");
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.core_version, 5);
  auto v = core().version("human", 5);
  EXPECT_EQ(v.author.tool_name, "memory_rethink");
  EXPECT_EQ(v.author.turn_id, "turn-1");
  EXPECT_EQ(v.author.tool_call_id, "call-1");
  r = call("memory_rethink", {{"label", "nope"}, {"new_memory", "x"}}, "agent");
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("persona, human, system"), std::string::npos) << r.text;  // names the real blocks
  r = call("core_memory_append", {{"label", "human"}}, "agent");
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("missing required argument 'content'"), std::string::npos);
}

TEST_F(ToolsTest, ArchivalAndRecallTools) {
  auto r = call("archival_memory_insert", {{"content", "Aiko's sister Hana lives in Kyoto"}, {"tags", {"family"}}}, "agent");
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_FALSE(r.data["pending_approval"].get<bool>());
  add_chat("user", "I drank matcha in Kyoto yesterday", "2025-02-20T09:00:00Z");
  add_chat("assistant", "Kyoto matcha is the best", "2025-02-20T09:00:01Z");
  add_chat("user", "Tomorrow I fly to Sapporo", "2025-02-27T09:00:00Z");
  r = call("archival_memory_search", {{"query", "Kyoto"}, {"top_k", 5}}, "agent");
  ASSERT_FALSE(r.is_error) << r.text;
  ASSERT_EQ(r.data["count"], 1);  // chat turns are recall memory, not archival
  EXPECT_EQ(r.data["results"][0]["content"], "Aiko's sister Hana lives in Kyoto");
  r = call("archival_memory_search", {{"query", "Kyoto"}, {"tags", {"work"}}}, "agent");
  EXPECT_EQ(r.data["count"], 0);
  r = call("archival_memory_search", {{"query", "Kyoto"}, {"end_datetime", "2024-01-01"}}, "agent");
  EXPECT_EQ(r.data["count"], 0);
  r = call("conversation_search", {{"query", "Kyoto matcha"}}, "agent");
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.data["count"], 2);
  r = call("conversation_search", {{"query", "Kyoto"}, {"roles", {"assistant"}}}, "agent");
  ASSERT_EQ(r.data["count"], 1);
  EXPECT_EQ(r.data["results"][0]["role"], "assistant");
  r = call("conversation_search", {{"start_date", "2025-02-25"}, {"end_date", "2025-02-27"}}, "agent");
  ASSERT_EQ(r.data["count"], 1);
  EXPECT_EQ(r.data["results"][0]["content"], "Tomorrow I fly to Sapporo");
  r = call("conversation_search", {{"roles", {"robot"}}}, "agent");
  EXPECT_TRUE(r.is_error);
  r = call("conversation_search", {{"start_date", "last tuesday"}}, "agent");
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("start_date"), std::string::npos);
}

TEST_F(ToolsTest, ApprovalMakesAgentInsertsSuggestions) {
  ToolRegistry pending_tools;
  MemoryToolOptions o;
  o.inserts_need_approval = true;
  register_memory_tools(pending_tools, *store, *searcher, o, clock);
  ToolContext ctx;
  auto r = pending_tools.call("archival_memory_insert", {{"content", "Aiko plays the cello"}}, ctx);
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_TRUE(r.data["pending_approval"].get<bool>());
  auto m = store->get("local", r.data["id"]);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->approved);
  EXPECT_EQ(m->source, Source::kAiSuggested);
  EXPECT_EQ(m->metadata["tool"], "archival_memory_insert");
}

TEST_F(ToolsTest, McpOnlyMemoryTools) {
  auto added = call("add_memory", {{"content", "Aiko's birthday is May 8"}, {"tags", {"dates"}}, {"type", "note"}});
  ASSERT_FALSE(added.is_error) << added.text;
  const std::string id = added.data["id"];
  auto found = call("search_memory", {{"query", "birthday"}});
  ASSERT_EQ(found.data["count"], 1);
  EXPECT_EQ(found.data["results"][0]["id"], id);
  auto got = call("get_memory", {{"id", id}});
  ASSERT_FALSE(got.is_error);
  EXPECT_EQ(got.data["content"], "Aiko's birthday is May 8");
  auto updated = call("update_memory", {{"id", id}, {"content", "Aiko's birthday is May 9"}, {"importance", 0.9}});
  ASSERT_FALSE(updated.is_error) << updated.text;
  EXPECT_EQ(store->get("local", id)->content, "Aiko's birthday is May 9");
  Journal j;
  j.id = "j1";
  j.title = "A day in Kyoto";
  j.body = "Matcha everywhere.";
  Memory mirror;
  mirror.type = "journal";
  mirror.content = "A day in Kyoto\n\nMatcha everywhere.";
  store->add_journal(j, mirror);
  auto journals = call("list_journals", {});
  ASSERT_EQ(journals.data["count"], 1);
  EXPECT_EQ(journals.data["journals"][0]["title"], "A day in Kyoto");
  auto deleted = call("delete_memory", {{"id", id}});
  ASSERT_FALSE(deleted.is_error);
  EXPECT_FALSE(store->get("local", id));
  EXPECT_TRUE(call("delete_memory", {{"id", id}}).is_error);
  EXPECT_TRUE(call("get_memory", {{"id", "nope"}}).is_error);
  // The agent in chat does not get them.
  auto refused = call("delete_memory", {{"id", id}}, "agent");
  EXPECT_TRUE(refused.is_error);
  EXPECT_NE(refused.text.find("not available in chat"), std::string::npos);
  size_t chat_tools = tools.list(true).size(), all = tools.list().size();
  EXPECT_EQ(chat_tools, 7u);
  EXPECT_EQ(all, 13u);
}

}  // namespace
}  // namespace kioku
