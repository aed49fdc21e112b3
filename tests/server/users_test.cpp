// Many users on one server (issue 14): tokens per user, the admin's user
// management, and isolation through EVERY route. The walk enumerates the
// server's route table, so a route added later without a case here fails
// the test instead of going unchecked.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "app/app_context.h"
#include "core/error.h"
#include "server/server.h"
#include "store/knowledge.h"
#include "testing/images.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

using nlohmann::json;

EnvLookup no_env() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

// B's data all carries "zebra"; nothing A sends ever does (A searches for
// B's "quokka..." words, which a response may echo, but never "zebra").
constexpr const char* kBMarker = "zebra";

struct Reply {
  int status = 0;
  std::string body;
};

class UsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(data());
    std::ofstream(data() / "config.toml") << "[embed]\nprovider = \"hashing\"\n";
    // Registered again as .../postgres: the same walk with the stores on PostgreSQL.
    if (const std::string url = testing::test_store_url_for(data()); !url.empty())
      std::ofstream(data() / "config.toml", std::ios::app) << "\n[store]\nurl = \"" << url << "\"\n";
    ServerOptions o;
    o.data_dir = data();
    o.env = no_env();
    o.port = 0;
    o.threads = 8;
    o.background = false;
    server = std::make_unique<Server>(o);
    server->start();
    owner = testing::slurp(data() / "token");
    while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
  }

  std::filesystem::path data() const { return dir.path() / "data"; }

  Reply send(const std::string& token, const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& content_type = "application/json", httplib::Headers headers = {}) {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(30);
    if (!token.empty()) c.set_bearer_token_auth(token);
    httplib::Result res = method == "GET"    ? c.Get(path, headers)
                          : method == "POST" ? c.Post(path, headers, body, content_type)
                          : method == "PUT"  ? c.Put(path, headers, body, content_type)
                                             : c.Delete(path, headers, body, content_type);
    EXPECT_TRUE(res) << method << " " << path;
    if (!res) return {};
    return {res->status, res->body};
  }
  json call(const std::string& token, const std::string& method, const std::string& path, int expected,
            const json& body = nullptr) {
    Reply r = send(token, method, path, body.is_null() ? "" : body.dump());
    EXPECT_EQ(r.status, expected) << method << " " << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  Reply multipart(const std::string& token, const std::string& path, const httplib::MultipartFormDataItems& items) {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(30);
    c.set_bearer_token_auth(token);
    auto res = c.Post(path, items);
    EXPECT_TRUE(res);
    if (!res) return {};
    return {res->status, res->body};
  }
  Reply mcp(const std::string& token, const json& message) {
    return send(token, "POST", "/mcp", message.dump(), "application/json",
                {{"Accept", "application/json, text/event-stream"}});
  }
  // A new user's first token, made by the owner's (admin) token.
  std::string add_user(const std::string& name) {
    json j = call(owner, "POST", "/api/users", 201, {{"name", name}});
    EXPECT_EQ(j["user"], name);
    return j.value("token", "");
  }

  testing::TempDir dir;
  std::unique_ptr<Server> server;
  std::string owner;
};

