// The three providers against loopback servers that speak their protocols,
// including servers that misbehave on purpose.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "llm/fake_llm_server.h"
#include "llm/llm_client.h"
#include "testing/loopback_server.h"

namespace kioku {
namespace {

using testing::LoopbackServer;

LlmConfig config_for(const std::string& provider, const std::string& url) {
  LlmConfig c;
  c.provider = provider;
  c.url = url;
  c.model = "test-model";
  c.api_key = "sk-secret-key-123";
  c.backoff_s = 0.01;
  c.max_retries = 2;
  c.timeout_s = 2;
  return c;
}

ChatRequest hello() {
  ChatRequest r;
  r.messages = {{"system", "You are Senko."}, {"user", "Hello there"}};
  return r;
}

std::string sse(const std::vector<nlohmann::json>& events, bool done = true) {
  std::string s;
  for (const auto& e : events) s += "data: " + e.dump() + "\n\n";
  if (done) s += "data: [DONE]\n\n";
  return s;
}

TEST(OpenAi, WholeAndStreamedReplies) {
  testing::FakeLlmServer server;
  auto client = make_llm_client(config_for("openai", server.url()));
  auto whole = client->chat(hello());
  EXPECT_EQ(whole.text, "echo: Hello there");
  EXPECT_EQ(whole.prompt_tokens, 10);
  std::string streamed;
  StreamCallback cb = [&](std::string_view d) { streamed += d; };
  auto r = client->chat(hello(), &cb);
  EXPECT_EQ(r.text, "echo: Hello there");
  EXPECT_EQ(streamed, r.text);
  auto req = server.requests().back();
  EXPECT_EQ(req["model"], "test-model");
  EXPECT_EQ(req["messages"][0]["role"], "system");
  EXPECT_TRUE(req["stream"].get<bool>());
  auto models = client->list_models();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].name, "test-model");
}

TEST(OpenAi, StreamedToolCallFragmentsAndImages) {
  nlohmann::json seen;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
      seen = nlohmann::json::parse(req.body);
      res.set_content(sse({
          {{"choices", {{{"index", 0}, {"delta", {{"tool_calls", {{{"index", 0}, {"id", "call_1"}, {"function", {{"name", "remember"}, {"arguments", "{\"con"}}}}}}}}}}}},
          {{"choices", {{{"index", 0}, {"delta", {{"tool_calls", {{{"index", 0}, {"function", {{"arguments", "tent\": \"tea\"}"}}}}}}}}}}}},
          {{"choices", {{{"index", 0}, {"delta", nlohmann::json::object()}, {"finish_reason", "tool_calls"}}}}},
      }), "text/event-stream");
    });
  });
  auto client = make_llm_client(config_for("openai", server.url("/v1")));
  ChatRequest r = hello();
  r.messages[1].images.push_back({"image/png", "\x89PNG"});
  r.tools.push_back({"remember", "Store a memory", {{"type", "object"}}});
  StreamCallback cb = [](std::string_view) {};
  auto out = client->chat(r, &cb);
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].id, "call_1");
  EXPECT_EQ(out.tool_calls[0].name, "remember");
  EXPECT_EQ(out.tool_calls[0].arguments["content"], "tea");
  EXPECT_EQ(out.finish_reason, "tool_calls");
  const auto& parts = seen["messages"][1]["content"];
  EXPECT_EQ(parts[1]["type"], "image_url");
  EXPECT_EQ(parts[1]["image_url"]["url"], "data:image/png;base64,iVBORw==");
  EXPECT_EQ(seen["tools"][0]["function"]["name"], "remember");
}

TEST(OpenAi, RetriesRateLimitsAndServerErrors) {
  testing::FakeLlmServer server;
  server.fail_next = 2;
  auto client = make_llm_client(config_for("openai", server.url()));
  EXPECT_EQ(client->chat(hello()).text, "echo: Hello there");
  std::atomic<int> calls{0};
  LoopbackServer limited([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
      if (++calls == 1) {
        res.status = 429;
        res.set_header("Retry-After", "0");
        return;
      }
      res.set_content(R"({"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]})", "application/json");
    });
  });
  EXPECT_EQ(make_llm_client(config_for("openai", limited.url("/v1")))->chat(hello()).text, "ok");
  EXPECT_EQ(calls.load(), 2);
}

