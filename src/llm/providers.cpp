// The three wire protocols. Each builds its request JSON from ChatRequest and
// reads replies, streamed or whole, back into ChatResponse.
#include <memory>

#include "core/error.h"
#include "llm/http_transport.h"
#include "llm/llm_client.h"

namespace kioku {

namespace {

using llm::HttpTransport;
using llm::sse_data;

nlohmann::json parse_or_fail(HttpTransport& http, std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) http.fail("sent malformed JSON");
  return j;
}

nlohmann::json parse_arguments(const std::string& text) {
  if (text.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;
}

// Arguments as sent back to a provider in the assistant turn that made the
// call: arguments that were not JSON stay the model's own text (OpenAI), or
// become an empty object where the protocol needs one (Ollama, Anthropic).
std::string arguments_text(const nlohmann::json& arguments) {
  return arguments.is_string() ? arguments.get<std::string>() : arguments.dump();
}
nlohmann::json arguments_object(const nlohmann::json& arguments) {
  return arguments.is_object() ? arguments : nlohmann::json::object();
}

// What every HTTP provider holds.
class HttpLlmClient : public LlmClient {
 public:
  std::string provider_name() const override { return name_; }
  std::string model() const override { return config_.model; }

 protected:
  HttpLlmClient(const LlmConfig& c, const std::string& label, std::string name)
      : config_(c), http_(c, label), name_(std::move(name)) {}
  // The configured settings with the request's own on top.
  GenerationSettings settings_for(const ChatRequest& request) const {
    GenerationSettings s = config_.effective_settings();
    const auto& over = request.settings;
    if (over.temperature) s.temperature = over.temperature;
    if (over.max_tokens) s.max_tokens = over.max_tokens;
    if (over.context_size) s.context_size = over.context_size;
    if (over.top_p) s.top_p = over.top_p;
    return s;
  }

  LlmConfig config_;
  HttpTransport http_;
  std::string name_;
};

// OpenAI and Ollama describe tools the same way.
nlohmann::json function_tools(const std::vector<ToolSpec>& tools) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : tools)
    out.push_back({{"type", "function"},
                   {"function", {{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}}}});
  return out;
}

// ---------------------------------------------------------------- OpenAI ---

class OpenAiClient final : public HttpLlmClient {
 public:
  explicit OpenAiClient(const LlmConfig& c) : HttpLlmClient(c, "openai-compatible server", "openai") {}

