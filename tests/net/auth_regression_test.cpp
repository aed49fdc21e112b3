// Regression (issue 10): "The LLM client turns a 401 (a wrong API key) into
// 'unreachable' and queues the turn to retry for ever." A wrong API key must
// give a clear auth error at once, one request, and no queued turn.
#include <gtest/gtest.h>

#include <atomic>

#include "companion/companion_service.h"
#include "core/error.h"
#include "llm/llm_client.h"
#include "store/sqlite/sqlite_store.h"
#include "store/job_store.h"
#include "testing/loopback_server.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

constexpr const char* kRightKey = "sk-right-key-0001";
constexpr const char* kWrongKey = "sk-wrong-key-9999";

// OpenAI's /v1/chat/completions and Anthropic's /v1/messages as they answer
// a key they do not know (the OpenAI body echoes the key it refused).
class KeyCheckingProvider {
 public:
  KeyCheckingProvider()
      : server_([this](httplib::Server& s) {
          s.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
            ++requests;
            if (req.get_header_value("Authorization") != std::string("Bearer ") + kRightKey) {
              res.status = 401;
              res.set_content(nlohmann::json{{"error",
                                              {{"message", "Incorrect API key provided: " +
                                                               req.get_header_value("Authorization").substr(7)},
                                               {"type", "invalid_request_error"},
                                               {"code", "invalid_api_key"}}}}
                                  .dump(),
                              "application/json");
              return;
            }
            res.set_content(R"({"choices":[{"message":{"content":"hello"},"finish_reason":"stop"}]})",
                            "application/json");
          });
          s.Post("/v1/messages", [this](const httplib::Request& req, httplib::Response& res) {
            ++requests;
            res.status = 401;
            res.set_content(R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}})",
                            "application/json");
          });
        }) {}
  std::string url(const std::string& path = "") const { return server_.url(path); }
  std::atomic<int> requests{0};

 private:
  testing::LoopbackServer server_;
};

LlmConfig config_for(const std::string& provider, const std::string& url, const std::string& key) {
  LlmConfig c;
  c.provider = provider;
  c.url = url;
  c.model = "test-model";
  c.api_key = key;
  c.max_retries = 3;  // would be four requests if auth errors were retried
  c.backoff_s = 0.01;
  c.timeout_s = 5;
  return c;
}

TEST(WrongApiKey, GivesAClearAuthErrorAndNoEndlessRetry) {
  KeyCheckingProvider provider;
  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2026-03-01T10:00:00Z")};
  auto store = open_sqlite_memory_store(dir / "memory.db", clock);
  auto jobs = open_sqlite_job_store(dir / "memory.db", clock);
  Searcher searcher(*store, nullptr, clock);
  auto llm = make_llm_client(config_for("openai", provider.url("/v1"), kWrongKey));
  CompanionService companion(*store, *jobs, searcher, llm.get(), default_persona(), {}, clock);

  for (bool streamed : {false, true}) {
    provider.requests = 0;
    std::function<void(std::string_view)> on_delta = [](std::string_view) {};
    try {
      companion.chat("local", streamed ? "and streamed?" : "hello?", streamed ? &on_delta : nullptr);
      FAIL() << "a refused key must fail the turn";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kAuthFailed);
      const std::string message = e.what();
      EXPECT_NE(message.find("the API key was refused by openai-compatible server"), std::string::npos) << message;
      EXPECT_EQ(message.find(kWrongKey), std::string::npos) << message;
    }
    EXPECT_EQ(provider.requests.load(), 1) << "an auth error is never retried";
  }
  // Nothing waits in the queue to be retried for ever, and nothing is lost:
  // both messages are stored.
  EXPECT_EQ(jobs->count_open("local"), 0);
  EXPECT_EQ(companion.run_queue().failed, 0);
  MemoryFilter chats;
  chats.types = {"chat"};
  EXPECT_EQ(store->list(chats, ListOrder::kOldestFirst, 10, 0).size(), 2u);
  EXPECT_EQ(provider.requests.load(), 1);

  // With the right key the same server answers.
  auto good = make_llm_client(config_for("openai", provider.url("/v1"), kRightKey));
  CompanionService fixed(*store, *jobs, searcher, good.get(), default_persona(), {}, clock);
  EXPECT_EQ(fixed.chat("local", "hello again").reply, "hello");
}

TEST(WrongApiKey, AnthropicNamesTheProviderThatRefusedIt) {
  KeyCheckingProvider provider;
  auto llm = make_llm_client(config_for("anthropic", provider.url(), kWrongKey));
  ChatRequest request;
  request.messages = {{"user", "hi"}};
  try {
    llm->chat(request);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kAuthFailed);
    EXPECT_NE(std::string(e.what()).find("the API key was refused by Anthropic"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("invalid x-api-key"), std::string::npos) << e.what();
  }
  EXPECT_EQ(provider.requests.load(), 1);
}

// As a user meets it: `kioku chat` says what is wrong, exits non-zero (8)
// at once, and `kioku jobs list` has nothing waiting.
TEST(WrongApiKey, TheCliSaysSoAndQueuesNothing) {
  KeyCheckingProvider provider;
  testing::TempDir dir;
  const std::map<std::string, std::string> env = {{"KIOKU_HOME", dir.path().string()},
                                                  {"KIOKU_LLM_PROVIDER", "openai"},
                                                  {"KIOKU_LLM_URL", provider.url("/v1")},
                                                  {"KIOKU_LLM_MODEL", "test-model"},
                                                  {"KIOKU_LLM_API_KEY", kWrongKey},
                                                  // one request: the turn's (not also an emotion reading)
                                                  {"KIOKU_PROFILE_EMOTION", "lexicon"}};
  ASSERT_EQ(testing::run_binary(KIOKU_BINARY, {"init"}, dir / "cwd", env).exit_code, 0);
  const auto chat = testing::run_binary(KIOKU_BINARY, {"chat", "--message", "hello?"}, dir / "cwd", env);
  EXPECT_EQ(chat.exit_code, 8) << chat.out << chat.err;
  EXPECT_NE(chat.err.find("the API key was refused by"), std::string::npos) << chat.err;
  EXPECT_EQ(chat.err.find(kWrongKey), std::string::npos) << chat.err;
  EXPECT_EQ(chat.out.find(kWrongKey), std::string::npos) << chat.out;
  EXPECT_EQ(provider.requests.load(), 1);
  const auto queue = testing::run_binary(KIOKU_BINARY, {"jobs", "list", "--json"}, dir / "cwd", env);
  ASSERT_EQ(queue.exit_code, 0) << queue.err;
  EXPECT_EQ(nlohmann::json::parse(queue.out)["jobs"].size(), 0u) << queue.out;
}

}  // namespace
}  // namespace kioku