TEST(OpenAi, FailuresAreClearAndNeverShowTheKey) {
  testing::FakeLlmServer server;
  server.down = true;
  LoopbackServer broken([&](httplib::Server& s) {
    s.Post("/v1/malformed/chat/completions", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"choices\": [", "application/json");
    });
    s.Post("/v1/cut/chat/completions", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("data: {\"choices\":[{\"delta\":{\"content\":\"half\"}}]}\n\n", "text/event-stream");
    });
    s.Post("/v1/slow/chat/completions", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("{}", "application/json");
    });
    s.Post("/v1/denied/chat/completions", [](const httplib::Request&, httplib::Response& res) {
      res.status = 401;
      res.set_content(R"({"error":{"message":"bad key sk-secret-key-123"}})", "application/json");
    });
  });
  std::vector<std::pair<std::string, bool>> cases = {
      {server.url(), false},                 // always 503: gives up
      {broken.url("/v1/malformed"), false},  // malformed JSON
      {broken.url("/v1/cut"), true},         // stream without an end
      {broken.url("/v1/slow"), false},       // slower than the timeout
      {"http://127.0.0.1:9/v1", false},      // nothing listening
  };
  for (const auto& [url, stream] : cases) {
    auto c = config_for("openai", url);
    c.timeout_s = 0.5;
    c.max_retries = 1;
    auto client = make_llm_client(c);
    StreamCallback cb = [](std::string_view) {};
    try {
      client->chat(hello(), stream ? &cb : nullptr);
      FAIL() << url;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << url;
      EXPECT_EQ(std::string(e.what()).find("sk-secret-key-123"), std::string::npos) << e.what();
    }
  }
  // A 401 with the key echoed back is not an outage: the key was refused (no retry, no queue).
  auto c = config_for("openai", broken.url("/v1/denied"));
  c.api_key = "sk-secret-key-123";
  try {
    make_llm_client(c)->chat(hello());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kAuthFailed);
    EXPECT_NE(std::string(e.what()).find("the API key was refused by"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("sk-secret-key-123"), std::string::npos) << e.what();
  }
}

TEST(Ollama, NdjsonStreamingToolsImagesAndTags) {
  nlohmann::json seen;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/api/chat", [&](const httplib::Request& req, httplib::Response& res) {
      seen = nlohmann::json::parse(req.body);
      if (seen["stream"].get<bool>()) {
        res.set_content(
            "{\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n"
            "{\"message\":{\"role\":\"assistant\",\"content\":\"lo!\"},\"done\":false}\n"
            "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":7,\"eval_count\":2}\n",
            "application/x-ndjson");
      } else {
        res.set_content(R"({"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"remember","arguments":{"content":"tea"}}}]},"done":true})",
                        "application/json");
      }
    });
    s.Get("/api/tags", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"models":[{"name":"gemma3:4b","size":3300000000},{"name":"llama3.2:3b","size":2000000000}]})", "application/json");
    });
  });
  auto c = config_for("ollama", server.url());
  c.settings.context_size = 2048;
  auto client = make_llm_client(c);
  std::string streamed;
  StreamCallback cb = [&](std::string_view d) { streamed += d; };
  ChatRequest r = hello();
  r.messages[1].images.push_back({"image/jpeg", "abc"});
  auto out = client->chat(r, &cb);
  EXPECT_EQ(out.text, "Hello!");
  EXPECT_EQ(streamed, "Hello!");
  EXPECT_EQ(out.prompt_tokens, 7);
  EXPECT_EQ(seen["messages"][1]["images"][0], "YWJj");
  EXPECT_EQ(seen["options"]["num_ctx"], 2048);
  r.tools.push_back({"remember", "Store", {{"type", "object"}}});
  auto tools = client->chat(r);
  ASSERT_EQ(tools.tool_calls.size(), 1u);
  EXPECT_EQ(tools.tool_calls[0].arguments["content"], "tea");
  auto models = client->list_models();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].name, "gemma3:4b");
  EXPECT_EQ(models[0].size_bytes, 3300000000LL);
}