  ChatResponse chat(const ChatRequest& request, const StreamCallback* on_delta) override {
    nlohmann::json body = {{"model", config_.model}, {"messages", messages(request)}};
    const GenerationSettings s = settings_for(request);
    if (s.temperature) body["temperature"] = *s.temperature;
    if (s.max_tokens) body["max_tokens"] = *s.max_tokens;
    if (s.top_p) body["top_p"] = *s.top_p;
    if (!request.tools.empty()) body["tools"] = function_tools(request.tools);
    ChatResponse out;
    if (!on_delta) {
      auto reply = http_.post("/chat/completions", headers(), body.dump());
      auto j = parse_or_fail(http_, reply.body);
      try {
        const auto& choice = j.at("choices").at(0);
        const auto& msg = choice.at("message");
        if (msg.contains("content") && msg["content"].is_string()) out.text = msg["content"];
        if (msg.contains("tool_calls") && msg["tool_calls"].is_array())
          for (const auto& tc : msg["tool_calls"])
          {
            const auto& f = tc.at("function");
            nlohmann::json args = f.contains("arguments") ? f["arguments"] : nlohmann::json("");
            out.tool_calls.push_back({tc.value("id", ""), f.value("name", ""),
                                      args.is_string() ? parse_arguments(args.get<std::string>()) : args});
          }
        out.finish_reason = choice.value("finish_reason", "");
        if (j.contains("usage") && j["usage"].is_object()) {
          out.prompt_tokens = j["usage"].value("prompt_tokens", 0);
          out.completion_tokens = j["usage"].value("completion_tokens", 0);
        }
      } catch (const nlohmann::json::exception&) {
        http_.fail("sent an unexpected reply shape");
      }
      return out;
    }
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    bool done = false;
    std::vector<std::string> arg_text;  // tool call arguments arrive in fragments
    http_.post("/chat/completions", headers(), body.dump(), [&](std::string_view line) {
      auto data = sse_data(line);
      if (!data) return;
      if (*data == "[DONE]") {
        done = true;
        return;
      }
      auto j = parse_or_fail(http_, *data);
      if (j.contains("error")) http_.fail("stream error: " + j["error"].dump());
      if (j.contains("usage") && j["usage"].is_object()) {
        out.prompt_tokens = j["usage"].value("prompt_tokens", out.prompt_tokens);
        out.completion_tokens = j["usage"].value("completion_tokens", out.completion_tokens);
      }
      if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;
      const auto& choice = j["choices"][0];
      if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) out.finish_reason = choice["finish_reason"];
      if (!choice.contains("delta")) return;
      const auto& delta = choice["delta"];
      if (delta.contains("content") && delta["content"].is_string()) {
        const std::string piece = delta["content"];
        out.text += piece;
        if (!piece.empty()) (*on_delta)(piece);
      }
      if (delta.contains("tool_calls") && delta["tool_calls"].is_array()) {
        for (const auto& tc : delta["tool_calls"]) {
          const size_t index = tc.value("index", 0);
          if (out.tool_calls.size() <= index) {
            out.tool_calls.resize(index + 1);
            arg_text.resize(index + 1);
          }
          if (tc.contains("id") && tc["id"].is_string()) out.tool_calls[index].id = tc["id"];
          if (tc.contains("function")) {
            const auto& f = tc["function"];
            if (f.contains("name") && f["name"].is_string()) out.tool_calls[index].name += f["name"].get<std::string>();
            if (f.contains("arguments") && f["arguments"].is_string()) arg_text[index] += f["arguments"].get<std::string>();
          }
        }
      }
    });
    if (!done && out.finish_reason.empty()) http_.fail("the reply stream ended early");
    for (size_t i = 0; i < out.tool_calls.size(); ++i) out.tool_calls[i].arguments = parse_arguments(arg_text[i]);
    return out;
  }

  std::vector<ModelInfo> list_models() override {
    auto j = parse_or_fail(http_, http_.get("/models", headers()).body);
    std::vector<ModelInfo> out;
    if (j.contains("data") && j["data"].is_array())
      for (const auto& m : j["data"]) out.push_back({m.value("id", ""), 0});
    return out;
  }

 private:
  llm::Headers headers() const {
    llm::Headers h = {{"Accept", "application/json, text/event-stream"}};
    if (!config_.api_key.empty()) h.emplace_back("Authorization", "Bearer " + config_.api_key);
    return h;
  }
  static nlohmann::json messages(const ChatRequest& request) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : request.messages) {
      nlohmann::json msg = {{"role", m.role}};
      if (m.images.empty()) {
        // An assistant turn that only called tools has no content (null).
        msg["content"] = m.content.empty() && !m.tool_calls.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.content);
      } else {
        nlohmann::json parts = nlohmann::json::array();
        if (!m.content.empty()) parts.push_back({{"type", "text"}, {"text", m.content}});
        for (const auto& img : m.images)
          parts.push_back({{"type", "image_url"},
                           {"image_url", {{"url", "data:" + img.mime_type + ";base64," + base64_encode(img.bytes)}}}});
        msg["content"] = parts;
      }
      if (!m.tool_calls.empty()) {
        msg["tool_calls"] = nlohmann::json::array();
        for (const auto& tc : m.tool_calls)
          msg["tool_calls"].push_back({{"id", tc.id}, {"type", "function"},
                                       {"function", {{"name", tc.name}, {"arguments", arguments_text(tc.arguments)}}}});
      }
      if (!m.tool_call_id.empty()) msg["tool_call_id"] = m.tool_call_id;
      out.push_back(msg);
    }
    return out;
  }

};

// ---------------------------------------------------------------- Ollama ---

class OllamaClient final : public HttpLlmClient {
 public:
  explicit OllamaClient(const LlmConfig& c) : HttpLlmClient(c, "Ollama", "ollama") {}

