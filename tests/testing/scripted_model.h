// A scripted language model on loopback that speaks one of the three wire
// protocols (OpenAI chat completions, Anthropic messages, Ollama chat), whole
// or streamed, including tool calls. A test's script sees what the model was
// sent (tools offered, tool results so far, the system prompt) and says what
// to answer: text and/or tool calls whose arguments are raw text, so a test
// can send malformed JSON. It can be told to drop (503) after N requests,
// or to refuse requests that carry tools, as a model without tool calling.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "testing/loopback_server.h"

namespace kioku::testing {

enum class Wire { kOpenAi, kAnthropic, kOllama };

inline const char* wire_name(Wire w) {
  return w == Wire::kOpenAi ? "openai" : w == Wire::kAnthropic ? "anthropic" : "ollama";
}

struct ScriptedCall {
  std::string name;
  std::string arguments;  // raw JSON text, possibly malformed
};

struct ScriptedStep {
  std::string text;
  std::vector<ScriptedCall> calls;
};

struct ScriptView {
  std::vector<std::string> tools;         // names offered in this request
  std::vector<std::string> tool_results;  // contents of the tool results so far, in order
  std::string system;                     // the system prompt
  int request_index = 0;                  // 0-based, over the server's life
  nlohmann::json body;                    // the raw request
};

using Script = std::function<ScriptedStep(const ScriptView&)>;

class ScriptedModel {
 public:
  ScriptedModel(Wire wire, Script script)
      : wire_(wire), script_(std::move(script)), server_([this](httplib::Server& s) { routes(s); }) {}

  // The [llm] url for this wire.
  std::string url() const { return wire_ == Wire::kOpenAi ? server_.url("/v1") : server_.url(); }
  Wire wire() const { return wire_; }
  std::vector<nlohmann::json> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  std::atomic<int> drop_after{-1};       // requests beyond this many get 503 (-1: never)
  std::atomic<bool> refuse_tools{false};  // 400 "does not support tools" when tools are sent

 private:
  static ScriptView view_of(Wire wire, const nlohmann::json& body, int index) {
    ScriptView v;
    v.request_index = index;
    v.body = body;
    if (body.contains("tools"))
      for (const auto& t : body["tools"])
        v.tools.push_back(wire == Wire::kAnthropic ? t.value("name", "") : t["function"].value("name", ""));
    if (wire == Wire::kAnthropic) {
      v.system = body.value("system", "");
      for (const auto& m : body["messages"])
        if (m["content"].is_array())
          for (const auto& block : m["content"])
            if (block.value("type", "") == "tool_result") v.tool_results.push_back(block.value("content", ""));
    } else {
      for (const auto& m : body["messages"]) {
        if (m.value("role", "") == "system" && v.system.empty() && m["content"].is_string()) v.system = m["content"];
        if (m.value("role", "") == "tool") v.tool_results.push_back(m.value("content", ""));
      }
    }
    return v;
  }

  void routes(httplib::Server& s) {
    const char* path = wire_ == Wire::kOpenAi ? "/v1/chat/completions" : wire_ == Wire::kAnthropic ? "/v1/messages" : "/api/chat";
    s.Post(path, [this](const httplib::Request& req, httplib::Response& res) {
      auto body = nlohmann::json::parse(req.body);
      int index = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        index = static_cast<int>(requests_.size());
        requests_.push_back(body);
      }
      if (drop_after >= 0 && index >= drop_after) {
        res.status = 503;
        res.set_content(R"({"error":{"message":"overloaded"}})", "application/json");
        return;
      }
      if (refuse_tools && body.contains("tools") && !body["tools"].empty()) {
        res.status = 400;
        res.set_content(R"({"error":"test-model does not support tools"})", "application/json");
        return;
      }
      const ScriptedStep step = script_(view_of(wire_, body, index));
      const bool stream = body.value("stream", false);
      if (wire_ == Wire::kOpenAi) openai(step, stream, index, res);
      else if (wire_ == Wire::kAnthropic) anthropic(step, stream, index, res);
      else ollama(step, stream, res);
    });
  }

  static std::vector<std::string> pieces(const std::string& text) {
    std::vector<std::string> out;
    for (size_t i = 0; i < text.size(); i += 5) out.push_back(text.substr(i, 5));
    return out;
  }
  static std::string call_id(int index, size_t i) { return "call_" + std::to_string(index) + "_" + std::to_string(i); }

