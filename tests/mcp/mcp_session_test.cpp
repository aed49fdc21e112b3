// McpSession on its own: the JSON-RPC conversation an MCP client has with
// Kioku, whatever the transport.
#include <gtest/gtest.h>

#include <sstream>

#include "mcp/mcp_session.h"
#include "search/searcher.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"
#include "tools/memory_tools.h"

namespace kioku {
namespace {

using nlohmann::json;

class McpSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store = open_sqlite_memory_store(dir / "memory.db");
    searcher = std::make_unique<Searcher>(*store, nullptr);
    register_memory_tools(tools, *store, *searcher);
    session = std::make_unique<mcp::McpSession>(tools, *store, "local");
  }
  json rpc(const std::string& method, json params = json::object(), int id = 1) {
    auto r = session->handle({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
    EXPECT_TRUE(r.has_value());
    return r.value_or(json());
  }
  json initialize(const std::string& version) {
    return rpc("initialize", {{"protocolVersion", version}, {"capabilities", json::object()},
                              {"clientInfo", {{"name", "test"}, {"version", "1"}}}});
  }
  testing::TempDir dir;
  std::unique_ptr<MemoryStore> store;
  std::unique_ptr<Searcher> searcher;
  ToolRegistry tools;
  std::unique_ptr<mcp::McpSession> session;
};

TEST_F(McpSessionTest, NegotiatesTheProtocolVersion) {
  EXPECT_EQ(initialize("2025-11-25")["result"]["protocolVersion"], "2025-11-25");
  EXPECT_EQ(initialize("2025-06-18")["result"]["protocolVersion"], "2025-06-18");
  auto old = initialize("2025-03-26");
  EXPECT_EQ(old["result"]["protocolVersion"], "2025-03-26");
  EXPECT_FALSE(old["result"]["serverInfo"].contains("title"));  // a 2025-06-18 field
  EXPECT_EQ(initialize("2024-11-05")["result"]["protocolVersion"], "2025-11-25");  // the client decides
  auto r = initialize("2025-11-25")["result"];
  EXPECT_TRUE(r["capabilities"].contains("tools"));
  EXPECT_TRUE(r["capabilities"].contains("resources"));
  EXPECT_EQ(r["serverInfo"]["name"], "kioku");
  EXPECT_EQ(rpc("initialize", json::object())["error"]["code"], mcp::kInvalidParams);
  // The initialized notification gets no answer.
  EXPECT_FALSE(session->handle({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}).has_value());
  EXPECT_TRUE(session->initialized());
}

TEST_F(McpSessionTest, PingErrorsAndBatches) {
  EXPECT_EQ(rpc("ping")["result"], json::object());
  EXPECT_EQ(rpc("sampling/createMessage")["error"]["code"], mcp::kMethodNotFound);
  EXPECT_EQ(json::parse(*session->handle_text("{not json"))["error"]["code"], mcp::kParseError);
  EXPECT_EQ((*session->handle(json{{"id", 1}, {"method", "ping"}}))["error"]["code"], mcp::kInvalidRequest);
  auto batch = session->handle(json::array({{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}},
                                            {{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}},
                                            {{"jsonrpc", "2.0"}, {"id", "b"}, {"method", "ping"}}}));
  ASSERT_TRUE(batch && batch->is_array());
  EXPECT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[1]["id"], "b");
  EXPECT_TRUE(mcp::McpSession::only_notifications(json{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}));
  EXPECT_FALSE(mcp::McpSession::only_notifications(json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}}));
}

TEST_F(McpSessionTest, ToolsListAndCall) {
  initialize("2025-11-25");
  auto list = rpc("tools/list")["result"]["tools"];
  ASSERT_EQ(list.size(), 13u);
  for (const auto& t : list) {
    EXPECT_TRUE(t["inputSchema"].is_object()) << t["name"];
    EXPECT_EQ(t["inputSchema"]["type"], "object");
    EXPECT_TRUE(t.contains("title"));
  }
  auto added = rpc("tools/call", {{"name", "add_memory"}, {"arguments", {{"content", "Hana lives in Osaka"}}}})["result"];
  EXPECT_FALSE(added["isError"].get<bool>());
  EXPECT_TRUE(added["structuredContent"].contains("id"));
  auto found = rpc("tools/call", {{"name", "search_memory"}, {"arguments", {{"query", "Osaka"}}}})["result"];
  EXPECT_EQ(found["structuredContent"]["count"], 1);
  EXPECT_NE(found["content"][0]["text"].get<std::string>().find("Hana lives in Osaka"), std::string::npos);
  // A tool failure is a result the model reads, with isError.
  auto failed = rpc("tools/call", {{"name", "core_memory_append"}, {"arguments", {{"label", "system"}, {"content", "x"}}}});
  EXPECT_TRUE(failed["result"]["isError"].get<bool>());
  EXPECT_NE(failed["result"]["content"][0]["text"].get<std::string>().find("read-only"), std::string::npos);
  auto bad_args = rpc("tools/call", {{"name", "get_memory"}, {"arguments", {{"id", 5}}}});
  EXPECT_TRUE(bad_args["result"]["isError"].get<bool>());
  // An unknown tool is a protocol error.
  EXPECT_EQ(rpc("tools/call", {{"name", "nope"}})["error"]["code"], mcp::kInvalidParams);
}

TEST_F(McpSessionTest, ResourcesAreCoreBlocksAndJournals) {
  initialize("2025-06-18");
  rpc("tools/call", {{"name", "core_memory_append"}, {"arguments", {{"label", "human"}, {"content", "Name: Aiko"}}}});
  Journal j;
  j.id = "j1";
  j.title = "Kyoto";
  j.body = "Matcha.";
  Memory mirror;
  mirror.type = "journal";
  mirror.content = "Kyoto\n\nMatcha.";
  store->add_journal(j, mirror);
  auto list = rpc("resources/list")["result"]["resources"];
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[1]["uri"], "kioku://core/human");
  EXPECT_EQ(list[3]["uri"], "kioku://journal/j1");
  auto human = rpc("resources/read", {{"uri", "kioku://core/human"}})["result"]["contents"][0];
  EXPECT_EQ(human["text"], "Name: Aiko");
  auto journal = rpc("resources/read", {{"uri", "kioku://journal/j1"}})["result"]["contents"][0];
  EXPECT_EQ(journal["mimeType"], "text/markdown");
  EXPECT_NE(journal["text"].get<std::string>().find("Matcha."), std::string::npos);
  EXPECT_EQ(rpc("resources/read", {{"uri", "kioku://core/nope"}})["error"]["code"], mcp::kResourceNotFound);
  EXPECT_EQ(rpc("resources/read", {{"uri", "file:///etc/passwd"}})["error"]["code"], mcp::kResourceNotFound);
}

TEST_F(McpSessionTest, StdioIsOneMessagePerLine) {
  std::istringstream in(
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"}}\n"
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
      "\n"
      "garbage\r\n"
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
  std::ostringstream out;
  mcp::serve_stdio(*session, in, out);
  std::istringstream lines(out.str());
  std::string line;
  std::vector<json> replies;
  while (std::getline(lines, line)) replies.push_back(json::parse(line));
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0]["id"], 1);
  EXPECT_EQ(replies[1]["error"]["code"], mcp::kParseError);
  EXPECT_EQ(replies[2]["id"], 2);
}

}  // namespace
}  // namespace kioku
