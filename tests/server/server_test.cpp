// `kioku serve` over real HTTP on loopback: auth, every route family, JSON
// errors, uploads (good, malformed, too large, hostile names), streamed chat
// against a loopback LLM, settings, and concurrent writers.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "ingest/fixtures.h"
#include "llm/fake_llm_server.h"
#include "server/server.h"
#include "testing/background_process.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

using nlohmann::json;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// A raw TCP connection to the server, for requests httplib's client will
// not make (slow, malformed, foreign Host).
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  bool send(const std::string& data) { return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()); }
  // Everything until the peer closes or `timeout` passes.
  std::string read_all(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos && out.find("Content-Length: ") != std::string::npos) {
        const size_t at = out.find("Content-Length: ") + 16;
        const size_t length = std::stoul(out.substr(at));
        if (out.size() >= out.find("\r\n\r\n") + 4 + length) break;
      }
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string nested_object(int depth) {
  std::string out;
  for (int i = 0; i < depth; ++i) out += "{\"a\":";
  out += "1";
  out += std::string(static_cast<size_t>(depth), '}');
  return out;
}

class ServerTest : public ::testing::Test {
 protected:
  // Starts a server on a free port. extra_config is appended to config.toml
  // before the server opens it.
  void start(const std::string& extra_config = "", size_t max_upload = 25u << 20) {
    std::filesystem::create_directories(dir.path() / "data");
    // Full-text search only: no model download is ever attempted here.
    std::ofstream(dir.path() / "data" / "config.toml") << "[embed]\nprovider = \"hashing\"\n" << extra_config;
    // The .../postgres run: the same server on PostgreSQL (testing/run_binary.h).
    if (const std::string url = testing::test_store_url_for(dir.path() / "data"); !url.empty())
      std::ofstream(dir.path() / "data" / "config.toml", std::ios::app) << "\n[store]\nurl = \"" << url << "\"\n";
    ServerOptions o;
    o.data_dir = dir.path() / "data";
    o.env = env_of({});
    o.port = 0;
    o.threads = 16;
    o.max_upload_bytes = max_upload;
    o.background = background;
    o.background_tick = std::chrono::milliseconds(50);
    server = std::make_unique<Server>(o);
    server->start();
    token = testing::slurp(dir.path() / "data" / "token");
    while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
    ASSERT_EQ(token.size(), 64u);
  }

  httplib::Client client(bool authorized = true) {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(30);
    if (authorized) c.set_bearer_token_auth(token);
    return c;
  }

  // The response, checked for status; its body parsed as JSON.
  json call(const std::string& method, const std::string& path, int expected_status, const json& body = nullptr) {
    auto c = client();
    const std::string payload = body.is_null() ? "" : body.dump();
    httplib::Result res = method == "GET"    ? c.Get(path)
                          : method == "POST" ? c.Post(path, payload, "application/json")
                          : method == "PUT"  ? c.Put(path, payload, "application/json")
                                             : c.Delete(path);
    EXPECT_TRUE(res) << method << " " << path << " failed: " << httplib::to_string(res.error());
    if (!res) return json();
    EXPECT_EQ(res->status, expected_status) << method << " " << path << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(res->body);
  }

  json upload(const std::string& filename, const std::string& content, int expected_status) {
    auto c = client();
    httplib::MultipartFormDataItems items = {{"file", content, filename, "application/octet-stream"}};
    auto res = c.Post("/api/upload", items);
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, expected_status) << filename << ": " << res->body;
    return json::parse(res->body);
  }

  int64_t memory_count() { return call("GET", "/api/memory?limit=1", 200)["total"].get<int64_t>(); }

  testing::TempDir dir;
  std::unique_ptr<Server> server;
  std::string token;
  bool background = false;  // the background loop (ticks every 50 ms when on)
};

TEST(Loopback, HostsThatStayOnThisMachine) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.10.0.3"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.4"));
  EXPECT_FALSE(is_loopback_host("127.0.0.1.evil.com"));
  EXPECT_FALSE(is_loopback_host("::"));
}

TEST(Bind, RefusesAnExposedAddressWithoutAToken) {
  testing::TempDir dir;
  ServerOptions o;
  o.data_dir = dir.path() / "fresh";
  o.env = env_of({});
  o.host = "0.0.0.0";
  o.port = 0;
  o.background = false;
  Server server(o);
  try {
    server.bind();
    FAIL() << "bound 0.0.0.0 without a token";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("token"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "fresh" / "token"));
}

TEST_F(ServerTest, EveryApiCallNeedsTheToken) {
  start();
  auto anonymous = client(false);
  auto health = anonymous.Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  for (const char* path : {"/api/memory", "/api/status", "/api/settings", "/api/openapi.json"}) {
    auto res = anonymous.Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << path;
    EXPECT_EQ(json::parse(res->body)["code"], "unauthorized");
  }
  auto posted = anonymous.Post("/api/memory", R"({"content":"sneaky"})", "application/json");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 401);
  httplib::Client wrong("127.0.0.1", server->port());
  wrong.set_bearer_token_auth(std::string(64, 'a'));
  auto res = wrong.Get("/api/memory");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(json::parse(res->body)["error"], "wrong API token");
  EXPECT_EQ(memory_count(), 0);
  // The web app itself is public (it holds no data) and asks for the token.
  auto page = anonymous.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
}

