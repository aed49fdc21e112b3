// One interface to language models, three wire protocols:
//   openai     POST {url}/chat/completions (url includes /v1): llama.cpp's
//              llama-server, DeepSeek, vLLM, LM Studio, OpenAI. SSE streaming.
//   ollama     POST {url}/api/chat, models from GET {url}/api/tags. NDJSON streaming.
//   anthropic  POST {url}/v1/messages (x-api-key, anthropic-version). SSE events.
// Failures (net::HttpClient): connection errors, timeouts, 429 and 5xx are
// retried with jittered exponential backoff (honouring Retry-After) up to
// max_retries; what still fails throws kioku::Error(kUnavailable). A refused
// key (401/403) throws kAuthFailed ("the API key was refused by Anthropic")
// and other 4xx kInvalidInput / kNotFound, at once: retrying cannot help.
// Messages never contain the API key. A stream cut mid-way or malformed JSON
// is kUnavailable too.
// Thread safety: a client may be used by one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"

namespace kioku {

struct ImageInput {
  std::string mime_type = "image/jpeg";
  std::string bytes;  // raw image bytes; providers send them base64-encoded
};

struct ToolSpec {
  std::string name;
  std::string description;
  nlohmann::json parameters = nlohmann::json::object();  // JSON Schema
};

struct ToolCall {
  std::string id;
  std::string name;
  nlohmann::json arguments = nlohmann::json::object();
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::vector<ImageInput> images;
  std::vector<ToolCall> tool_calls;  // assistant turns that called tools
  std::string tool_call_id;          // tool results
  std::string tool_name;             // tool results: the tool that ran (Ollama wants it)
  bool is_error = false;             // tool results: the call failed
};

struct GenerationSettings {
  std::optional<double> temperature;
  std::optional<int> max_tokens;
  std::optional<int> context_size;  // Ollama's num_ctx
  std::optional<double> top_p;
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  std::vector<ToolSpec> tools;
  GenerationSettings settings;
};

struct ChatResponse {
  std::string text;
  std::vector<ToolCall> tool_calls;
  std::string finish_reason;
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

struct ModelInfo {
  std::string name;
  int64_t size_bytes = 0;
};

using StreamCallback = std::function<void(std::string_view delta)>;

class LlmClient {
 public:
  virtual ~LlmClient() = default;
  // With on_delta the reply is streamed and each text piece passed on as it
  // arrives; the full response is returned either way.
  virtual ChatResponse chat(const ChatRequest& request, const StreamCallback* on_delta = nullptr) = 0;
  virtual std::vector<ModelInfo> list_models() = 0;
  virtual std::string provider_name() const = 0;
  virtual std::string model() const = 0;
};

struct LlmConfig {
  std::string provider;  // "openai" | "ollama" | "anthropic" | "" (none)
  std::string url;
  std::string model;
  std::string api_key;
  double timeout_s = 120;
  double connect_timeout_s = 5;
  int max_retries = 3;
  double backoff_s = 1.0;
  GenerationSettings settings;
  std::map<std::string, GenerationSettings> per_model;  // [llm.models."name"]
  bool vision = false;  // the model accepts images ([llm] vision = true)
  bool tools = true;    // the model takes tool calls ([llm] tools = false turns them off)
  // Settings for the configured model: per-model values over the defaults.
  GenerationSettings effective_settings() const;
  // The config as JSON for display: the key is replaced by "***".
  nlohmann::json redacted() const;
};

// [llm] of config.toml, overridden by KIOKU_LLM_PROVIDER, KIOKU_LLM_URL,
// KIOKU_LLM_MODEL, KIOKU_LLM_API_KEY. Throws invalid_input on bad values.
LlmConfig load_llm_config(const Config& config);
// nullptr when no provider is configured.
std::unique_ptr<LlmClient> make_llm_client(const LlmConfig& config);

std::string base64_encode(std::string_view bytes);

}  // namespace kioku
