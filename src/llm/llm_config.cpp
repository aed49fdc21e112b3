#include <array>

#include "core/error.h"
#include "llm/llm_client.h"

namespace kioku {

namespace {

GenerationSettings settings_from(const nlohmann::json& j) {
  GenerationSettings s;
  if (!j.is_object()) return s;
  if (j.contains("temperature") && j["temperature"].is_number()) s.temperature = j["temperature"].get<double>();
  if (j.contains("max_tokens") && j["max_tokens"].is_number()) s.max_tokens = j["max_tokens"].get<int>();
  if (j.contains("context_size") && j["context_size"].is_number()) s.context_size = j["context_size"].get<int>();
  if (j.contains("top_p") && j["top_p"].is_number()) s.top_p = j["top_p"].get<double>();
  return s;
}

}  // namespace

GenerationSettings LlmConfig::effective_settings() const {
  GenerationSettings s = settings;
  auto it = per_model.find(model);
  if (it == per_model.end()) return s;
  if (it->second.temperature) s.temperature = it->second.temperature;
  if (it->second.max_tokens) s.max_tokens = it->second.max_tokens;
  if (it->second.context_size) s.context_size = it->second.context_size;
  if (it->second.top_p) s.top_p = it->second.top_p;
  return s;
}

nlohmann::json LlmConfig::redacted() const {
  return {{"provider", provider}, {"url", url}, {"model", model}, {"api_key", api_key.empty() ? "" : "***"},
          {"api_key_set", !api_key.empty()}, {"timeout_s", timeout_s}, {"max_retries", max_retries}, {"vision", vision}, {"tools", tools}};
}

LlmConfig load_llm_config(const Config& config) {
  LlmConfig c;
  c.provider = config.get_string_or("llm.provider", "", "KIOKU_LLM_PROVIDER");
  if (!c.provider.empty() && c.provider != "openai" && c.provider != "ollama" && c.provider != "anthropic" &&
      c.provider != "none") {
    throw invalid_input("unknown LLM provider '" + c.provider + "' (expected openai, ollama or anthropic)");
  }
  static const std::array<std::pair<const char*, const char*>, 3> kDefaults = {
      {{"openai", "https://api.openai.com/v1"}, {"ollama", "http://127.0.0.1:11434"}, {"anthropic", "https://api.anthropic.com"}}};
  std::string fallback_url;
  for (const auto& [p, u] : kDefaults)
    if (c.provider == p) fallback_url = u;
  c.url = config.get_string_or("llm.url", fallback_url, "KIOKU_LLM_URL");
  c.model = config.get_string_or("llm.model", "", "KIOKU_LLM_MODEL");
  c.api_key = config.get_string_or("llm.api_key", "", "KIOKU_LLM_API_KEY");
  c.timeout_s = config.get_number("llm.timeout_s", "KIOKU_LLM_TIMEOUT_S").value_or(c.timeout_s);
  c.max_retries = static_cast<int>(config.get_number("llm.max_retries", "KIOKU_LLM_MAX_RETRIES").value_or(c.max_retries));
  c.backoff_s = config.get_number("llm.backoff_s").value_or(c.backoff_s);
  c.vision = config.get_bool("llm.vision").value_or(false);
  c.tools = config.get_bool("llm.tools", "KIOKU_LLM_TOOLS").value_or(true);
  const auto& data = config.data();
  if (data.contains("llm") && data["llm"].is_object()) {
    c.settings = settings_from(data["llm"]);
    if (data["llm"].contains("models") && data["llm"]["models"].is_object())
      for (const auto& [name, s] : data["llm"]["models"].items()) c.per_model[name] = settings_from(s);
  }
  return c;
}

std::string base64_encode(std::string_view bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += table[n >> 18];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += table[n >> 18];
    out += table[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace kioku