  static void openai(const ScriptedStep& step, bool stream, int index, httplib::Response& res) {
    using nlohmann::json;
    const std::string finish = step.calls.empty() ? "stop" : "tool_calls";
    if (!stream) {
      json msg = {{"role", "assistant"}, {"content", step.text.empty() ? json(nullptr) : json(step.text)}};
      if (!step.calls.empty()) {
        msg["tool_calls"] = json::array();
        for (size_t i = 0; i < step.calls.size(); ++i)
          msg["tool_calls"].push_back({{"id", call_id(index, i)}, {"type", "function"},
                                       {"function", {{"name", step.calls[i].name}, {"arguments", step.calls[i].arguments}}}});
      }
      json out = {{"choices", {{{"index", 0}, {"message", msg}, {"finish_reason", finish}}}},
                  {"usage", {{"prompt_tokens", 100 + index}, {"completion_tokens", 5}}}};
      res.set_content(out.dump(), "application/json");
      return;
    }
    std::string sse;
    auto event = [&](const json& j) { sse += "data: " + j.dump() + "\n\n"; };
    for (const auto& p : pieces(step.text)) event({{"choices", {{{"index", 0}, {"delta", {{"content", p}}}}}}});
    for (size_t i = 0; i < step.calls.size(); ++i) {
      // Arguments in two fragments, as real servers send them.
      const std::string& a = step.calls[i].arguments;
      const size_t half = a.size() / 2;
      event({{"choices", {{{"index", 0}, {"delta", {{"tool_calls", {{{"index", i}, {"id", call_id(index, i)}, {"type", "function"},
              {"function", {{"name", step.calls[i].name}, {"arguments", a.substr(0, half)}}}}}}}}}}}});
      event({{"choices", {{{"index", 0}, {"delta", {{"tool_calls", {{{"index", i}, {"function", {{"arguments", a.substr(half)}}}}}}}}}}}});
    }
    event({{"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", finish}}}}});
    event({{"choices", json::array()}, {"usage", {{"prompt_tokens", 100 + index}, {"completion_tokens", 5}}}});
    sse += "data: [DONE]\n\n";
    res.set_content(sse, "text/event-stream");
  }

  static void anthropic(const ScriptedStep& step, bool stream, int index, httplib::Response& res) {
    using nlohmann::json;
    const std::string stop = step.calls.empty() ? "end_turn" : "tool_use";
    if (!stream) {
      json content = json::array();
      if (!step.text.empty()) content.push_back({{"type", "text"}, {"text", step.text}});
      for (size_t i = 0; i < step.calls.size(); ++i) {
        auto input = json::parse(step.calls[i].arguments, nullptr, false);
        content.push_back({{"type", "tool_use"}, {"id", "toolu_" + call_id(index, i)}, {"name", step.calls[i].name},
                           {"input", input.is_discarded() ? json(step.calls[i].arguments) : input}});
      }
      json out = {{"id", "msg_1"}, {"type", "message"}, {"role", "assistant"}, {"content", content},
                  {"stop_reason", stop}, {"usage", {{"input_tokens", 100 + index}, {"output_tokens", 5}}}};
      res.set_content(out.dump(), "application/json");
      return;
    }
    std::string sse;
    auto event = [&](const std::string& type, json j) {
      j["type"] = type;
      sse += "event: " + type + "\ndata: " + j.dump() + "\n\n";
    };
    event("message_start", {{"message", {{"id", "msg_1"}, {"usage", {{"input_tokens", 100 + index}}}}}});
    int block = 0;
    if (!step.text.empty()) {
      event("content_block_start", {{"index", block}, {"content_block", {{"type", "text"}, {"text", ""}}}});
      for (const auto& p : pieces(step.text))
        event("content_block_delta", {{"index", block}, {"delta", {{"type", "text_delta"}, {"text", p}}}});
      event("content_block_stop", {{"index", block}});
      ++block;
    }
    for (size_t i = 0; i < step.calls.size(); ++i, ++block) {
      event("content_block_start", {{"index", block}, {"content_block", {{"type", "tool_use"}, {"id", "toolu_" + call_id(index, i)},
                                                                         {"name", step.calls[i].name}, {"input", json::object()}}}});
      const std::string& a = step.calls[i].arguments;
      event("content_block_delta", {{"index", block}, {"delta", {{"type", "input_json_delta"}, {"partial_json", a.substr(0, a.size() / 2)}}}});
      event("content_block_delta", {{"index", block}, {"delta", {{"type", "input_json_delta"}, {"partial_json", a.substr(a.size() / 2)}}}});
      event("content_block_stop", {{"index", block}});
    }
    event("message_delta", {{"delta", {{"stop_reason", stop}}}, {"usage", {{"output_tokens", 5}}}});
    event("message_stop", json::object());
    res.set_content(sse, "text/event-stream");
  }

  static void ollama(const ScriptedStep& step, bool stream, httplib::Response& res) {
    using nlohmann::json;
    json calls = json::array();
    for (const auto& c : step.calls) {
      auto args = json::parse(c.arguments, nullptr, false);
      calls.push_back({{"function", {{"name", c.name}, {"arguments", args.is_discarded() ? json(c.arguments) : args}}}});
    }
    auto done = json{{"model", "test-model"}, {"done", true}, {"done_reason", "stop"}, {"prompt_eval_count", 100},
                     {"eval_count", 5}, {"message", {{"role", "assistant"}, {"content", ""}}}};
    if (!stream) {
      done["message"]["content"] = step.text;
      if (!calls.empty()) done["message"]["tool_calls"] = calls;
      res.set_content(done.dump(), "application/json");
      return;
    }
    std::string nd;
    for (const auto& p : pieces(step.text))
      nd += json{{"model", "test-model"}, {"done", false}, {"message", {{"role", "assistant"}, {"content", p}}}}.dump() + "\n";
    if (!calls.empty())
      nd += json{{"model", "test-model"}, {"done", false}, {"message", {{"role", "assistant"}, {"content", ""}, {"tool_calls", calls}}}}.dump() + "\n";
    nd += done.dump() + "\n";
    res.set_content(nd, "application/x-ndjson");
  }

  Wire wire_;
  Script script_;
  std::mutex mutex_;
  std::vector<nlohmann::json> requests_;
  LoopbackServer server_;
};

}  // namespace kioku::testing