TEST_F(UsersTest, TokensBelongToUsersAndOnlyAdminsManageThem) {
  // The data directory's own token is the owner's, an admin.
  json me = call(owner, "GET", "/api/me", 200);
  EXPECT_EQ(me["user"], "local");
  EXPECT_TRUE(me["admin"].get<bool>());

  const std::string alice = add_user("alice");
  ASSERT_EQ(alice.size(), 64u);
  EXPECT_NE(alice, owner);
  me = call(alice, "GET", "/api/me", 200);
  EXPECT_EQ(me["user"], "alice");
  EXPECT_FALSE(me["admin"].get<bool>());
  call(owner, "POST", "/api/users", 409, {{"name", "alice"}});
  call(owner, "POST", "/api/users", 400, {{"name", "../etc"}});

  // A normal user's token manages nothing, not even its own tokens.
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{{"GET", "/api/users"},
                                                                             {"POST", "/api/users"},
                                                                             {"POST", "/api/users/alice/tokens"},
                                                                             {"DELETE", "/api/users/alice/tokens"},
                                                                             {"DELETE", "/api/users/local"},
                                                                             {"PUT", "/api/settings"}}) {
    Reply r = send(alice, method, path, R"({"name":"mallory"})");
    EXPECT_EQ(r.status, 403) << method << " " << path << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["code"], "forbidden");
  }

  // Tokens are never listed: the list says how many, not which.
  const std::string second = call(owner, "POST", "/api/users/alice/tokens", 201, {{"label", "phone"}})["token"];
  json list = call(owner, "GET", "/api/users", 200);
  EXPECT_EQ(list.dump().find(alice), std::string::npos);
  EXPECT_EQ(list.dump().find(second), std::string::npos);
  bool listed = false;
  for (const auto& u : list["items"])
    if (u["user"] == "alice") listed = u["tokens"] == 2;
  EXPECT_TRUE(listed) << list.dump();
  // Only hashes are stored: neither token is anywhere in the database.
  {
    std::ifstream db(data() / "memory.db", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(db)), std::istreambuf_iterator<char>());
    std::ifstream wal(data() / "memory.db-wal", std::ios::binary);
    const std::string wal_bytes((std::istreambuf_iterator<char>(wal)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(alice), std::string::npos);
    EXPECT_EQ((bytes + wal_bytes).find(second), std::string::npos);
  }
  call(second, "GET", "/api/me", 200);

  // Revoked tokens stop working at once.
  EXPECT_EQ(call(owner, "DELETE", "/api/users/alice/tokens", 200)["revoked"], 2);
  EXPECT_EQ(send(alice, "GET", "/api/me").status, 401);
  EXPECT_EQ(send(second, "GET", "/api/me").status, 401);

  // Removing a user with data: refused, unless the data goes too.
  const std::string bob = add_user("bob");
  call(bob, "POST", "/api/memory", 201, {{"content", "bob's zebra note"}});
  call(bob, "POST", "/api/core", 201, {{"label", "bobs_block"}, {"value", "zebra"}});
  Reply refused = send(owner, "DELETE", "/api/users/bob");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(call(bob, "GET", "/api/memory", 200)["total"], 1);
  json removed = call(owner, "DELETE", "/api/users/bob?delete_data=true", 200);
  EXPECT_GE(removed["data_rows"].get<int>(), 2) << removed.dump();
  EXPECT_EQ(send(bob, "GET", "/api/me").status, 401);
  AppContext ctx(data(), "bob", no_env());
  MemoryFilter f;
  f.user_id = "bob";
  EXPECT_EQ(ctx.memories().count(f), 0);
  EXPECT_TRUE(ctx.memories().core_memory().list_blocks("bob").empty());
  // The owner stays.
  EXPECT_EQ(send(owner, "DELETE", "/api/users/local?delete_data=true").status, 409);
}

// What B stored, by kind, and the ids A will try to reach.
struct BData {
  std::string memory_id, suggestion_id, journal_id, job_id, media_name, upload_memory_id, entity_id;
  int64_t memories = 0;
};