TEST_F(ServerTest, MemoryCrudWithFiltersAndPaging) {
  start();
  json created = call("POST", "/api/memory", 201,
                      {{"content", "My sister Hana lives in Osaka"}, {"tags", {"family", "places"}}, {"importance", 0.7}});
  const std::string id = created["id"];
  EXPECT_TRUE(created["created"].get<bool>());
  EXPECT_EQ(created["memory"]["tags"], json({"family", "places"}));
  // The same content again is one memory.
  json again = call("POST", "/api/memory", 200, {{"content", "My sister Hana lives in Osaka"}});
  EXPECT_EQ(again["id"], id);
  EXPECT_FALSE(again["created"].get<bool>());
  for (int i = 0; i < 5; ++i) call("POST", "/api/memory", 201, {{"content", "note number " + std::to_string(i)}, {"type", "journal"}});

  json page = call("GET", "/api/memory?limit=2&offset=0&type=journal", 200);
  EXPECT_EQ(page["total"], 5);
  EXPECT_EQ(page["items"].size(), 2u);
  json tagged = call("GET", "/api/memory?tags=family", 200);
  ASSERT_EQ(tagged["items"].size(), 1u);
  EXPECT_EQ(tagged["items"][0]["id"], id);

  json edited = call("PUT", "/api/memory/" + id, 200,
                     {{"content", "My sister Hana lives in Kyoto"}, {"tags", "family"}, {"importance", 0.9}});
  EXPECT_EQ(edited["content"], "My sister Hana lives in Kyoto");
  EXPECT_EQ(edited["tags"], json({"family"}));
  EXPECT_DOUBLE_EQ(edited["importance"].get<double>(), 0.9);
  EXPECT_EQ(call("GET", "/api/memory/" + id, 200)["content"], "My sister Hana lives in Kyoto");

  json hits = call("GET", "/api/memory/search?q=where%20does%20Hana%20live", 200);
  ASSERT_FALSE(hits["items"].empty());
  EXPECT_EQ(hits["items"][0]["id"], id);

  call("PUT", "/api/memory/" + id, 400, {{"importance", 3}});
  call("PUT", "/api/memory/" + id, 400, {{"content", "   "}});
  call("POST", "/api/memory", 400, {{"tags", {"x"}}});
  call("GET", "/api/memory/search?q=", 400);
  call("GET", "/api/memory?limit=100000", 400);
  call("GET", "/api/memory?since=yesterday-ish", 400);

  EXPECT_TRUE(call("DELETE", "/api/memory/" + id, 200)["deleted"].get<bool>());
  json gone = call("GET", "/api/memory/" + id, 404);
  EXPECT_EQ(gone["code"], "not_found");
  call("DELETE", "/api/memory/" + id, 404);
  EXPECT_TRUE(call("GET", "/api/memory/search?q=Hana%20Kyoto&mode=lexical", 200)["items"].empty());
}

TEST_F(ServerTest, MalformedBodiesAndUnknownRoutesAreJsonErrors) {
  start();
  auto c = client();
  auto res = c.Post("/api/memory", "{not json", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["code"], "invalid_input");
  res = c.Post("/api/memory", "[1,2]", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = c.Get("/api/nothing-here");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(json::parse(res->body)["code"], "not_found");
  res = c.Get("/no-such-page.html");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(ServerTest, UploadsDocumentsSearchableAtOnce) {
  start();
  json txt = upload("notes.md", "# Garden\n\nThe tomatoes need water every morning.\n", 201);
  EXPECT_GE(txt["added"].get<int>(), 1);
  json pdf = upload("report.pdf", testing::make_pdf({"Quarterly llama census results", "The alpacas outnumber llamas"}), 201);
  EXPECT_EQ(pdf["format"], "pdf");
  EXPECT_GE(pdf["added"].get<int>(), 1);
  const std::string xlsx = testing::make_xlsx(
      {{"Budget", R"(<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>1250</v></c></row>)"}},
      {"Saffron imports"});
  json sheet = upload("budget.xlsx", xlsx, 201);
  EXPECT_EQ(sheet["format"], "xlsx");

  auto first = [&](const std::string& q) {
    json hits = call("GET", "/api/memory/search?q=" + q, 200);
    return hits["items"].empty() ? json() : hits["items"][0];
  };
  EXPECT_NE(first("tomatoes").value("content", "").find("tomatoes"), std::string::npos);
  json llama = first("alpacas");
  EXPECT_NE(llama.value("content", "").find("alpacas"), std::string::npos);
  EXPECT_EQ(llama["provenance"]["page"], 2);
  EXPECT_NE(first("saffron").value("content", "").find("1250"), std::string::npos);
  // Uploading the same file again stores nothing new.
  EXPECT_EQ(upload("notes.md", "# Garden\n\nThe tomatoes need water every morning.\n", 201)["added"], 0);
}

TEST_F(ServerTest, BadUploadsStoreNothing) {
  start("", /*max_upload=*/1u << 20);
  const int64_t before = memory_count();
  json bad_pdf = upload("broken.pdf", "%PDF-1.4 this is not really a pdf", 400);
  EXPECT_EQ(bad_pdf["code"], "invalid_input");
  upload("broken.xlsx", "PK\x03\x04 not a zip at all", 400);
  upload("data.json", "{\"unterminated\": ", 400);
  upload("program.exe", "MZ\x90\x00", 400);
  EXPECT_EQ(memory_count(), before);
  // No half-stored originals either.
  std::error_code ec;
  int kept = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path() / "data" / "uploads", ec)) kept += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(kept, 0);

  // Over the limit: 413 with a JSON error, whether cpp-httplib or the handler notices.
  auto c = client();
  httplib::MultipartFormDataItems huge = {{"file", std::string(3u << 20, 'a'), "huge.txt", "text/plain"}};
  auto res = c.Post("/api/upload", huge);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(json::parse(res->body)["code"], "too_large");
  EXPECT_EQ(memory_count(), before);

  // No field named file.
  httplib::MultipartFormDataItems wrong = {{"document", "hello", "a.txt", "text/plain"}};
  res = c.Post("/api/upload", wrong);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
}