  ChatResponse chat(const ChatRequest& request, const StreamCallback* on_delta) override {
    nlohmann::json msgs = nlohmann::json::array();
    for (const auto& m : request.messages) {
      nlohmann::json msg = {{"role", m.role}, {"content", m.content}};
      if (!m.images.empty()) {
        msg["images"] = nlohmann::json::array();
        for (const auto& img : m.images) msg["images"].push_back(base64_encode(img.bytes));
      }
      if (!m.tool_calls.empty()) {
        msg["tool_calls"] = nlohmann::json::array();
        for (const auto& tc : m.tool_calls)
          msg["tool_calls"].push_back({{"function", {{"name", tc.name}, {"arguments", arguments_object(tc.arguments)}}}});
      }
      if (m.role == "tool" && !m.tool_name.empty()) msg["tool_name"] = m.tool_name;
      msgs.push_back(msg);
    }
    nlohmann::json body = {{"model", config_.model}, {"messages", msgs}, {"stream", on_delta != nullptr}};
    const GenerationSettings s = settings_for(request);
    nlohmann::json options = nlohmann::json::object();
    if (s.temperature) options["temperature"] = *s.temperature;
    if (s.max_tokens) options["num_predict"] = *s.max_tokens;
    if (s.context_size) options["num_ctx"] = *s.context_size;
    if (s.top_p) options["top_p"] = *s.top_p;
    if (!options.empty()) body["options"] = options;
    if (!request.tools.empty()) body["tools"] = function_tools(request.tools);
    ChatResponse out;
    bool done = false;
    auto take = [&](const nlohmann::json& j) {
      if (j.contains("error")) http_.fail(j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump());
      if (j.contains("message") && j["message"].is_object()) {
        const auto& msg = j["message"];
        if (msg.contains("content") && msg["content"].is_string()) {
          const std::string piece = msg["content"];
          out.text += piece;
          if (on_delta && !piece.empty()) (*on_delta)(piece);
        }
        if (msg.contains("tool_calls") && msg["tool_calls"].is_array())
          for (const auto& tc : msg["tool_calls"]) {
            const auto& f = tc.value("function", nlohmann::json::object());
            nlohmann::json args = f.value("arguments", nlohmann::json::object());
            if (args.is_string()) args = parse_arguments(args.get<std::string>());
            out.tool_calls.push_back({tc.value("id", "call_" + std::to_string(out.tool_calls.size())),
                                      f.value("name", ""), args});
          }
      }
      if (j.value("done", false)) {
        done = true;
        out.finish_reason = j.value("done_reason", "stop");
        out.prompt_tokens = j.value("prompt_eval_count", 0);
        out.completion_tokens = j.value("eval_count", 0);
      }
    };
    if (on_delta) {
      http_.post("/api/chat", {}, body.dump(), [&](std::string_view line) { take(parse_or_fail(http_, line)); });
    } else {
      take(parse_or_fail(http_, http_.post("/api/chat", {}, body.dump()).body));
    }
    if (!done) http_.fail("the reply ended before \"done\"");
    return out;
  }

  std::vector<ModelInfo> list_models() override {
    auto j = parse_or_fail(http_, http_.get("/api/tags", {}).body);
    std::vector<ModelInfo> out;
    if (j.contains("models") && j["models"].is_array())
      for (const auto& m : j["models"]) out.push_back({m.value("name", m.value("model", "")), m.value("size", int64_t{0})});
    return out;
  }

 private:
};

// ------------------------------------------------------------- Anthropic ---

class AnthropicClient final : public HttpLlmClient {
 public:
  explicit AnthropicClient(const LlmConfig& c) : HttpLlmClient(c, "Anthropic", "anthropic") {}