TEST_F(UsersTest, NothingOfUserBEverAppearsToUserAThroughAnyRouteOrMcpTool) {
  const std::string a = add_user("alice");
  const std::string b = add_user("bob");
  BData bd;

  // --- B stores something distinctive of every kind ---
  bd.memory_id = call(b, "POST", "/api/memory", 201, {{"content", "quokkamem zebra: my bank PIN hint"}, {"tags", "zebra"}})["id"];
  bd.suggestion_id = call(b, "POST", "/api/memory/suggest", 201, {{"content", "quokkasugg zebra suggestion"}})["id"];
  {
    Reply up = multipart(b, "/api/upload", {{"file", "quokkaupload zebra document line\n", "zebra.txt", "text/plain"}});
    ASSERT_EQ(up.status, 201) << up.body;
    bd.upload_memory_id = json::parse(up.body)["ids"][0];
  }
  call(b, "POST", "/api/journal/start", 201);
  call(b, "POST", "/api/journal/add", 201, {{"text", "quokkajournal zebra walk"}});
  {
    Reply photo = multipart(b, "/api/journal/add",
                            {{"image", testing::make_image(64, 48, ".png"), "zebra.png", "image/png"},
                             {"text", "quokkaphoto zebra caption", "", ""}});
    ASSERT_EQ(photo.status, 201) << photo.body;
    bd.media_name = json::parse(photo.body)["media_name"];
  }
  bd.journal_id = call(b, "POST", "/api/journal/done", 200)["id"];
  call(b, "POST", "/api/journal/start", 201);
  call(b, "POST", "/api/journal/add", 201, {{"text", "quokkadraft zebra still open"}});
  call(b, "POST", "/api/core", 201, {{"label", "bobs_block"}, {"value", "quokkacore zebra block"}});
  call(b, "PUT", "/api/core/human", 200, {{"value", "quokkahuman zebra is Bob"}});
  // No model is configured: the chat turn is stored and queued as B's job.
  call(b, "POST", "/api/chat", 200, {{"message", "quokkachat zebra hello"}});
  const json b_jobs = call(b, "GET", "/api/jobs", 200);
  for (const auto& j : b_jobs["jobs"]) bd.job_id = j["id"];
  ASSERT_FALSE(bd.job_id.empty());
  ASSERT_EQ(mcp(b, {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/call"},
                    {"params", {{"name", "add_memory"}, {"arguments", {{"content", "quokkamcp zebra via mcp"}}}}}})
                .status,
            200);
  {
    // Graph facts (the extractor needs a model; the store takes them directly).
    AppContext ctx(data(), "bob", no_env());
    Entity e;
    e.user_id = "bob";
    e.name = "Quokka Zebra Island";
    e = ctx.knowledge().add_entity(e);
    bd.entity_id = e.id;
    Fact f;
    f.user_id = "bob";
    f.subject_id = e.id;
    f.predicate = "lives_in";
    f.value = "quokkagraph zebra town";
    f.memory_id = bd.memory_id;
    f.extractor = "user";
    ctx.knowledge().record_fact(f, false);
  }
  bd.memories = call(b, "GET", "/api/memory?limit=1", 200)["total"];
  ASSERT_GE(bd.memories, 5);
  const std::vector<std::string> b_ids = {bd.memory_id, bd.suggestion_id, bd.journal_id, bd.job_id,
                                          bd.media_name, bd.upload_memory_id, bd.entity_id};

  // Every response A gets: no marker of B, no id of B (but the one A sent,
  // which "no memory with id ..." may echo).
  auto clean = [&](const std::string& what, const Reply& r) {
    EXPECT_LT(r.status, 500) << what << ": " << r.body;
    std::string lower = r.body;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(lower.find(kBMarker), std::string::npos) << what << " leaked B's data: " << r.body;
    for (const auto& id : b_ids)
      if (!id.empty() && what.find(id) == std::string::npos) {
        EXPECT_EQ(r.body.find(id), std::string::npos) << what << " leaked B's id " << id << ": " << r.body;
      }
  };

  // --- A walks every route: with B's ids where a route takes one, and
  // with its own where it writes (its writes must land in A) ---
  using Case = std::function<void()>;
  std::map<std::string, Case> cases;
  auto with = [&](const std::string& key, Case c) { cases[key] = std::move(c); };
  auto plain = [&](const std::string& method, const std::string& path, const std::string& body = "") {
    return [&, method, path, body] { clean(method + " " + path, send(a, method, path, body)); };
  };
  auto b_id = [&](const std::string& method, const std::string& pattern, const std::string& id, const std::string& body = "",
                  std::vector<int> allowed = {403, 404}) {
    return [&, method, pattern, id, body, allowed] {
      std::string path = pattern;
      path.replace(path.find('{'), path.find('}') - path.find('{') + 1, id);
      while (path.find('{') != std::string::npos) path.replace(path.find('{'), path.find('}') - path.find('{') + 1, "1");
      Reply r = send(a, method, path, body);
      clean(method + " " + path, r);
      EXPECT_NE(std::find(allowed.begin(), allowed.end(), r.status), allowed.end())
          << method << " " << path << " with B's id answered " << r.status << ": " << r.body;
    };
  };
  with("GET /api/health", plain("GET", "/api/health"));
  with("GET /api/openapi.json", plain("GET", "/api/openapi.json"));
  with("GET /api/status", [&] {
    Reply r = send(a, "GET", "/api/status");
    clean("status", r);
    EXPECT_EQ(json::parse(r.body)["user_id"], "alice");
  });
  with("GET /api/jobs", plain("GET", "/api/jobs"));
  with("POST /api/jobs/{id}/retry", b_id("POST", "/api/jobs/{id}/retry", bd.job_id));
  with("POST /api/jobs/{id}/cancel", b_id("POST", "/api/jobs/{id}/cancel", bd.job_id));
  with("GET /api/memory/search", [&] {
    for (const char* mode : {"lexical", "vector", "hybrid"})
      for (const char* q : {"quokkamem", "quokkasugg", "quokkaupload", "quokkajournal", "quokkaphoto", "quokkadraft",
                            "quokkacore", "quokkachat", "quokkamcp", "quokkagraph", "bank PIN"})
        clean(std::string("search ") + q, send(a, "GET", std::string("/api/memory/search?q=") + q + "&mode=" + mode));
  });
  with("POST /api/memory/suggest", [&] { clean("suggest", send(a, "POST", "/api/memory/suggest", R"({"content":"wombat suggestion"})")); });
  with("POST /api/memory", [&] {
    Reply r = send(a, "POST", "/api/memory", R"({"content":"wombat memory of alice"})");
    clean("create", r);
    EXPECT_EQ(r.status, 201);
    // Same content as B's: A gets a memory of its own, not B's id.
    Reply same = send(a, "POST", "/api/memory", R"({"content":"quokkamem zebra: my bank PIN hint"})");
    EXPECT_EQ(same.status, 201) << same.body;
    EXPECT_NE(json::parse(same.body)["id"], bd.memory_id);
    send(a, "DELETE", "/api/memory/" + json::parse(same.body)["id"].get<std::string>());
  });
  with("GET /api/memory", [&] {
    for (const char* q : {"", "?tags=zebra", "?order=oldest&limit=500", "?type=journal", "?type=chat"})
      clean(std::string("list ") + q, send(a, "GET", std::string("/api/memory") + q));
  });
  with("GET /api/memory/{id}", b_id("GET", "/api/memory/{id}", bd.memory_id, "", {404}));
  with("PUT /api/memory/{id}", b_id("PUT", "/api/memory/{id}", bd.memory_id, R"({"content":"overwritten by alice"})", {404}));
  with("DELETE /api/memory/{id}", b_id("DELETE", "/api/memory/{id}", bd.memory_id, "", {404}));
  with("POST /api/upload", [&] {
    Reply r = multipart(a, "/api/upload", {{"file", "wombat upload of alice\n", "wombat.txt", "text/plain"}});
    clean("upload", r);
    EXPECT_EQ(r.status, 201) << r.body;
  });
  with("GET /api/media/{name}", b_id("GET", "/api/media/{name}", bd.media_name, "", {404}));
  with("GET /api/suggestions", plain("GET", "/api/suggestions"));
  with("POST /api/suggestions/{id}/approve", b_id("POST", "/api/suggestions/{id}/approve", bd.suggestion_id, "", {404}));
  with("POST /api/suggestions/{id}/reject", b_id("POST", "/api/suggestions/{id}/reject", bd.suggestion_id, "", {404}));
  with("PUT /api/suggestions/{id}", b_id("PUT", "/api/suggestions/{id}", bd.suggestion_id, R"({"content":"alice edits"})", {404}));
  // B has an open session: A's journal is A's own, and A's cancel is no threat to B's.
  with("GET /api/journal/status", [&] {
    Reply r = send(a, "GET", "/api/journal/status");
    clean("journal status", r);
    EXPECT_FALSE(json::parse(r.body)["open"].get<bool>()) << r.body;
  });
  with("POST /api/journal/start", [&] { EXPECT_EQ(send(a, "POST", "/api/journal/start").status, 201); });
  with("POST /api/journal/add", [&] { clean("journal add", send(a, "POST", "/api/journal/add", R"({"text":"wombat journal"})")); });
  with("POST /api/journal/done", [&] { clean("journal done", send(a, "POST", "/api/journal/done")); });
  with("POST /api/journal/cancel", plain("POST", "/api/journal/cancel"));
  with("GET /api/journals", plain("GET", "/api/journals"));
  with("GET /api/journals/{id}", b_id("GET", "/api/journals/{id}", bd.journal_id, "", {404}));
  with("GET /api/graph", plain("GET", "/api/graph"));
  with("POST /api/chat", [&] { clean("chat", send(a, "POST", "/api/chat", R"({"message":"what is my bank PIN hint? quokkachat"})")); });
  with("GET /api/chat/history", plain("GET", "/api/chat/history?limit=500"));
  with("GET /api/settings", plain("GET", "/api/settings"));
  with("PUT /api/settings", b_id("PUT", "/api/settings{x}", "", R"({"companion":{"persona":"zebra"}})", {403}));
  with("GET /api/models/available", plain("GET", "/api/models/available"));
  with("GET /api/core", plain("GET", "/api/core"));
  with("POST /api/core", [&] {
    // A block of the same label as B's is A's own.
    Reply r = send(a, "POST", "/api/core", R"({"label":"bobs_block","value":"wombat block"})");
    clean("core create", r);
    EXPECT_EQ(r.status, 201) << r.body;
  });
  with("GET /api/core/{label}", [&] {
    clean("core human", send(a, "GET", "/api/core/human"));
    clean("core bobs_block", send(a, "GET", "/api/core/bobs_block"));
  });
  with("PUT /api/core/{label}", [&] { clean("core edit", send(a, "PUT", "/api/core/human", R"({"value":"wombat human"})")); });
  with("DELETE /api/core/{label}", [&] { clean("core delete", send(a, "DELETE", "/api/core/bobs_block")); });
  with("GET /api/core/{label}/history", [&] {
    clean("history human", send(a, "GET", "/api/core/human/history"));
    clean("history bobs_block", send(a, "GET", "/api/core/bobs_block/history"));
  });
  with("GET /api/core/{label}/versions/{version}", [&] {
    for (const char* v : {"1", "2", "3"}) {
      clean("version human", send(a, "GET", std::string("/api/core/human/versions/") + v));
      clean("version bobs_block", send(a, "GET", std::string("/api/core/bobs_block/versions/") + v));
    }
  });
  with("GET /api/core/{label}/diff", [&] {
    clean("diff human", send(a, "GET", "/api/core/human/diff?from=1"));
    clean("diff bobs_block", send(a, "GET", "/api/core/bobs_block/diff?from=1"));
  });
  with("POST /api/core/{label}/rollback", [&] {
    clean("rollback human", send(a, "POST", "/api/core/human/rollback", R"({"version":2})"));
    clean("rollback bobs_block", send(a, "POST", "/api/core/bobs_block/rollback", R"({"version":1})"));
  });
  with("POST /mcp", [&] {
    Reply list = mcp(a, {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/list"}});
    ASSERT_EQ(list.status, 200) << list.body;
    const json tools = json::parse(list.body)["result"]["tools"];
    ASSERT_FALSE(tools.empty());
    int id = 2;
    // Every tool, with arguments made from its schema: queries ask for B's
    // words, labels name B's and the shared blocks, texts are A's.
    for (const auto& tool : tools) {
      for (const char* label : {"human", "bobs_block"}) {
        json args = json::object();
        const json props = tool["inputSchema"].value("properties", json::object());
        for (const auto& [name, prop] : props.items()) {
          const std::string type = prop.value("type", "string");
          if (type == "integer" || type == "number") args[name] = 1;
          else if (type == "boolean") args[name] = false;
          else if (type == "array") args[name] = json::array();
          else if (name.find("query") != std::string::npos) args[name] = "quokkamem quokkacore quokkachat bank PIN";
          else if (name == "label") args[name] = label;
          else if (name == "old_content" || name == "old_str") args[name] = "quokkahuman";
          else args[name] = "wombat " + name;
        }
        const std::string tool_name = tool["name"];
        Reply r = mcp(a, {{"jsonrpc", "2.0"}, {"id", id++}, {"method", "tools/call"},
                          {"params", {{"name", tool_name}, {"arguments", args}}}});
        clean("mcp tool " + tool_name, r);
      }
    }
    for (const char* method : {"resources/list", "prompts/list", "ping"})
      clean(std::string("mcp ") + method, mcp(a, {{"jsonrpc", "2.0"}, {"id", id++}, {"method", method}}));
    for (const std::string& uri : {"kioku://journal/" + bd.journal_id, std::string("kioku://core/bobs_block"),
                                  std::string("kioku://core/human")})
      clean("mcp read " + uri, mcp(a, {{"jsonrpc", "2.0"}, {"id", id++}, {"method", "resources/read"},
                                       {"params", {{"uri", uri}}}}));
  });
  with("GET /mcp", plain("GET", "/mcp"));
  with("DELETE /mcp", plain("DELETE", "/mcp"));
  // The learned profile (src/profile): A sees and edits only its own; B's
  // profile document is the same before and after A's walk.
  const json b_profile = call(b, "GET", "/api/profile", 200);
  with("GET /api/profile", plain("GET", "/api/profile"));
  with("PUT /api/profile/emotions/{message_id}",
       b_id("PUT", "/api/profile/emotions/{id}", bd.memory_id, R"({"emotion":"joy","intensity":0.9})"));
  with("DELETE /api/profile/emotions/{message_id}", b_id("DELETE", "/api/profile/emotions/{id}", bd.memory_id));
  with("PUT /api/profile/strategies/{emotion}/{strategy}", [&] {
    Reply r = send(a, "PUT", "/api/profile/strategies/sadness/encourage", R"({"weight":0.7})");
    clean("strategy put", r);
    EXPECT_EQ(r.status, 200) << r.body;
  });
  with("DELETE /api/profile/strategies/{emotion}/{strategy}", [&] {
    clean("strategy delete", send(a, "DELETE", "/api/profile/strategies/sadness/encourage"));
  });
  with("PUT /api/profile/patterns/{kind}/{value}", [&] {
    Reply r = send(a, "PUT", "/api/profile/patterns/tag/wombat", R"({"affinity":0.5})");
    clean("pattern put", r);
    EXPECT_EQ(r.status, 200) << r.body;
  });
  with("DELETE /api/profile/patterns/{kind}/{value}", [&] {
    clean("pattern delete", send(a, "DELETE", "/api/profile/patterns/tag/wombat"));
  });
  with("DELETE /api/profile/{part}", [&] {
    for (const char* part : {"emotions", "strategies", "patterns"})
      clean(std::string("erase ") + part, send(a, "DELETE", std::string("/api/profile/") + part));
  });
  with("GET /api/me", [&] {
    Reply r = send(a, "GET", "/api/me");
    clean("me", r);
    EXPECT_EQ(json::parse(r.body)["user"], "alice");
  });
  with("GET /api/users", b_id("GET", "/api/users{x}", "", "", {403}));
  with("POST /api/users", b_id("POST", "/api/users{x}", "", R"({"name":"mallory","admin":true})", {403}));
  with("POST /api/users/{name}/tokens", b_id("POST", "/api/users/{name}/tokens", "bob", "", {403}));
  with("DELETE /api/users/{name}/tokens", b_id("DELETE", "/api/users/{name}/tokens", "bob", "", {403}));
  with("DELETE /api/users/{name}", b_id("DELETE", "/api/users/{name}?delete_data=true", "bob", "", {403}));

  // The route table and the OpenAPI document list the same routes, and
  // every one of them has a case above.
  std::set<std::string> documented;
  const json openapi = server->openapi();
  for (const auto& [path, ops] : openapi["paths"].items())
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(m + " " + path);
    }
  std::set<std::string> registered;
  for (const auto& [method, path] : server->routes()) registered.insert(method + " " + path);
  EXPECT_EQ(documented, registered);
  // In the table's order: journal start, add, done, ... as a client would.
  for (const auto& [method, path] : server->routes()) {
    const std::string route = method + " " + path;
    auto it = cases.find(route);
    if (it == cases.end()) {
      ADD_FAILURE() << route << " is not walked by this test: add a case that calls it as user A";
      continue;
    }
    SCOPED_TRACE(route);
    it->second();
  }

  // --- B's data is all still there and unchanged; A's writes are A's ---
  {
    const json after = call(b, "GET", "/api/profile", 200);
    ASSERT_TRUE(after.is_object() && b_profile.is_object());
    for (const char* part : {"emotions", "strategies", "importance_patterns", "conversation"})
      EXPECT_EQ(after[part], b_profile[part]) << part << ": A's profile edits reached B's";
  }
  EXPECT_EQ(call(b, "GET", "/api/memory?limit=1", 200)["total"].get<int64_t>(), bd.memories);
  EXPECT_EQ(call(b, "GET", "/api/memory/" + bd.memory_id, 200)["content"], "quokkamem zebra: my bank PIN hint");
  EXPECT_EQ(call(b, "GET", "/api/core/bobs_block", 200)["value"], "quokkacore zebra block");
  EXPECT_EQ(call(b, "GET", "/api/core/human", 200)["value"], "quokkahuman zebra is Bob");
  EXPECT_TRUE(call(b, "GET", "/api/journal/status", 200)["open"].get<bool>());
  EXPECT_EQ(call(b, "GET", "/api/suggestions", 200).dump().find(bd.suggestion_id) != std::string::npos, true);
  EXPECT_EQ(send(b, "GET", "/api/media/" + bd.media_name).status, 200);
  const std::string b_everything = call(b, "GET", "/api/memory?limit=500", 200).dump() +
                                   call(b, "GET", "/api/memory/search?q=wombat", 200)["items"].dump() +
                                   call(b, "GET", "/api/core", 200).dump();
  EXPECT_EQ(b_everything.find("wombat"), std::string::npos) << "A's writes reached B: " << b_everything;
  const std::string a_memories = call(a, "GET", "/api/memory?limit=500", 200).dump();
  EXPECT_NE(a_memories.find("wombat memory of alice"), std::string::npos);
  EXPECT_NE(a_memories.find("wombat upload of alice"), std::string::npos);
  EXPECT_NE(call(a, "GET", "/api/memory/search?q=wombat&mode=lexical", 200).dump().find("wombat"), std::string::npos);
  AppContext ctx(data(), "alice", no_env());
  JobFilter jf;
  jf.user_id = "alice";
  EXPECT_FALSE(ctx.jobs().list(jf).empty()) << "A's queued chat turn is A's job";
}

}  // namespace
}  // namespace kioku