TEST_F(ServerTest, NoPathTraversal) {
  start();
  json up = upload("../../../etc/passwd.txt", "root-ish text that is harmless\n", 201);
  EXPECT_EQ(up["file"], "passwd.txt");
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "uploads" / up["saved_as"].get<std::string>()));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "etc"));
  std::ofstream(dir.path() / "secret.txt") << "outside";
  auto c = client();
  for (const char* path : {"/api/media/..%2F..%2Fsecret.txt", "/api/media/..%2Fmemory.db", "/api/media/.hidden",
                           "/api/media/%2E%2E"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body.find("outside"), std::string::npos);
  }
  call("POST", "/api/memory", 400, {{"content", "x"}, {"media_path", "../../secret.txt"}});
  call("POST", "/api/memory", 400, {{"content", "y"}, {"media_path", "/etc/passwd"}});
}

TEST_F(ServerTest, SuggestionsApproveEditReject) {
  start();
  json s1 = call("POST", "/api/memory/suggest", 201, {{"content", "Likes green tea"}});
  json s2 = call("POST", "/api/memory/suggest", 201, {{"content", "Hates mornings"}});
  json inbox = call("GET", "/api/suggestions", 200);
  EXPECT_EQ(inbox["total"], 2);
  EXPECT_FALSE(inbox["items"][0]["approved"].get<bool>());
  // Pending suggestions stay out of search until approved.
  EXPECT_TRUE(call("GET", "/api/memory/search?q=green%20tea", 200)["items"].empty());
  call("PUT", "/api/suggestions/" + s1["id"].get<std::string>(), 200, {{"content", "Likes green tea, no sugar"}});
  json approved = call("POST", "/api/suggestions/" + s1["id"].get<std::string>() + "/approve", 200);
  EXPECT_TRUE(approved["approved"].get<bool>());
  EXPECT_EQ(approved["content"], "Likes green tea, no sugar");
  EXPECT_FALSE(call("GET", "/api/memory/search?q=green%20tea", 200)["items"].empty());
  call("POST", "/api/suggestions/" + s2["id"].get<std::string>() + "/reject", 200);
  call("GET", "/api/memory/" + s2["id"].get<std::string>(), 404);
  // An approved memory is no longer a suggestion.
  call("POST", "/api/suggestions/" + s1["id"].get<std::string>() + "/approve", 404);
  EXPECT_EQ(call("GET", "/api/suggestions", 200)["total"], 0);
}

TEST_F(ServerTest, JournalSessionCompilesIntoAnArticle) {
  testing::FakeLlmServer llm([](const json&) { return "# A calm day\n\nWalked by the canal and saw a heron."; });
  start("[llm]\nprovider = \"openai\"\nurl = \"" + llm.url() + "\"\nmodel = \"test-model\"\n");
  EXPECT_FALSE(call("GET", "/api/journal/status", 200)["open"].get<bool>());
  call("POST", "/api/journal/add", 409, {{"text", "no session yet"}});
  call("POST", "/api/journal/start", 201);
  call("POST", "/api/journal/start", 409);
  call("POST", "/api/journal/add", 201, {{"text", "Morning walk by the canal"}});
  call("POST", "/api/journal/add", 201, {{"text", "A heron stood very still"}});
  call("POST", "/api/journal/add", 400, {{"text", " "}});
  json status = call("GET", "/api/journal/status", 200);
  EXPECT_TRUE(status["open"].get<bool>());
  EXPECT_EQ(status["entries"].size(), 2u);
  json article = call("POST", "/api/journal/done", 200);
  EXPECT_NE(article.dump().find("heron"), std::string::npos);
  EXPECT_FALSE(article.contains("markdown_path"));
  json journals = call("GET", "/api/journals", 200);
  ASSERT_EQ(journals["items"].size(), 1u);
  json one = call("GET", "/api/journals/" + journals["items"][0]["id"].get<std::string>(), 200);
  EXPECT_EQ(one["id"], journals["items"][0]["id"]);
  EXPECT_FALSE(call("GET", "/api/journal/status", 200)["open"].get<bool>());
  // Cancel discards a session's drafts.
  call("POST", "/api/journal/start", 201);
  call("POST", "/api/journal/add", 201, {{"text", "to be thrown away"}});
  call("POST", "/api/journal/cancel", 200);
  EXPECT_FALSE(call("GET", "/api/journal/status", 200)["open"].get<bool>());
}

