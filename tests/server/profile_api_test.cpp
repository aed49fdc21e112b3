// /api/profile over real HTTP: chat turns teach it, each part can be
// corrected and erased, bad input gets a 4xx {error, code}, and new memories
// get the importance the user's patterns predict.
#include <gtest/gtest.h>

#include <fstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "llm/fake_llm_server.h"
#include "server/server.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku::server {
namespace {

using nlohmann::json;

class ProfileApi : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir.path() / "data");
    std::ofstream(dir.path() / "data" / "config.toml")
        << "[embed]\nprovider = \"hashing\"\n[llm]\nprovider = \"openai\"\nurl = \"" << llm.url()
        << "\"\nmodel = \"test-model\"\nmax_retries = 0\n";
    // Registered again as .../postgres: the profile then lives on PostgreSQL.
    if (const std::string url = testing::test_store_url_for(dir.path() / "data"); !url.empty())
      std::ofstream(dir.path() / "data" / "config.toml", std::ios::app) << "\n[store]\nurl = \"" << url << "\"\n";
    ServerOptions o;
    o.data_dir = dir.path() / "data";
    o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    o.port = 0;
    o.threads = 8;
    o.background = false;
    server = std::make_unique<Server>(o);
    server->start();
    std::ifstream in(dir.path() / "data" / "token");
    in >> token;
  }
  void TearDown() override {
    if (server) server->stop();
  }
  json call(const std::string& method, const std::string& path, int expected, const json& body = nullptr) {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(30);
    c.set_bearer_token_auth(token);
    const std::string payload = body.is_null() ? "" : body.dump();
    auto res = method == "GET"    ? c.Get(path)
               : method == "POST" ? c.Post(path, payload, "application/json")
               : method == "PUT"  ? c.Put(path, payload, "application/json")
                                  : c.Delete(path);
    EXPECT_TRUE(res) << method << " " << path;
    if (!res) return json();
    EXPECT_EQ(res->status, expected) << method << " " << path << ": " << res->body;
    return json::parse(res->body);
  }
  testing::TempDir dir;
  testing::FakeLlmServer llm{[](const json& req) -> std::string {
    const std::string system = req["messages"][0]["content"];
    if (system.find("You read the emotion") != std::string::npos) return R"({"emotion":"anxiety","intensity":0.9})";
    return "Let's take it one step at a time.";
  }};
  std::unique_ptr<Server> server;
  std::string token;
};

TEST_F(ProfileApi, ChatTeachesTheProfileAndEveryPartCanBeCorrectedAndErased) {
  const json turn = call("POST", "/api/chat", 200, {{"message", "The deadline is tomorrow and nothing works"}});
  const std::string message_id = turn["user_memory_id"];
  call("POST", "/api/chat", 200, {{"message", "that's not helpful"}});
  json doc = call("GET", "/api/profile", 200);
  EXPECT_EQ(doc["emotions"]["current"]["emotion"], "anxiety");
  EXPECT_EQ(doc["emotions"]["current"]["detector"], "llm");
  ASSERT_EQ(doc["strategies"].size(), 1u);
  EXPECT_EQ(doc["strategies"][0]["strategy"], "encourage");       // the prior for anxiety
  EXPECT_LT(doc["strategies"][0]["weight"].get<double>(), 0.58);  // "not helpful" lowered it
  EXPECT_EQ(doc["strategies"][0]["history"][0]["reason"], "feedback");
  EXPECT_EQ(doc["conversation"]["channel"], "web");
  EXPECT_EQ(doc["conversation"]["turns"], 2);

  doc = call("PUT", "/api/profile/emotions/" + message_id, 200, {{"emotion", "anger"}, {"intensity", 0.5}});
  bool corrected = false;
  for (const auto& r : doc["emotions"]["recent"]) corrected |= r["message_id"] == message_id && r["detector"] == "user";
  EXPECT_TRUE(corrected);
  doc = call("PUT", "/api/profile/strategies/anxiety/practical_steps", 200, {{"weight", 0.95}});
  EXPECT_EQ(doc["strategies"][0]["strategy"], "practical_steps");  // best first within the emotion
  call("PUT", "/api/profile/patterns/tag/work", 200, {{"affinity", 0.8}});

  // Bad input: 4xx with {error, code}.
  json bad = call("PUT", "/api/profile/strategies/anxiety/shouting", 400, {{"weight", 0.5}});
  EXPECT_EQ(bad["code"], "invalid_input");
  EXPECT_FALSE(bad["error"].get<std::string>().empty());
  EXPECT_EQ(call("PUT", "/api/profile/strategies/anxiety/humour", 400, {{"weight", "lots"}})["code"], "invalid_input");
  EXPECT_EQ(call("PUT", "/api/profile/emotions/no-such-message", 404, {{"emotion", "joy"}})["code"], "not_found");
  EXPECT_EQ(call("DELETE", "/api/profile/everything", 400)["code"], "invalid_input");
  EXPECT_EQ(call("DELETE", "/api/profile/patterns/tag/never-learned", 404)["code"], "not_found");

  // A new memory without an importance gets the predicted one.
  const json created =
      call("POST", "/api/memory", 201, {{"content", "Quarterly review on Monday"}, {"tags", {"work"}}});
  EXPECT_GT(call("GET", "/api/memory/" + created["id"].get<std::string>(), 200)["importance"].get<double>(), 0.5);
  const json given =
      call("POST", "/api/memory", 201, {{"content", "Desk plant"}, {"tags", {"work"}}, {"importance", 0.1}});
  EXPECT_DOUBLE_EQ(call("GET", "/api/memory/" + given["id"].get<std::string>(), 200)["importance"].get<double>(), 0.1);

  call("DELETE", "/api/profile/strategies/anxiety/practical_steps", 200);
  call("DELETE", "/api/profile/emotions/" + message_id, 200);
  call("DELETE", "/api/profile/all", 200);
  doc = call("GET", "/api/profile", 200);
  EXPECT_TRUE(doc["strategies"].empty());
  EXPECT_TRUE(doc["importance_patterns"].empty());
  EXPECT_TRUE(doc["emotions"]["recent"].empty());
  EXPECT_TRUE(doc["conversation"].is_null());
  EXPECT_EQ(call("GET", "/api/chat/history", 200)["items"].size(), 4u);  // the chats stay
}

}  // namespace
}  // namespace kioku::server