  ChatResponse chat(const ChatRequest& request, const StreamCallback* on_delta) override {
    std::string system;
    nlohmann::json msgs = nlohmann::json::array();
    for (const auto& m : request.messages) {
      if (m.role == "system") {
        system += (system.empty() ? "" : "\n\n") + m.content;
        continue;
      }
      nlohmann::json content = nlohmann::json::array();
      if (m.role == "tool") {
        // All results of one assistant turn go back in ONE user message.
        nlohmann::json result = {{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.content}};
        if (m.is_error) result["is_error"] = true;
        if (!msgs.empty() && msgs.back()["role"] == "user" && msgs.back()["content"].is_array() &&
            !msgs.back()["content"].empty() && msgs.back()["content"].back().value("type", "") == "tool_result") {
          msgs.back()["content"].push_back(result);
        } else {
          msgs.push_back({{"role", "user"}, {"content", nlohmann::json::array({result})}});
        }
        continue;
      }
      for (const auto& img : m.images)
        content.push_back({{"type", "image"},
                           {"source", {{"type", "base64"}, {"media_type", img.mime_type}, {"data", base64_encode(img.bytes)}}}});
      if (!m.content.empty()) content.push_back({{"type", "text"}, {"text", m.content}});
      for (const auto& tc : m.tool_calls)
        content.push_back({{"type", "tool_use"}, {"id", tc.id}, {"name", tc.name}, {"input", arguments_object(tc.arguments)}});
      if (content.empty()) content.push_back({{"type", "text"}, {"text", "(empty)"}});  // the API refuses empty content
      msgs.push_back({{"role", m.role}, {"content", content}});
    }
    const GenerationSettings s = settings_for(request);
    nlohmann::json body = {{"model", config_.model}, {"messages", msgs}, {"max_tokens", s.max_tokens.value_or(1024)}};
    if (!system.empty()) body["system"] = system;
    if (s.temperature) body["temperature"] = *s.temperature;
    if (s.top_p) body["top_p"] = *s.top_p;
    if (!request.tools.empty()) {
      body["tools"] = nlohmann::json::array();
      for (const auto& t : request.tools)
        body["tools"].push_back({{"name", t.name}, {"description", t.description}, {"input_schema", t.parameters}});
    }
    ChatResponse out;
    if (!on_delta) {
      auto j = parse_or_fail(http_, http_.post("/v1/messages", headers(), body.dump()).body);
      if (!j.contains("content") || !j["content"].is_array()) http_.fail("sent an unexpected reply shape");
      for (const auto& block : j["content"]) {
        const std::string type = block.value("type", "");
        if (type == "text") out.text += block.value("text", "");
        if (type == "tool_use")
          out.tool_calls.push_back({block.value("id", ""), block.value("name", ""), block.value("input", nlohmann::json::object())});
      }
      out.finish_reason = j.value("stop_reason", "");
      if (j.contains("usage")) {
        out.prompt_tokens = j["usage"].value("input_tokens", 0);
        out.completion_tokens = j["usage"].value("output_tokens", 0);
      }
      return out;
    }
    body["stream"] = true;
    bool stopped = false;
    std::map<int, size_t> tool_of_block;  // content block index -> tool_calls index
    std::map<int, std::string> tool_json;
    http_.post("/v1/messages", headers(), body.dump(), [&](std::string_view line) {
      auto data = sse_data(line);
      if (!data) return;
      auto j = parse_or_fail(http_, *data);
      const std::string type = j.value("type", "");
      if (type == "error") http_.fail("stream error: " + j.value("error", nlohmann::json::object()).value("message", "unknown"));
      if (type == "message_start" && j.contains("message") && j["message"].contains("usage"))
        out.prompt_tokens = j["message"]["usage"].value("input_tokens", 0);
      if (type == "content_block_start") {
        const auto& block = j.value("content_block", nlohmann::json::object());
        if (block.value("type", "") == "tool_use") {
          tool_of_block[j.value("index", 0)] = out.tool_calls.size();
          out.tool_calls.push_back({block.value("id", ""), block.value("name", ""), nlohmann::json::object()});
        }
      }
      if (type == "content_block_delta") {
        const auto& delta = j.value("delta", nlohmann::json::object());
        const std::string dtype = delta.value("type", "");
        if (dtype == "text_delta") {
          const std::string piece = delta.value("text", "");
          out.text += piece;
          if (!piece.empty()) (*on_delta)(piece);
        } else if (dtype == "input_json_delta") {
          tool_json[j.value("index", 0)] += delta.value("partial_json", "");
        }
      }
      if (type == "message_delta") {
        const auto& delta = j.value("delta", nlohmann::json::object());
        if (delta.contains("stop_reason") && delta["stop_reason"].is_string()) out.finish_reason = delta["stop_reason"];
        if (j.contains("usage")) out.completion_tokens = j["usage"].value("output_tokens", 0);
      }
      if (type == "message_stop") stopped = true;
    });
    if (!stopped) http_.fail("the reply stream ended early");
    for (const auto& [block, index] : tool_of_block) out.tool_calls[index].arguments = parse_arguments(tool_json[block]);
    return out;
  }

  std::vector<ModelInfo> list_models() override {
    auto j = parse_or_fail(http_, http_.get("/v1/models", headers()).body);
    std::vector<ModelInfo> out;
    if (j.contains("data") && j["data"].is_array())
      for (const auto& m : j["data"]) out.push_back({m.value("id", ""), 0});
    return out;
  }

 private:
  llm::Headers headers() const {
    return {{"x-api-key", config_.api_key}, {"anthropic-version", "2023-06-01"}, {"Accept", "application/json"}};
  }
};

}  // namespace

std::unique_ptr<LlmClient> make_llm_client(const LlmConfig& config) {
  if (config.provider.empty() || config.provider == "none") return nullptr;
  if (config.model.empty()) throw invalid_input("[llm] model is not set (or KIOKU_LLM_MODEL)");
  if (config.provider == "openai") return std::make_unique<OpenAiClient>(config);
  if (config.provider == "ollama") return std::make_unique<OllamaClient>(config);
  if (config.provider == "anthropic") return std::make_unique<AnthropicClient>(config);
  throw invalid_input("unknown LLM provider '" + config.provider + "' (expected openai, ollama or anthropic)");
}

}  // namespace kioku