TEST_F(ServerTest, ChatTurnAnswersWithMemoriesAsJsonAndAsStream) {
  testing::FakeLlmServer llm([](const json& request) {
    const std::string prompt = request.dump();
    return prompt.find("Osaka") != std::string::npos ? "Hana lives in Osaka, remember?" : "I don't know.";
  });
  start("[llm]\nprovider = \"openai\"\nurl = \"" + llm.url() + "\"\nmodel = \"test-model\"\n");
  const std::string hana = call("POST", "/api/memory", 201, {{"content", "My sister Hana lives in Osaka"}})["id"];

  json turn = call("POST", "/api/chat", 200, {{"message", "Where does Hana live?"}});
  EXPECT_EQ(turn["reply"], "Hana lives in Osaka, remember?");
  EXPECT_FALSE(turn["queued"].get<bool>());
  bool used = false;
  for (const auto& m : turn["used_memories"]) used = used || m["id"] == hana;
  EXPECT_TRUE(used) << turn.dump();

  // Streamed: deltas, then done with the memories used.
  auto c = client();
  httplib::Headers headers = {{"Accept", "text/event-stream"}};
  std::string stream;
  auto res = c.Post("/api/chat", headers, json{{"message", "And where is Hana again?"}}.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  stream = res->body;
  EXPECT_NE(stream.find("event: delta"), std::string::npos);
  const size_t done = stream.find("event: done\ndata: ");
  ASSERT_NE(done, std::string::npos) << stream;
  const size_t start_of_json = done + std::string("event: done\ndata: ").size();
  json final_event = json::parse(stream.substr(start_of_json, stream.find('\n', start_of_json) - start_of_json));
  EXPECT_EQ(final_event["reply"], "Hana lives in Osaka, remember?");
  EXPECT_FALSE(final_event["used_memories"].empty());
  std::string joined;
  for (size_t p = 0; (p = stream.find("event: delta\ndata: ", p)) != std::string::npos;) {
    p += std::string("event: delta\ndata: ").size();
    joined += json::parse(stream.substr(p, stream.find('\n', p) - p))["text"].get<std::string>();
  }
  EXPECT_EQ(joined, "Hana lives in Osaka, remember?");

  json history = call("GET", "/api/chat/history", 200);
  ASSERT_EQ(history["items"].size(), 4u);
  EXPECT_EQ(history["items"][0]["role"], "user");
  EXPECT_EQ(history["items"][0]["content"], "Where does Hana live?");
  EXPECT_EQ(history["items"][3]["role"], "assistant");
  ASSERT_FALSE(history["items"][3]["used_memories"].empty());
  EXPECT_EQ(history["items"][3]["used_memories"][0]["content"], "My sister Hana lives in Osaka");
}

// Core memory over HTTP: blocks, versions with diffs, a stale edit refused,
// rollback, user blocks.
TEST_F(ServerTest, CoreMemoryBlocksVersionsAndRollback) {
  start();
  json blocks = call("GET", "/api/core", 200);
  ASSERT_EQ(blocks["items"].size(), 3u);
  EXPECT_EQ(blocks["items"][1]["label"], "human");
  json v2 = call("PUT", "/api/core/human", 200, {{"value", "Name: Aiko"}, {"expected_version", 1}});
  EXPECT_EQ(v2["version"], 2);
  EXPECT_EQ(v2["chars"], 10);
  call("PUT", "/api/core/human", 409, {{"value", "stale"}, {"expected_version", 1}});
  call("PUT", "/api/core/human", 200, {{"value", "Name: Aiko\nTea: genmaicha"}});
  json version = call("GET", "/api/core/human/versions/3", 200);
  EXPECT_EQ(version["diff"], "  Name: Aiko\n+ Tea: genmaicha\n");
  EXPECT_EQ(version["author"], "user");
  json history = call("GET", "/api/core/human/history", 200);
  EXPECT_EQ(history["items"].size(), 3u);
  json diff = call("GET", "/api/core/human/diff?from=1&to=3", 200);
  EXPECT_NE(diff["diff"].get<std::string>().find("+ Name: Aiko"), std::string::npos);
  json back = call("POST", "/api/core/human/rollback", 200, {{"version", 2}});
  EXPECT_EQ(back["version"], 4);
  EXPECT_EQ(back["value"], "Name: Aiko");
  call("GET", "/api/core/nope", 404);
  call("GET", "/api/core/human/versions/99", 404);
  call("GET", "/api/core/human/versions/x", 400);
  call("POST", "/api/core", 201, {{"label", "projects"}, {"value", "Kioku"}, {"limit", 100}});
  call("POST", "/api/core", 409, {{"label", "projects"}});
  call("POST", "/api/core", 400, {{"label", "Not OK"}});
  call("DELETE", "/api/core/human", 409);
  call("DELETE", "/api/core/projects", 200);
}

// /mcp's HTTP rules (the SDK test in tests/mcp drives the protocol itself).
TEST_F(ServerTest, McpEndpointChecksTokenOriginVersionAndMethod) {
  start();
  const std::string ping = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  auto post = [&](httplib::Headers headers, const std::string& body, bool authorized = true) {
    auto c = client(authorized);
    headers.emplace("Accept", "application/json, text/event-stream");
    return c.Post("/mcp", headers, body, "application/json");
  };
  auto r = post({}, ping);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["result"], json::object());
  r = post({}, ping, false);
  EXPECT_EQ(r->status, 401);
  r = post({{"Origin", "http://evil.example"}}, ping);
  EXPECT_EQ(r->status, 403);
  r = post({{"Origin", "http://evil.example"}}, ping, false);
  EXPECT_EQ(r->status, 403);  // refused before the token is even looked at
  r = post({{"Origin", "http://localhost:" + std::to_string(server->port())}}, ping);
  EXPECT_EQ(r->status, 200);
  r = post({{"MCP-Protocol-Version", "2024-01-01"}}, ping);
  EXPECT_EQ(r->status, 400);
  r = post({{"MCP-Protocol-Version", "2025-06-18"}}, ping);
  EXPECT_EQ(r->status, 200);
  r = post({}, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(r->status, 202);
  EXPECT_TRUE(r->body.empty());
  r = post({}, "{oops");
  EXPECT_EQ(r->status, 400);
  r = post({}, R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add_memory","arguments":{"content":"From MCP"}}})");
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  EXPECT_NE(r->body.find("event: message"), std::string::npos);
  EXPECT_NE(r->body.find("\"isError\":false"), std::string::npos) << r->body;
  auto c = client();
  auto get = c.Get("/mcp");
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  json found = call("GET", "/api/memory/search?q=MCP", 200);
  EXPECT_FALSE(found["items"].empty()) << found.dump();
}

TEST_F(ServerTest, ChatWithADeadProviderKeepsTheMessageAndQueues) {
  testing::FakeLlmServer llm;
  llm.down = true;
  start("[llm]\nprovider = \"openai\"\nurl = \"" + llm.url() + "\"\nmodel = \"test-model\"\nmax_retries = 0\n");
  json turn = call("POST", "/api/chat", 200, {{"message", "Remember that the boiler is serviced in March"}});
  EXPECT_TRUE(turn["queued"].get<bool>());
  EXPECT_FALSE(turn["notice"].get<std::string>().empty());
  json history = call("GET", "/api/chat/history", 200);
  ASSERT_EQ(history["items"].size(), 1u);
  EXPECT_EQ(history["items"][0]["content"], "Remember that the boiler is serviced in March");
  EXPECT_EQ(call("GET", "/api/status", 200)["queues"]["jobs_open"], 1);
  call("POST", "/api/chat", 400, {{"message", ""}});
}

TEST_F(ServerTest, SettingsKeepTheKeySecret) {
  testing::FakeLlmServer llm;
  start();
  json s = call("GET", "/api/settings", 200);
  EXPECT_FALSE(s["companion"]["suggestions"].get<bool>());  // off by default
  EXPECT_EQ(s["llm"]["provider"], "");
  EXPECT_FALSE(s["providers"].empty());
  json fail = call("GET", "/api/models/available", 400);
  EXPECT_NE(fail["error"].get<std::string>().find("provider"), std::string::npos);

  const std::string key = "sk-test-secret-1234567890";
  json put = call("PUT", "/api/settings", 200,
                  {{"llm", {{"provider", "openai"}, {"url", llm.url()}, {"model", "test-model"}, {"api_key", key}}},
                   {"companion", {{"suggestions", true}, {"persona", "senko"}}}});
  EXPECT_EQ(put["llm"]["provider"], "openai");
  EXPECT_TRUE(put["llm"]["api_key_set"].get<bool>());
  EXPECT_TRUE(put["companion"]["suggestions"].get<bool>());
  EXPECT_EQ(put.dump().find(key), std::string::npos);
  EXPECT_EQ(call("GET", "/api/settings", 200).dump().find(key), std::string::npos);
  EXPECT_EQ(call("GET", "/api/status", 200).dump().find(key), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "data" / "config.toml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "config.toml holding a key must be private";
  // The [embed] section written before survives the rewrite.
  EXPECT_NE(testing::slurp(dir.path() / "data" / "config.toml").find("hashing"), std::string::npos);

  json models = call("GET", "/api/models/available", 200);
  ASSERT_EQ(models["models"].size(), 2u);
  EXPECT_EQ(models["models"][0]["name"], "test-model");
  json status = call("GET", "/api/status", 200);
  EXPECT_TRUE(status["provider"]["reachable"].get<bool>());

  // A provider that does not answer (nothing listens on port 1).
  call("PUT", "/api/settings", 200, {{"llm", {{"url", "http://127.0.0.1:1/v1"}}}});
  json gateway = call("GET", "/api/models/available", 502);
  EXPECT_EQ(gateway["code"], "bad_gateway");
  EXPECT_FALSE(call("GET", "/api/status", 200)["provider"]["reachable"].get<bool>());

  call("PUT", "/api/settings", 400, {{"llm", {{"provider", "skynet"}}}});
  call("PUT", "/api/settings", 400, {{"llm", {{"url", "not a url"}}}});
  call("PUT", "/api/settings", 400, {{"companion", {{"persona", "nobody"}}}});
  call("PUT", "/api/settings", 400, {{"companion", {{"suggestions", "yes"}}}});
  // Removing the key.
  EXPECT_FALSE(call("PUT", "/api/settings", 200, {{"llm", {{"api_key", ""}}}})["llm"]["api_key_set"].get<bool>());
}

TEST_F(ServerTest, StatusAndOpenApiDescribeTheServer) {
  start();
  call("POST", "/api/memory", 201, {{"content", "one"}, {"type", "note"}});
  call("POST", "/api/memory", 201, {{"content", "two"}, {"type", "journal"}, {"tier", "persistent"}});
  json st = call("GET", "/api/status", 200);
  EXPECT_EQ(st["memories"], 2);
  EXPECT_EQ(st["by_type"]["note"], 1);
  EXPECT_EQ(st["by_tier"]["persistent"], 1);
  EXPECT_TRUE(st["queues"].contains("embeddings_pending"));
  EXPECT_FALSE(st["provider"]["configured"].get<bool>());

  json doc = call("GET", "/api/openapi.json", 200);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  for (const auto& [method, path] : server->routes()) {
    std::string m = method;
    for (auto& ch : m) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_TRUE(doc["paths"].contains(path) && doc["paths"][path].contains(m)) << method << " " << path;
  }
  for (const char* required : {"/api/memory", "/api/memory/{id}", "/api/memory/search", "/api/upload", "/api/chat",
                               "/api/settings", "/api/models/available", "/api/memory/suggest", "/api/journal/done"})
    EXPECT_TRUE(doc["paths"].contains(required)) << required;
}

TEST_F(ServerTest, ConcurrentWritersLoseNothing) {
  start();
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", server->port());
      c.set_bearer_token_auth(token);
      for (int i = 0; i < kEach; ++i) {
        const json body = {{"content", "memory " + std::to_string(t) + "-" + std::to_string(i)}};
        auto res = c.Post("/api/memory", body.dump(), "application/json");
        if (!res || res->status != 201) failures++;
        if (i % 8 == 0) {
          auto s = c.Get("/api/memory/search?q=memory");
          if (!s || s->status != 200) failures++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(memory_count(), kThreads * kEach);
}

}  // namespace
}  // namespace kioku

namespace kioku {
namespace {

TEST_F(ServerTest, SearchesCountAsAccessesOnceFlushed) {
  start();
  const std::string id = call("POST", "/api/memory", 201, {{"content", "The spare key is under the blue pot"}})["id"];
  EXPECT_EQ(call("GET", "/api/memory/" + id, 200)["access_count"], 0);
  call("GET", "/api/memory/search?q=spare%20key&mode=lexical", 200);
  call("GET", "/api/memory/search?q=blue%20pot&mode=lexical", 200);
  // Written in a batch by the background loop or, here, at shutdown.
  server.reset();
  start();
  EXPECT_EQ(call("GET", "/api/memory/" + id, 200)["access_count"], 2);
}

}  // namespace
}  // namespace kioku

namespace kioku {
namespace {

// `kioku serve` as a user starts it: the printed address works, the token in
// it is the one `kioku token` prints, SIGTERM stops it cleanly.
TEST(ServeCommand, PrintsTheAddressServesAndStopsOnSigterm) {
  testing::TempDir dir;
  const std::map<std::string, std::string> env = {{"KIOKU_HOME", (dir.path() / "data").string()},
                                                  {"KIOKU_EMBED_PROVIDER", "none"}};
  auto refused = testing::run_binary(KIOKU_BINARY, {"serve", "--host", "0.0.0.0", "--port", "0"}, dir.path() / "cwd", env);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("without an API token"), std::string::npos) << refused.err;

  testing::BackgroundProcess serve(KIOKU_BINARY, {"serve", "--port", "0"}, dir.path() / "serve", env);
  std::string out;
  ASSERT_TRUE(testing::BackgroundProcess::wait_for(
      [&] { return (out = serve.out()).find("#token=") != std::string::npos && out.find('\n', out.find("#token=")) != std::string::npos; },
      std::chrono::seconds(20)))
      << serve.err();
  const size_t at = out.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << out;
  const int port = std::stoi(out.substr(at + std::string("http://127.0.0.1:").size()));
  const size_t t = out.find("#token=") + 7;
  const std::string token = out.substr(t, 64);
  auto printed = testing::run_binary(KIOKU_BINARY, {"token"}, dir.path() / "cwd", env);
  EXPECT_EQ(printed.out, token + "\n");

  httplib::Client c("127.0.0.1", port);
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<script"), std::string::npos);
  c.set_bearer_token_auth(token);
  auto added = c.Post("/api/memory", R"({"content":"served from the binary"})", "application/json");
  ASSERT_TRUE(added);
  EXPECT_EQ(added->status, 201);
  EXPECT_EQ(serve.stop(), 0) << serve.err();
  EXPECT_NE(serve.out().find("Kioku stopped."), std::string::npos);
  // The request log names paths, never the token.
  EXPECT_NE(serve.err().find("POST /api/memory 201"), std::string::npos) << serve.err();
  EXPECT_EQ(serve.err().find(token), std::string::npos);
  auto listed = testing::run_binary(KIOKU_BINARY, {"search", "served", "--json"}, dir.path() / "cwd", env);
  EXPECT_NE(listed.out.find("served from the binary"), std::string::npos) << listed.err;
}

}  // namespace
}  // namespace kioku

namespace kioku {
namespace {

std::vector<std::string> auto_backups(const std::filesystem::path& data) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(data / "backups", ec))
    if (e.path().filename().string().rfind("auto-", 0) == 0) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST_F(ServerTest, BackgroundLoopWritesScheduledBackupsAndKeepsTheNewest) {
  // Three old automatic backups and a manual one, all long overdue.
  const auto backups = dir.path() / "data" / "backups";
  for (const char* name : {"auto-2020-01-01T00-00-00", "auto-2020-01-02T00-00-00", "auto-2020-01-03T00-00-00", "mine"}) {
    std::filesystem::create_directories(backups / name);
    std::filesystem::last_write_time(backups / name, std::filesystem::file_time_type::clock::now() - std::chrono::hours(24 * 400));
  }
  background = true;
  start("[backup]\ninterval_hours = 24\nkeep = 2\n");
  call("POST", "/api/memory", 201, {{"content", "worth backing up"}});
  ASSERT_TRUE(testing::BackgroundProcess::wait_for([&] { return auto_backups(dir.path() / "data").size() == 2 &&
                                                               auto_backups(dir.path() / "data")[0] == "auto-2020-01-03T00-00-00"; },
                                                   std::chrono::seconds(10)));
  const auto names = auto_backups(dir.path() / "data");
  EXPECT_GT(names[1], "auto-2026") << "named by the time it was written";
  EXPECT_GT(std::filesystem::file_size(backups / names[1] / "memory.db"), 0u);
  EXPECT_TRUE(std::filesystem::exists(backups / "mine")) << "manual backups are the user's";
  // One interval must pass before the next: nothing more appears now.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(auto_backups(dir.path() / "data"), names);
}

TEST_F(ServerTest, AutomaticBackupsCanBeTurnedOff) {
  background = true;
  start("[backup]\ninterval_hours = 0\n");
  call("POST", "/api/memory", 201, {{"content", "not backed up automatically"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_TRUE(auto_backups(dir.path() / "data").empty());
}


// Issue 16, defect 1: one POST with an 80k-deep metadata object (480 KB), or
// the same nesting in an upload, killed `kioku serve`.
TEST_F(ServerTest, Defect1_DeeplyNestedJsonIsA400AndTheServerLives) {
  start();
  auto c = client();
  const std::string body = "{\"content\": \"x\", \"metadata\": " + nested_object(80000) + "}";
  auto res = c.Post("/api/memory", body, "application/json");
  ASSERT_TRUE(res) << "the server died";
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_NE(res->body.find("nested deeper than"), std::string::npos) << res->body;
  const std::string file = "[{\"content\": " + std::string(40000, '[') + "\"x\"" + std::string(40000, ']') + "}]";
  json up = upload("deep.json", file, 400);
  EXPECT_EQ(up["code"], "invalid_input");
  upload("meta.json", "[{\"content\": \"x\", \"metadata\": " + nested_object(80000) + "}]", 400);
  EXPECT_EQ(memory_count(), 0);
  // Normal metadata still works.
  call("POST", "/api/memory", 201, {{"content", "fine"}, {"metadata", {{"a", {{"b", 1}}}}}});
}

// Issue 16, defect 5: 70 connections sending a header line every 2 s took all
// worker threads; normal requests got no answer for 30 s.
TEST_F(ServerTest, Defect5_SlowHeadersDoNotStarveOtherClients) {
  start();  // 16 threads
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 24; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server->port()));
    ASSERT_TRUE(slow.back()->connected());
    slow.back()->send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  }
  std::atomic<bool> dribbling{true};
  std::thread dribbler([&] {
    for (int round = 0; round < 40 && dribbling; ++round) {
      for (auto& conn : slow) conn->send("X-Slow: " + std::to_string(round) + "\r\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 5; ++i) {
    auto c = client(false);
    c.set_read_timeout(10);
    const auto began = std::chrono::steady_clock::now();
    auto res = c.Get("/api/health");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    ASSERT_TRUE(res) << "no answer while slow clients hold connections";
    EXPECT_EQ(res->status, 200);
    EXPECT_LT(seconds, 2.0) << "request " << i << " waited behind slow clients";
  }
  dribbling = false;
  dribbler.join();
  // The slow heads themselves are cut off after the head timeout (5 s).
  RawConnection late(server->port());
  late.send("GET /api/health HTTP/1.1\r\n");
  const auto began = std::chrono::steady_clock::now();
  late.read_all(std::chrono::seconds(9));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(), 8.0)
      << "a request head was allowed to take forever";
}

// Issue 16, defect 6: a second `kioku serve` on a busy port started silently
// (SO_REUSEPORT) and took half the requests.
TEST_F(ServerTest, Defect6_ASecondServerOnABusyPortRefusesToStart) {
  start();
  testing::TempDir other;
  ServerOptions o;
  o.data_dir = other.path() / "data";
  o.env = env_of({});
  o.port = server->port();
  o.background = false;
  Server second(o);
  try {
    second.bind();
    FAIL() << "a second server bound port " << o.port;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find(std::to_string(o.port)), std::string::npos) << e.what();
  }
  for (int i = 0; i < 10; ++i) call("GET", "/api/memory?limit=1", 200);  // all still answered by the first
}

// Issue 16, defect 7: a database locked by another process for longer than
// the busy timeout was answered 500.
TEST_F(ServerTest, Defect7_ALockedDatabaseIs503WithRetryAfter) {
  start();
  call("POST", "/api/memory", 201, {{"content", "before the lock"}});
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "data" / "memory.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto c = client();
  auto res = c.Post("/api/memory", json{{"content", "while locked"}}.dump(), "application/json");
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_EQ(res->get_header_value("Retry-After"), "5");
  EXPECT_EQ(json::parse(res->body)["code"], "unavailable");
  call("POST", "/api/memory", 201, {{"content", "after the lock"}});
}

// Issue 16, defect 8: the Host header was not checked (DNS rebinding); a POST
// without body and Content-Length got 400; error messages carried absolute
// server paths; crashed uploads left orphan files.
TEST_F(ServerTest, Defect8_HostHeaderBodylessPostPathsAndOrphanUploads) {
  std::filesystem::create_directories(dir.path() / "data" / "uploads" / ".incoming");
  std::ofstream(dir.path() / "data" / "uploads" / ".incoming" / "0199-crashed.md") << "half";
  std::ofstream(dir.path() / "data" / "uploads" / ".journal-0199") << "staged";
  std::ofstream(dir.path() / "data" / "uploads" / "kept.md") << "an upload that finished";
  start();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "data" / "uploads" / ".incoming" / "0199-crashed.md"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "data" / "uploads" / ".journal-0199"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "uploads" / "kept.md"));
  json up = upload("notes.md", "Kept after the commit.\n", 201);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "uploads" / up["saved_as"].get<std::string>()));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "data" / "uploads" / ".incoming"));

  auto raw = [&](const std::string& request) {
    RawConnection conn(server->port());
    conn.send(request);
    return conn.read_all(std::chrono::seconds(3));
  };
  const std::string auth = "Authorization: Bearer " + token + "\r\n";
  EXPECT_EQ(raw("GET /api/health HTTP/1.1\r\nHost: rebind.attacker.example\r\n\r\n").rfind("HTTP/1.1 403", 0), 0u);
  EXPECT_EQ(raw("GET /api/memory HTTP/1.1\r\nHost: rebind.attacker.example:" + std::to_string(server->port()) + "\r\n" + auth + "\r\n")
                .rfind("HTTP/1.1 403", 0),
            0u);
  for (const std::string host : {"127.0.0.1:" + std::to_string(server->port()), std::string("localhost"), std::string("[::1]:80")}) {
    EXPECT_EQ(raw("GET /api/health HTTP/1.1\r\nHost: " + host + "\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u) << host;
  }
  const auto began = std::chrono::steady_clock::now();
  const std::string started = raw("POST /api/journal/start HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "\r\n");
  EXPECT_EQ(started.rfind("HTTP/1.1 201", 0), 0u) << started;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(), 2.0);

  auto c = client();
  httplib::MultipartFormDataItems items = {{"image", "not an image at all", "x.png", "image/png"}};
  auto res = c.Post("/api/journal/add", items);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_EQ(res->body.find(dir.path().string()), std::string::npos) << res->body;
}


// Issue 16, defect 8: PUT /api/settings dropped every comment of config.toml.
TEST_F(ServerTest, Defect8_SettingsKeepTheCommentsOfConfigToml) {
  start("# My own note about this file\n[llm]\n# the model I like\nmodel = \"small\"\nprovider = \"ollama\"  # local\n");
  call("PUT", "/api/settings", 200, {{"llm", {{"model", "large"}, {"url", "http://127.0.0.1:1/v1"}}}, {"companion", {{"suggestions", true}}}});
  const std::string text = testing::slurp(dir.path() / "data" / "config.toml");
  EXPECT_NE(text.find("# My own note about this file"), std::string::npos) << text;
  EXPECT_NE(text.find("# the model I like"), std::string::npos) << text;
  EXPECT_NE(text.find("provider = \"ollama\"  # local"), std::string::npos) << text;
  EXPECT_EQ(text.find("small"), std::string::npos) << text;
  json settings = call("GET", "/api/settings", 200);
  EXPECT_EQ(settings["llm"]["model"], "large");
  EXPECT_EQ(settings["llm"]["url"], "http://127.0.0.1:1/v1");
  EXPECT_EQ(settings["companion"]["suggestions"], true);
  EXPECT_EQ(std::filesystem::status(dir.path() / "data" / "config.toml").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace
}  // namespace kioku

namespace kioku {
namespace {

// Regression: the status was built three times in three shapes. The CLI's
// `status --json` and GET /api/status are now one document.
TEST_F(ServerTest, CliStatusAndApiStatusAreTheSameDocument) {
  start("[llm]\nprovider = \"openai\"\nurl = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\n");
  call("POST", "/api/memory", 201, {{"content", "Tea with Hana on Sunday"}, {"tags", {"family"}}});
  call("POST", "/api/memory", 201, {{"content", "Bike to the lake"}});
  json api = call("GET", "/api/status", 200);
  auto cli = testing::run_binary(KIOKU_BINARY, {"--data-dir", (dir.path() / "data").string(), "status", "--json"},
                                 dir.path() / "cwd", {});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  json doc = json::parse(cli.out);
  // The one field that belongs to the process, not the data.
  api.erase("uptime_s");
  doc.erase("uptime_s");
  EXPECT_EQ(doc, api) << "cli: " << doc.dump(2) << "\napi: " << api.dump(2);
  EXPECT_EQ(api["memories"], 2);
  EXPECT_FALSE(api["provider"]["reachable"].get<bool>());
  EXPECT_TRUE(api["jobs"]["by_state"].contains("failed"));
}

// Regression: kioku import and POST /api/upload answered in different
// shapes. Both now give the document of app/engine.h's store_imports().
TEST_F(ServerTest, ImportAndUploadAnswerInTheSameShape) {
  start();
  json uploaded = upload("trip.md", "# Trip\n\nWe saw the Fushimi Inari shrine.\n", 201);
  std::filesystem::create_directories(dir.path() / "files");
  std::ofstream(dir.path() / "files" / "food.md") << "# Food\n\nRamen at Kyoto station.\n";
  auto cli = testing::run_binary(KIOKU_BINARY,
                                 {"--data-dir", (dir.path() / "data").string(), "import",
                                  (dir.path() / "files" / "food.md").string(), "--json"},
                                 dir.path() / "cwd", {});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  json imported = json::parse(cli.out).at(0);
  EXPECT_TRUE(uploaded.contains("saved_as"));
  uploaded.erase("saved_as");  // the upload's own: where the original was kept
  std::vector<std::string> upload_keys, import_keys;
  for (const auto& [k, v] : uploaded.items()) upload_keys.push_back(k);
  for (const auto& [k, v] : imported.items()) import_keys.push_back(k);
  EXPECT_EQ(upload_keys, import_keys);
  EXPECT_EQ(uploaded["format"], imported["format"]);
  EXPECT_EQ(uploaded["added"], 1);
  EXPECT_EQ(imported["added"], 1);
}

}  // namespace
}  // namespace kioku
