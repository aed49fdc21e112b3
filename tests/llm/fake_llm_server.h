// A loopback OpenAI-compatible server for tests: answers /v1/chat/completions
// (whole or streamed as SSE) and /v1/models, records every request body so a
// test can check what was in the prompt, and can be told to misbehave.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "testing/loopback_server.h"

namespace kioku::testing {

class FakeLlmServer {
 public:
  // Maps the request body to the reply text. Default: echoes the last user message.
  using ReplyFn = std::function<std::string(const nlohmann::json& request)>;

  explicit FakeLlmServer(ReplyFn reply = {})
      : reply_(reply ? std::move(reply) : [](const nlohmann::json& r) {
          return "echo: " + r["messages"].back().value("content", std::string());
        }),
        server_([this](httplib::Server& s) { routes(s); }) {}

  std::string url() const { return server_.url("/v1"); }
  std::vector<nlohmann::json> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  // The system and user messages of the last request, joined: "the prompt".
  std::string last_prompt() {
    auto r = requests();
    if (r.empty()) return "";
    std::string out;
    for (const auto& m : r.back()["messages"]) out += m.value("content", std::string()) + "\n";
    return out;
  }
  std::atomic<int> fail_next{0};      // answer this many requests with 500
  std::atomic<bool> down{false};      // answer everything with 503

 private:
  void routes(httplib::Server& s) {
    s.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"test-model"},{"id":"other-model"}]})", "application/json");
    });
    s.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      if (down || fail_next > 0) {
        if (fail_next > 0) --fail_next;
        res.status = down ? 503 : 500;
        res.set_content(R"({"error":{"message":"simulated failure"}})", "application/json");
        return;
      }
      auto body = nlohmann::json::parse(req.body);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(body);
      }
      const std::string text = reply_(body);
      if (body.value("stream", false)) {
        std::string sse;
        for (size_t i = 0; i < text.size(); i += 5) {
          nlohmann::json chunk = {{"choices", {{{"index", 0}, {"delta", {{"content", text.substr(i, 5)}}}}}}};
          sse += "data: " + chunk.dump() + "\n\n";
        }
        sse += "data: " + nlohmann::json{{"choices", {{{"index", 0}, {"delta", nlohmann::json::object()}, {"finish_reason", "stop"}}}}}.dump() + "\n\n";
        sse += "data: [DONE]\n\n";
        res.set_content(sse, "text/event-stream");
        return;
      }
      nlohmann::json out = {{"id", "chatcmpl-1"},
                            {"object", "chat.completion"},
                            {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"finish_reason", "stop"}}}},
                            {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 5}}}};
      res.set_content(out.dump(), "application/json");
    });
  }

  ReplyFn reply_;
  std::mutex mutex_;
  std::vector<nlohmann::json> requests_;
  LoopbackServer server_;
};

}  // namespace kioku::testing
