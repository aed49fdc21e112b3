#include "core/config.h"

#include <cstdlib>
#include <cstdio>
#include <fstream>

#include <toml++/toml.h>

#include "core/error.h"
#include "core/toml_text.h"

namespace kioku {

namespace {

nlohmann::json toml_to_json(const toml::node& node) {
  if (auto t = node.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : *t) j[std::string(k.str())] = toml_to_json(v);
    return j;
  }
  if (auto a = node.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : *a) j.push_back(toml_to_json(v));
    return j;
  }
  if (auto s = node.as_string()) return s->get();
  if (auto i = node.as_integer()) return i->get();
  if (auto f = node.as_floating_point()) return f->get();
  if (auto b = node.as_boolean()) return b->get();
  if (auto d = node.as_date()) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d->get().year, d->get().month, d->get().day);
    return std::string(buf);
  }
  return nullptr;  // times and date-times are not used by Kioku's settings
}

bool looks_secret(const std::string& key) {
  for (const char* word : {"key", "token", "password", "secret"})
    if (key.find(word) != std::string::npos) return true;
  return false;
}

void redact(nlohmann::json& j) {
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_object()) redact(*it);
    else if (looks_secret(it.key()) && !(it->is_string() && it->get<std::string>().empty())) *it = "***";
  }
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::filesystem::path resolve_data_dir(const std::string& flag_value, const EnvLookup& env) {
  if (!flag_value.empty()) return flag_value;
  if (auto home = env("KIOKU_HOME"); home && !home->empty()) return *home;
  if (auto xdg = env("XDG_DATA_HOME"); xdg && !xdg->empty()) return std::filesystem::path(*xdg) / "kioku";
  if (auto h = env("HOME"); h && !h->empty()) return std::filesystem::path(*h) / ".local/share/kioku";
  throw invalid_input("cannot find a data directory: pass --data-dir or set KIOKU_HOME");
}

Config Config::empty(EnvLookup env) {
  Config c;
  c.env_ = std::move(env);
  return c;
}

void check_toml_text(std::string_view text, std::string_view name) {
  enum class In { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral } in = In::kCode;
  int line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto ahead = [&](std::string_view s) { return text.compare(i, s.size(), s) == 0; };
    // TOML allows no control character but tab anywhere (CR only before a
    // line feed), and toml++ 3.3 can reach undefined behaviour on text that
    // has them (a fuzz finding: NUL and \x01 before a quote and a non-ASCII
    // letter). Refused here, with the line, before toml++ sees the text.
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7F) {
      throw invalid_input(std::string(name) + ":" + std::to_string(line) + ": a control character (byte " +
                          std::to_string(u) + ") is not allowed in TOML");
    }
    if (c == '\n') {
      ++line;
      if (in == In::kComment || in == In::kBasic || in == In::kLiteral) in = In::kCode;
      continue;
    }
    switch (in) {
      case In::kCode:
        if (static_cast<unsigned char>(c) >= 0x80) {
          throw invalid_input(std::string(name) + ":" + std::to_string(line) +
                              ": a non-ASCII character outside quotes (put text in \"quotes\")");
        }
        if (c == '#') in = In::kComment;
        else if (ahead("\"\"\"")) in = In::kMultiBasic, i += 2;
        else if (ahead("'''")) in = In::kMultiLiteral, i += 2;
        else if (c == '"') in = In::kBasic;
        else if (c == '\'') in = In::kLiteral;
        break;
      case In::kComment: break;
      case In::kBasic:
        if (c == '\\') ++i;
        else if (c == '"') in = In::kCode;
        break;
      case In::kLiteral:
        if (c == '\'') in = In::kCode;
        break;
      case In::kMultiBasic:
        if (c == '\\') ++i;
        else if (ahead("\"\"\"")) in = In::kCode, i += 2;
        break;
      case In::kMultiLiteral:
        if (ahead("'''")) in = In::kCode, i += 2;
        break;
    }
  }
}