TEST(Ollama, ErrorsAndCutStreams) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/api/chat", [](const httplib::Request& req, httplib::Response& res) {
      if (nlohmann::json::parse(req.body)["stream"].get<bool>()) {
        res.set_content("{\"message\":{\"content\":\"par\"},\"done\":false}\n", "application/x-ndjson");
      } else {
        res.status = 404;
        res.set_content(R"({"error":"model 'test-model' not found"})", "application/json");
      }
    });
  });
  auto client = make_llm_client(config_for("ollama", server.url()));
  try {
    client->chat(hello());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos);
  }
  StreamCallback cb = [](std::string_view) {};
  EXPECT_THROW(client->chat(hello(), &cb), Error);
}

TEST(Anthropic, MessagesStreamingAndTools) {
  nlohmann::json seen;
  std::string key, version;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/messages", [&](const httplib::Request& req, httplib::Response& res) {
      seen = nlohmann::json::parse(req.body);
      key = req.get_header_value("x-api-key");
      version = req.get_header_value("anthropic-version");
      if (seen.value("stream", false)) {
        std::string events =
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12}}}\n\n"
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n"
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"you\"}}\n\n"
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"tu_1\",\"name\":\"remember\",\"input\":{}}}\n\n"
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"content\\\": \"}}\n\n"
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"tea\\\"}\"}}\n\n"
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n"
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        res.set_content(events, "text/event-stream");
      } else {
        res.set_content(R"({"content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}})",
                        "application/json");
      }
    });
  });
  auto client = make_llm_client(config_for("anthropic", server.url()));
  auto whole = client->chat(hello());
  EXPECT_EQ(whole.text, "Hello!");
  EXPECT_EQ(seen["system"], "You are Senko.");
  EXPECT_EQ(seen["messages"].size(), 1u);  // the system message moved out
  EXPECT_EQ(key, "sk-secret-key-123");
  EXPECT_EQ(version, "2023-06-01");
  std::string streamed;
  StreamCallback cb = [&](std::string_view d) { streamed += d; };
  ChatRequest r = hello();
  r.messages[1].images.push_back({"image/png", "abc"});
  auto out = client->chat(r, &cb);
  EXPECT_EQ(streamed, "Hi you");
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].arguments["content"], "tea");
  EXPECT_EQ(out.prompt_tokens, 12);
  EXPECT_EQ(out.completion_tokens, 9);
  EXPECT_EQ(seen["messages"][0]["content"][0]["source"]["data"], "YWJj");
}

TEST(LlmConfig, EnvironmentOverridesAndRedaction) {
  auto env = [](const std::string& n) -> std::optional<std::string> {
    if (n == "KIOKU_LLM_PROVIDER") return "ollama";
    if (n == "KIOKU_LLM_MODEL") return "gemma3:4b";
    if (n == "KIOKU_LLM_API_KEY") return "secret";
    return std::nullopt;
  };
  Config config = Config::empty(env);
  LlmConfig c = load_llm_config(config);
  EXPECT_EQ(c.provider, "ollama");
  EXPECT_EQ(c.url, "http://127.0.0.1:11434");
  EXPECT_EQ(c.model, "gemma3:4b");
  EXPECT_EQ(c.redacted().dump().find("secret"), std::string::npos);
  auto bad = [](const std::string& n) -> std::optional<std::string> {
    if (n == "KIOKU_LLM_PROVIDER") return "skynet";
    return std::nullopt;
  };
  EXPECT_THROW(load_llm_config(Config::empty(bad)), Error);
  EXPECT_EQ(make_llm_client(load_llm_config(Config::empty([](const std::string&) { return std::optional<std::string>(); }))), nullptr);
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(base64_encode(""), "");
}

}  // namespace
}  // namespace kioku