Config Config::load(const std::filesystem::path& path, EnvLookup env) {
  Config c = empty(std::move(env));
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return c;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error("cannot read " + path.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  check_toml_text(text, path.string());
  try {
    toml::table table = toml::parse(text, path.string());
    c.data_ = toml_to_json(table);
  } catch (const toml::parse_error& e) {
    throw invalid_input(path.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                        std::string(e.description()));
  }
  return c;
}

const nlohmann::json* Config::find(const std::string& dotted_key) const {
  const nlohmann::json* cur = &data_;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted_key.find('.', start);
    const std::string part = dotted_key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return nullptr;
    cur = &(*cur)[part];
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

std::optional<std::string> Config::get_string(const std::string& dotted_key, const std::string& env_var) const {
  if (!env_var.empty() && env_) {
    if (auto v = env_(env_var); v && !v->empty()) return v;
  }
  const auto* j = find(dotted_key);
  if (!j) return std::nullopt;
  if (j->is_string()) return j->get<std::string>();
  return j->dump();
}

std::optional<double> Config::get_number(const std::string& dotted_key, const std::string& env_var) const {
  if (!env_var.empty() && env_) {
    if (auto v = env_(env_var); v && !v->empty()) {
      try {
        return std::stod(*v);
      } catch (...) {
        throw invalid_input(env_var + " must be a number");
      }
    }
  }
  const auto* j = find(dotted_key);
  if (!j) return std::nullopt;
  if (!j->is_number()) throw invalid_input("config key " + dotted_key + " must be a number");
  return j->get<double>();
}

std::optional<bool> Config::get_bool(const std::string& dotted_key, const std::string& env_var) const {
  if (!env_var.empty() && env_) {
    if (auto v = env_(env_var); v && !v->empty()) return *v == "1" || *v == "true" || *v == "yes" || *v == "on";
  }
  const auto* j = find(dotted_key);
  if (!j) return std::nullopt;
  if (!j->is_boolean()) throw invalid_input("config key " + dotted_key + " must be true or false");
  return j->get<bool>();
}

std::string Config::get_string_or(const std::string& dotted_key, const std::string& fallback,
                                  const std::string& env_var) const {
  return get_string(dotted_key, env_var).value_or(fallback);
}

nlohmann::json Config::redacted() const {
  nlohmann::json j = data_;
  redact(j);
  return j;
}

std::string default_config_toml() {
  return R"toml(# Kioku settings. Environment variables override these (shown in brackets).
# Secrets can stay out of this file: set them in the environment instead.

[user]
id = "local"                 # [KIOKU_USER]

[store]
# url = "postgresql://kioku@db.example/kioku?sslmode=require&pool_size=8"   # server mode   [KIOKU_STORE_URL]
#                            # (default: SQLite files in the data directory; password: PGPASSWORD or ~/.pgpass)

[search]
mode = "hybrid"              # lexical | vector | hybrid (vector parts need an embedder)
limit = 10

[embed]
provider = "local"           # local (in-process model) | hashing | ollama | openai | none   [KIOKU_EMBED_PROVIDER]
model = "all-MiniLM-L6-v2"   # local: a folder under <data>/models (kioku models pull NAME)  [KIOKU_EMBED_MODEL]
# url = "http://127.0.0.1:11434"   # ollama / openai providers                            [KIOKU_EMBED_URL]
# threads = 2                # encoder threads (default: all cores)

[llm]
# provider = "openai"        # openai | ollama | anthropic   [KIOKU_LLM_PROVIDER]
# url = "http://127.0.0.1:8080/v1"                          [KIOKU_LLM_URL]
# model = "gemma-3n-e4b"                                     [KIOKU_LLM_MODEL]
# api_key = ""                                               [KIOKU_LLM_API_KEY]
# vision = false             # the model accepts images (journal photos get descriptions)
# tools = true               # offer the memory tools (core memory edits, archival/recall search)  [KIOKU_LLM_TOOLS]
# [llm.models."gemma-3n-e4b"]
# temperature = 0.8
# max_tokens = 512
# context_size = 2048

[companion]
persona = "senko"
suggestions = false          # AI-suggested memories (off by default)
# approve_agent_memories = false  # memories the agent stores wait for approval (default: as suggestions)
# max_tool_steps = 6         # model calls per chat turn that may use tools

[backup]
# interval_hours = 24        # kioku serve writes <data>/backups/auto-* this often (0 = never)
# keep = 7                   # automatic backups kept

[maintenance]                # scheduled upkeep: graph extraction, merges, promotion, review (docs/LIFECYCLE.md)
# enabled = true             # false: no scheduled upkeep (kioku maintain still runs it by hand)
# hourly = true
# daily = true
# weekly = true

[telegram]                   # kioku telegram, and kioku serve when a token is set (docs/TELEGRAM.md)
# token = ""                 # from @BotFather                      [TELEGRAM_BOT_TOKEN]
# allowed_users = [123456789]  # numeric Telegram user ids          [KIOKU_TELEGRAM_ALLOWED_USERS]
# api_url = "https://api.telegram.org"                              [KIOKU_TELEGRAM_API_URL]

[bluesky]                    # /bsky and kioku bsky (docs/BLUESKY.md)
# handle = "you.bsky.social"                                        [BLUESKY_HANDLE]
# app_password = ""          # an app password, not your login one  [BLUESKY_APP_PASSWORD]
# pds_url = "https://bsky.social"                                   [KIOKU_BLUESKY_PDS_URL]

[voice]                      # spoken replies and voice messages (docs/VOICE.md)
# tts_url = ""               # OpenAI-compatible /v1/audio/speech; empty = espeak-ng   [KIOKU_TTS_URL]
# tts_voice = "en-us"                                               [KIOKU_TTS_VOICE]
# stt_url = ""               # OpenAI-compatible /v1/audio/transcriptions (whisper.cpp)  [KIOKU_STT_URL]
)toml";
}

}  // namespace kioku
