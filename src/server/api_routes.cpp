// The API's handlers (see api.h; docs/API.md describes every route).
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include <toml++/toml.h>

#include "companion/companion.h"
#include "companion/companion_service.h"
#include "companion/persona.h"
#include "core/error.h"
#include "core/id.h"
#include "core/json.h"
#include "core/toml_text.h"
#include "core/time.h"
#include "core/url.h"
#include "ingest/importer.h"
#include "journal/journal_service.h"
#include "lifecycle/graph_builder.h"
#include "llm/llm_client.h"
#include "server/api.h"
#include "server/mcp_http.h"
#include "server/profile_routes.h"
#include "server/services.h"

namespace kioku::server {

using nlohmann::json;

std::string ApiRequest::param(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

std::vector<std::string> ApiRequest::params(const std::string& name) const {
  std::vector<std::string> out;
  auto [begin, end] = query.equal_range(name);
  for (auto it = begin; it != end; ++it)
    for (auto& v : split_tags(it->second)) out.push_back(v);
  return out;
}

json ApiRequest::json() const {
  if (body.empty()) return json::object();
  // Depth-bounded (core/json.h): a deeply nested body is a 400, not a stack overflow.
  auto j = parse_json(body, "the request body");
  if (!j.is_object()) throw invalid_input("the request body must be a JSON object");
  return j;
}

namespace {

int int_param(const ApiRequest& req, const std::string& name, int fallback, int min, int max) {
  const std::string v = req.param(name);
  if (v.empty()) return fallback;
  try {
    size_t used = 0;
    const long n = std::stol(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    if (n < min || n > max) throw std::out_of_range(v);
    return static_cast<int>(n);
  } catch (const std::exception&) {
    throw invalid_input(name + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  }
}

MemoryFilter filter_from(const ApiRequest& req, const std::string& user_id) {
  MemoryFilter f;
  f.user_id = user_id;
  f.types = req.params("type");
  f.tags = req.params("tags");
  if (auto tier = req.param("tier"); !tier.empty()) f.tier = parse_tier(tier);
  if (auto s = req.param("since"); !s.empty()) f.since = parse_iso8601_or_throw(s, "since");
  if (auto u = req.param("until"); !u.empty()) f.until = parse_iso8601_or_throw(u, "until");
  return f;
}

// Media paths point into <data>/media: relative, no "..", or the absolute
// path of a file already there (journal photos).
void check_media_path(const std::string& path, const std::filesystem::path& data_dir) {
  if (path.empty()) return;
  std::filesystem::path p(path);
  for (const auto& part : p)
    if (part == "..") throw invalid_input("media_path must not contain '..'");
  if (p.is_absolute()) {
    const auto media = (data_dir / "media").lexically_normal().string() + "/";
    if (p.lexically_normal().string().rfind(media, 0) != 0) throw invalid_input("media_path must be inside the media folder");
  }
}

std::string require_text(const json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_string()) throw invalid_input(std::string("'") + field + "' (text) is required");
  std::string v = j[field].get<std::string>();
  if (v.find_first_not_of(" \t\r\n") == std::string::npos) throw invalid_input(std::string("'") + field + "' is empty");
  return v;
}

std::vector<std::string> tags_of(const json& v) {
  if (v.is_string()) return split_tags(v.get<std::string>());
  if (!v.is_array()) throw invalid_input("tags must be a list of strings or a comma-separated string");
  std::string joined;
  for (const auto& t : v) {
    if (!t.is_string()) throw invalid_input("tags must be strings");
    joined += t.get<std::string>() + ",";
  }
  return split_tags(joined);
}

// The editable fields of a memory (PUT /api/memory/{id}, PUT /api/suggestions/{id}).
void apply_edits(Memory& m, const json& j, const std::filesystem::path& data_dir) {
  auto str = [&](const char* f) -> std::optional<std::string> {
    if (!j.contains(f) || j[f].is_null()) return std::nullopt;
    if (!j[f].is_string()) throw invalid_input(std::string(f) + " must be text");
    return j[f].get<std::string>();
  };
  if (auto v = str("content")) {
    if (v->find_first_not_of(" \t\r\n") == std::string::npos) throw invalid_input("content is empty");
    m.content = *v;
  }
  if (auto v = str("summary")) m.summary = *v;
  if (auto v = str("type")) {
    if (v->empty()) throw invalid_input("type is empty");
    m.type = *v;
  }
  if (auto v = str("tier")) m.tier = parse_tier(*v);
  if (auto v = str("truth_category")) m.truth_category = parse_truth_category(*v);
  if (auto v = str("memory_type")) m.memory_kind = parse_memory_kind(*v);
  if (auto v = str("event_time")) m.event_time = parse_iso8601_or_throw(*v, "event_time");
  if (auto v = str("media_path")) {
    check_media_path(*v, data_dir);
    m.media_path = *v;
  }
  if (j.contains("importance") && !j["importance"].is_null()) {
    if (!j["importance"].is_number()) throw invalid_input("importance must be a number");
    const double v = j["importance"].get<double>();
    if (v < 0 || v > 1) throw invalid_input("importance must be between 0 and 1");
    m.importance = v;
  }
  if (j.contains("tags") && !j["tags"].is_null()) m.tags = tags_of(j["tags"]);
  if (j.contains("metadata") && j["metadata"].is_object()) m.metadata = j["metadata"];
}

Memory require_memory(AppContext& ctx, const std::string& id) {
  auto m = ctx.memories().get(ctx.user_id(), id);
  if (!m) throw not_found("no memory with id " + id);
  return *m;
}

Memory require_suggestion(AppContext& ctx, const std::string& id) {
  auto m = ctx.memories().get(ctx.user_id(), id);
  if (!m || m->approved) throw not_found("no pending suggestion with id " + id);
  return *m;
}

// A new memory from a request body (create and suggest).
Memory memory_from_request(AppContext& ctx, const ApiRequest& req) {
  json j = req.json();
  require_text(j, "content");
  Memory m = memory_from_json(j);
  m.id.clear();
  m.user_id = ctx.user_id();  // never someone else's
  m.content_hash.clear();
  check_media_path(m.media_path, ctx.data_dir());
  if (m.provenance.empty()) m.provenance.kind = "api";
  return m;
}

ApiResponse created(AppContext& ctx, const AddOutcome& outcome) {
  ApiResponse r;
  r.status = outcome.created ? 201 : 200;
  r.body = {{"id", outcome.id}, {"created", outcome.created}, {"memory", to_json(require_memory(ctx, outcome.id))}};
  return r;
}

json entry_json(const JournalEntry& e) {
  return {{"id", e.id},
          {"timestamp", format_iso8601(e.timestamp)},
          {"type", e.type},
          {"content", e.content},
          {"media_name", std::filesystem::path(e.media_path).filename().string()},
          {"image_description", e.image_description}};
}

json journal_json(const Journal& j) {
  json out = to_json(j);
  out.erase("markdown_path");  // a local path: the body is what clients need
  return out;
}

// Upload names become file names: letters, digits, '.', '-', '_' only; no
// leading dot; no directory part. "../../etc/passwd" -> "passwd".
std::string sanitize_file_name(std::string_view name) {
  const size_t slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') out.push_back(static_cast<char>(c));
    else if (c == ' ') out.push_back('_');
  }
  while (!out.empty() && out.front() == '.') out.erase(out.begin());
  if (out.size() > 120) out.erase(0, out.size() - 120);  // keep the extension
  return out.empty() ? "upload" : out;
}

std::string media_content_type(const std::string& name) {
  const std::string ext = std::filesystem::path(name).extension().string();
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".png") return "image/png";
  if (ext == ".gif") return "image/gif";
  if (ext == ".webp") return "image/webp";
  return "application/octet-stream";
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw io_error("cannot read " + p.filename().string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A memory as shown beside a chat reply.
json memory_ref_json(const Memory& m) { return {{"id", m.id}, {"type", m.type}, {"content", m.content}}; }

json used_memories(AppContext& ctx, const std::vector<std::string>& ids) {
  json used = json::array();
  for (const auto& m : ctx.memories().get_many(ctx.user_id(), ids)) used.push_back(memory_ref_json(m));
  return used;
}

// The core memory versions a turn's tool calls made ("memory edited" in the chat).
json memory_edits_of(const json& tool_calls) {
  json edits = json::array();
  if (!tool_calls.is_array()) return edits;
  for (const auto& t : tool_calls)
    if (t.contains("core_label"))
      edits.push_back({{"label", t["core_label"]}, {"version", t.value("core_version", 0)}, {"tool", t.value("name", "")}});
  return edits;
}

json turn_json(AppContext& ctx, const ChatTurnResult& r) {
  json calls = json::array();
  for (const auto& t : r.tool_calls) {
    json c = {{"id", t.id}, {"name", t.name}, {"result", t.result}, {"is_error", t.is_error}, {"step", t.step}};
    if (!t.core_label.empty()) {
      c["core_label"] = t.core_label;
      c["core_version"] = t.core_version;
    }
    calls.push_back(c);
  }
  return {{"reply", r.reply},
          {"queued", r.queued},
          {"notice", r.notice},
          {"user_memory_id", r.user_memory_id},
          {"reply_memory_id", r.reply_memory_id},
          {"used_memories", used_memories(ctx, r.used_memory_ids)},
          {"tool_calls", calls},
          {"memory_edits", memory_edits_of(calls)},
          {"prompt",
           {{"estimated_tokens", r.prompt.estimated_tokens},
            {"core_memory_tokens", r.prompt.core_memory_tokens},
            {"provider_prompt_tokens", r.prompt.provider_prompt_tokens},
            {"steps", r.prompt.steps}}}};
}

// A probe of the configured provider that fails fast (no retries).
std::unique_ptr<LlmClient> probe_client(AppContext& ctx) {
  LlmConfig c = ctx.llm_config();
  if (c.provider.empty() || c.provider == "none") return nullptr;
  c.max_retries = 0;
  c.timeout_s = 5;
  c.connect_timeout_s = 2;
  return make_llm_client(c);
}

const json kProviders = json::array({
    {{"id", "openai"}, {"label", "OpenAI-compatible (llama.cpp, vLLM, LM Studio, OpenAI)"},
     {"default_url", "https://api.openai.com/v1"}, {"needs_key", true}},
    {{"id", "ollama"}, {"label", "Ollama"}, {"default_url", "http://127.0.0.1:11434"}, {"needs_key", false}},
    {{"id", "anthropic"}, {"label", "Anthropic"}, {"default_url", "https://api.anthropic.com"}, {"needs_key", true}},
});

json settings_json(AppContext& ctx) {
  const Config& config = ctx.config();
  const LlmConfig& llm = ctx.llm_config();
  json personas = json::array();
  for (const auto& p : available_personas(config)) personas.push_back({{"id", p.id}, {"name", p.name}});
  json overridden = json::array();
  for (const auto& [key, var] : std::vector<std::pair<std::string, std::string>>{
           {"llm.provider", "KIOKU_LLM_PROVIDER"}, {"llm.url", "KIOKU_LLM_URL"}, {"llm.model", "KIOKU_LLM_MODEL"},
           {"llm.api_key", "KIOKU_LLM_API_KEY"}, {"companion.suggestions", "KIOKU_SUGGESTIONS"},
           {"companion.persona", "KIOKU_PERSONA"}}) {
    if (auto v = config.env()(var); v && !v->empty()) overridden.push_back(key);
  }
  std::string persona_id;
  try {
    persona_id = active_persona(config).id;
  } catch (const Error&) {
    persona_id = config.get_string_or("companion.persona", "senko", "KIOKU_PERSONA");
  }
  return {{"llm",
           {{"provider", llm.provider == "none" ? "" : llm.provider},
            {"url", llm.url},
            {"model", llm.model},
            {"api_key_set", !llm.api_key.empty()},  // the key itself is write-only
            {"vision", llm.vision}}},
          {"companion",
           {{"persona", persona_id},
            {"suggestions", config.get_bool("companion.suggestions", "KIOKU_SUGGESTIONS").value_or(false)}}},
          {"personas", personas},
          {"providers", kProviders},
          {"env_overrides", overridden}};
}

toml::table& subtable(toml::table& root, const char* name) {
  if (!root[name].is_table()) root.insert_or_assign(name, toml::table{});
  return *root[name].as_table();
}

// One key of config.toml to set (value) or remove (nullopt).
struct TomlEdit {
  std::string table;
  std::string key;
  std::optional<std::string> line;  // "key = value" as toml++ prints it
};

bool is_toml_key_line(std::string_view line, std::string_view key) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos || line.compare(i, key.size(), key) != 0) return false;
  i = line.find_first_not_of(" \t", i + key.size());
  return i != std::string_view::npos && line[i] == '=';
}

// "[llm]  # comment" -> "llm"; "" for anything else (including [[arrays]]).
std::string toml_header_name(std::string_view line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos || line[i] != '[' || (i + 1 < line.size() && line[i + 1] == '[')) return "";
  const size_t close = line.find(']', i);
  if (close == std::string_view::npos) return "";
  std::string name(line.substr(i + 1, close - i - 1));
  while (!name.empty() && name.back() == ' ') name.pop_back();
  while (!name.empty() && name.front() == ' ') name.erase(0, 1);
  return name;
}

// Applies the edits to the text of config.toml line by line, so that its
// comments and layout survive (toml++ cannot write comments back). The
// caller checks the result parses to what it meant.
std::string edit_toml_in_place(const std::string& text, const std::vector<TomlEdit>& edits) {
  std::vector<std::string> lines;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (const auto& edit : edits) {
    size_t header = lines.size();
    for (size_t i = 0; i < lines.size(); ++i)
      if (toml_header_name(lines[i]) == edit.table) header = i;
    if (header == lines.size()) {
      if (!edit.line) continue;
      lines.push_back("");
      lines.push_back("[" + edit.table + "]");
      lines.push_back(*edit.line);
      continue;
    }
    // The table runs to the next header ([table] or [[array]]).
    size_t end = header + 1;
    while (end < lines.size()) {
      const size_t first = lines[end].find_first_not_of(" \t");
      if (first != std::string::npos && lines[end][first] == '[') break;
      ++end;
    }
    size_t found = end, last_key = header;
    for (size_t i = header + 1; i < end; ++i) {
      if (is_toml_key_line(lines[i], edit.key)) found = i;
      const size_t first = lines[i].find_first_not_of(" \t");
      if (first != std::string::npos && lines[i][first] != '#') last_key = i;
    }
    if (found != end) {
      if (edit.line) lines[found] = *edit.line;
      else lines.erase(lines.begin() + static_cast<long>(found));
    } else if (edit.line) {
      lines.insert(lines.begin() + static_cast<long>(last_key + 1), *edit.line);
    }
  }
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

// Writes the [llm] / [companion] settings of body into config.toml. Validates
// everything before writing; the file is replaced atomically. Only the keys
// that change are touched: comments and the rest of the file stay.
void write_settings(Services& s, AppContext& ctx, const json& body) {
  const auto path = ctx.data_dir() / "config.toml";
  std::lock_guard<std::mutex> lock(s.settings_mutex());
  toml::table root;
  if (std::filesystem::exists(path)) {
    try {
      std::ifstream in(path, std::ios::binary);
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      check_toml_text(text, "config.toml");
      root = toml::parse(text, std::string_view("config.toml"));
    } catch (const toml::parse_error& e) {
      throw invalid_input("config.toml cannot be read: " + std::string(e.description()));
    }
  }
  std::vector<TomlEdit> edits;
  const auto set = [&edits](toml::table& t, const std::string& table, const std::string& key, const auto& value) {
    t.insert_or_assign(key, value);
    std::ostringstream printed;
    printed << toml::table{{key, value}};
    edits.push_back({table, key, printed.str()});
  };
  auto text = [](const json& j, const char* f) -> std::optional<std::string> {
    if (!j.contains(f) || j[f].is_null()) return std::nullopt;
    if (!j[f].is_string()) throw invalid_input(std::string(f) + " must be text");
    return j[f].get<std::string>();
  };
  if (body.contains("llm")) {
    const json& l = body["llm"];
    if (!l.is_object()) throw invalid_input("llm must be an object");
    toml::table& t = subtable(root, "llm");
    const std::string table = "llm";
    if (auto p = text(l, "provider")) {
      if (!p->empty() && *p != "openai" && *p != "ollama" && *p != "anthropic" && *p != "none")
        throw invalid_input("provider must be openai, ollama, anthropic or none");
      set(t, table, "provider", *p);
    }
    if (auto u = text(l, "url")) {
      if (!u->empty()) parse_base_url(*u);  // throws invalid_input
      set(t, table, "url", *u);
    }
    if (auto m = text(l, "model")) set(t, table, "model", *m);
    if (auto k = text(l, "api_key")) {  // absent = keep; "" = remove
      if (k->empty()) t.erase("api_key"), edits.push_back({table, "api_key", std::nullopt});
      else set(t, table, "api_key", *k);
    }
    if (l.contains("vision") && l["vision"].is_boolean()) set(t, table, "vision", l["vision"].get<bool>());
  }
  if (body.contains("companion")) {
    const json& c = body["companion"];
    if (!c.is_object()) throw invalid_input("companion must be an object");
    toml::table& t = subtable(root, "companion");
    const std::string table = "companion";
    if (auto p = text(c, "persona")) {
      bool known = false;
      for (const auto& persona : available_personas(ctx.config())) known = known || persona.id == *p;
      if (!known) throw invalid_input("unknown persona '" + *p + "'");
      set(t, table, "persona", *p);
    }
    if (c.contains("suggestions")) {
      if (!c["suggestions"].is_boolean()) throw invalid_input("suggestions must be true or false");
      set(t, table, "suggestions", c["suggestions"].get<bool>());
    }
  }
  std::string existing;
  if (std::filesystem::exists(path)) {
    std::ifstream in(path, std::ios::binary);
    existing.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string written = edit_toml_in_place(existing, edits);
  bool same = false;
  try {
    check_toml_text(written, "config.toml");
    same = toml::parse(written) == root;
  } catch (const toml::parse_error&) {
  }
  if (!same) {
    // A layout the line editor does not follow (multi-line values, dotted
    // keys): the whole file from the parsed table, comments lost.
    std::ostringstream out;
    out << "# Kioku settings (rewritten by the web app's settings page).\n" << root << "\n";
    written = out.str();
  }
  // The file may hold an API key: only the owner may read it, from the
  // moment it exists.
  write_file_atomically(path, written, 0600);
  s.settings_changed();
}

// --- handlers ---

ApiResponse health(Services&, const ApiRequest&) {
  ApiResponse r;
  r.body = {{"status", "ok"}, {"version", KIOKU_VERSION}};
  return r;
}

ApiResponse create_memory(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  Memory m = memory_from_request(*ctx, req);
  const AddMemoryOutcome outcome = add_memory(*ctx, std::move(m), !req.json().contains("importance"));
  if (!outcome.spooled) return created(*ctx, outcome);
  // Taken into the write spool (the database is down): accepted, stored
  // under this id once the database is back.
  ApiResponse r;
  r.status = 202;
  r.body = {{"id", outcome.id}, {"created", true}, {"spooled", true}, {"memory", to_json(outcome.memory)}};
  return r;
}

ApiResponse list_memories(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  MemoryFilter f = filter_from(req, ctx->user_id());
  const int limit = int_param(req, "limit", 50, 1, 500);
  const int offset = int_param(req, "offset", 0, 0, 1 << 30);
  const std::string order = req.param("order", "newest");
  ListOrder o = ListOrder::kNewestFirst;
  if (order == "oldest") o = ListOrder::kOldestFirst;
  else if (order == "importance") o = ListOrder::kMostImportant;
  else if (order == "updated") o = ListOrder::kRecentlyUpdated;
  else if (order != "newest") throw invalid_input("order must be newest, oldest, importance or updated");
  json items = json::array();
  for (const auto& m : ctx->memories().list(f, o, limit, offset)) items.push_back(to_json(m));
  ApiResponse r;
  r.body = {{"items", items}, {"total", ctx->memories().count(f)}, {"limit", limit}, {"offset", offset}};
  return r;
}

ApiResponse get_memory(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ApiResponse r;
  const Memory m = require_memory(*ctx, req.path_params.at(0));
  ctx->profile().note_opened(ctx->user_id(), m);  // opening a memory says it matters
  r.body = to_json(m);
  return r;
}

ApiResponse update_memory(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  Memory m = require_memory(*ctx, req.path_params.at(0));
  json j = req.json();
  apply_edits(m, j, ctx->data_dir());
  if (j.contains("approved") && j["approved"].is_boolean()) m.approved = j["approved"].get<bool>();
  ctx->memories().update(m);
  ApiResponse r;
  r.body = to_json(require_memory(*ctx, m.id));
  return r;
}

ApiResponse delete_memory(Services& s, const ApiRequest& req) {
  const std::string id = req.path_params.at(0);
  {
    auto ctx = s.context(req);
    if (!ctx->memories().remove(ctx->user_id(), id)) throw not_found("no memory with id " + id);
    ctx->searcher().forget(ctx->user_id(), id);
  }
  ApiResponse r;
  r.body = {{"id", id}, {"deleted", true}};
  return r;
}

// One search on ctx in the given mode (vector modes fall back to full text,
// with a notice, when the embedder is missing or down).
// found: the memories returned, for the access times and the profile.
ApiResponse run_search(Services& s, AppContext& ctx, const ApiRequest& req, SearchMode mode, std::string notice,
                       std::vector<Memory>& found) {
  const std::string q = req.param("q");
  SearchOptions options;
  options.filter = filter_from(req, ctx.user_id());
  const int fallback_limit = static_cast<int>(ctx.config().get_number("search.limit").value_or(10));
  options.limit = int_param(req, "limit", fallback_limit, 1, 200);
  options.mode = mode;
  // Access times are written in batches by the background loop: one write
  // transaction per search held full-text search to ~200 requests/s.
  options.record_access = false;
  Searcher& searcher = ctx.searcher();
  std::vector<SearchResult> results;
  try {
    // No indexing here: the background round embeds new memories (within a
    // tick); search uses the vectors stored so far (issue 15).
    results = searcher.search(q, options);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnavailable || options.mode == SearchMode::kLexical) throw;
    notice = std::string("embedder unavailable (") + e.what() + "); full text only";
    options.mode = SearchMode::kLexical;
    results = searcher.search(q, options);
  }
  for (const auto& hit : results) found.push_back(hit.memory);
  json items = json::array();
  for (const auto& hit : results) {
    json item = to_json(hit.memory);
    item["score"] = hit.score;
    item["lexical_rank"] = hit.lexical_rank;
    item["vector_rank"] = hit.vector_rank;
    items.push_back(std::move(item));
  }
  ApiResponse r;
  r.body = {{"query", q}, {"mode", to_string(options.mode)}, {"notice", notice}, {"items", items}};
  return r;
}

ApiResponse search_memories(Services& s, const ApiRequest& req) {
  const std::string q = req.param("q");
  if (q.find_first_not_of(" \t\r\n") == std::string::npos) throw invalid_input("q (what to search for) is required");
  SearchMode mode;
  std::string notice;
  std::string user_id;
  std::vector<Memory> found;
  ApiResponse r;
  {
    auto ctx = s.context(req);
    user_id = ctx->user_id();
    const std::string asked = req.param("mode");
    mode = parse_search_mode(!asked.empty() ? asked : ctx->config().get_string_or("search.mode", "hybrid"));
    if (mode != SearchMode::kLexical && !ctx->embedder()) {
      notice = !ctx->embedder_notice().empty() ? ctx->embedder_notice() : "no embedder is configured; full text only";
      mode = SearchMode::kLexical;
    }
    // Full text needs no vector index: it runs on a pooled context, in
    // parallel with other requests (SQLite WAL readers do not block).
    if (mode == SearchMode::kLexical) r = run_search(s, *ctx, req, mode, notice, found);
  }
  // Vectors live in the one search context's index (services.h, note 2).
  if (mode != SearchMode::kLexical)
    s.with_search(req, [&](AppContext& ctx) { r = run_search(s, ctx, req, mode, notice, found); });
  {
    // What the user searches for teaches importance patterns (src/profile).
    auto ctx = s.context(req);
    ctx->profile().note_search(user_id, q, found);
  }
  std::vector<std::string> ids;
  ids.reserve(found.size());
  for (const auto& m : found) ids.push_back(m.id);
  s.note_access(user_id, std::move(ids));
  return r;
}

ApiResponse upload(Services& s, const ApiRequest& req) {
  const UploadedFile* file = nullptr;
  for (const auto& f : req.files)
    if (f.field == "file") file = &f;
  if (!file) throw invalid_input("send the document as multipart/form-data field 'file'");
  const size_t limit = s.options().max_upload_bytes;
  if (file->content.size() > limit)
    throw too_large("the file is " + std::to_string(file->content.size() >> 20) + " MiB; the limit is " +
                    std::to_string(limit >> 20) + " MiB");
  const std::string name = sanitize_file_name(file->filename);
  auto ctx = s.context(req);
  ImportOptions options;
  options.user_id = ctx->user_id();
  options.display_name = name;
  options.max_file_bytes = limit;
  if (auto it = req.form.find("tags"); it != req.form.end()) options.tags = split_tags(it->second);
  // Parse everything first: a malformed file throws here and nothing is stored.
  ImportResult result = import_bytes(file->content, name, options);
  if (result.memories.empty()) throw Error(ErrorCode::kInvalidInput, name + " has no text to remember");
  // Keep the original under a name no client controls the path of.
  // It waits in uploads/.incoming until its memories are committed, so a
  // crash leaves no file in uploads/ without memories; Server::bind() clears
  // what an interrupted upload left in .incoming.
  const auto uploads = ctx->data_dir() / "uploads";
  const auto incoming = uploads / kIncomingUploads;
  std::filesystem::create_directories(incoming);
  const std::string saved_as = new_uuid_v7().substr(0, 13) + "-" + name;
  write_file_atomically(incoming / saved_as, file->content);
  json stored;
  try {
    std::vector<ParsedImport> files;
    files.push_back({name, std::move(result)});
    stored = store_imports(*ctx, std::move(files)).at(0);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(incoming / saved_as, ec);
    throw;
  }
  std::error_code moved;
  std::filesystem::rename(incoming / saved_as, uploads / saved_as, moved);
  if (moved) throw io_error("cannot keep the upload in " + uploads.filename().string() + ": " + moved.message());
  ApiResponse r;
  r.status = 201;
  r.body = std::move(stored);  // the shape of kioku import --json (app/engine.h)
  r.body["saved_as"] = saved_as;
  return r;
}

ApiResponse list_suggestions(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  MemoryFilter f;
  f.user_id = ctx->user_id();
  f.approved = false;
  const int limit = int_param(req, "limit", 100, 1, 500);
  json items = json::array();
  for (const auto& m : ctx->memories().list(f, ListOrder::kNewestFirst, limit, 0)) items.push_back(to_json(m));
  ApiResponse r;
  r.body = {{"items", items}, {"total", ctx->memories().count(f)}};
  return r;
}

ApiResponse suggest_memory(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  Memory m = memory_from_request(*ctx, req);
  m.approved = false;
  m.source = Source::kAiSuggested;
  return created(*ctx, ctx->memories().add(m));
}

ApiResponse approve_suggestion(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  Memory m = require_suggestion(*ctx, req.path_params.at(0));
  m.approved = true;
  ctx->memories().update(m);
  ApiResponse r;
  r.body = to_json(require_memory(*ctx, m.id));
  return r;
}

ApiResponse reject_suggestion(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  Memory m = require_suggestion(*ctx, req.path_params.at(0));
  ctx->memories().remove(ctx->user_id(), m.id);
  ApiResponse r;
  r.body = {{"id", m.id}, {"rejected", true}};
  return r;
}

ApiResponse edit_suggestion(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  Memory m = require_suggestion(*ctx, req.path_params.at(0));
  apply_edits(m, req.json(), ctx->data_dir());
  ctx->memories().update(m);
  ApiResponse r;
  r.body = to_json(require_memory(*ctx, m.id));
  return r;
}

ApiResponse journal_start(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  JournalSession session = ctx->journal().start(ctx->user_id());
  ApiResponse r;
  r.status = 201;
  r.body = {{"session_id", session.id}, {"started_at", format_iso8601(session.started_at)}};
  return r;
}

ApiResponse journal_add(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ApiResponse r;
  r.status = 201;
  for (const auto& f : req.files) {
    if (f.field != "image") continue;
    // JournalService copies photos from a path: stage the bytes in a
    // private temporary file inside the data directory.
    const auto staging = ctx->data_dir() / "uploads" / kIncomingUploads / (".journal-" + new_uuid_v7());
    std::filesystem::create_directories(staging.parent_path());
    write_file_atomically(staging, f.content);
    std::string caption;
    if (auto it = req.form.find("text"); it != req.form.end()) caption = it->second;
    try {
      r.body = entry_json(ctx->journal().add_image(ctx->user_id(), staging, caption));
    } catch (...) {
      std::error_code ec;
      std::filesystem::remove(staging, ec);
      throw;
    }
    std::error_code ec;
    std::filesystem::remove(staging, ec);
    return r;
  }
  std::string text;
  if (auto it = req.form.find("text"); it != req.form.end()) text = it->second;
  else text = require_text(req.json(), "text");
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw invalid_input("the entry is empty");
  r.body = entry_json(ctx->journal().add_text(ctx->user_id(), text));
  return r;
}

ApiResponse journal_done(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ApiResponse r;
  r.body = journal_json(ctx->journal().done(ctx->user_id()));
  return r;
}

ApiResponse journal_cancel(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ctx->journal().cancel(ctx->user_id(), /*confirmed=*/true);
  ApiResponse r;
  r.body = {{"cancelled", true}};
  return r;
}

ApiResponse journal_status(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ApiResponse r;
  auto status = ctx->journal().status(ctx->user_id());
  if (!status) {
    r.body = {{"open", false}, {"session", nullptr}, {"entries", json::array()}};
    return r;
  }
  json entries = json::array();
  for (const auto& e : status->entries) entries.push_back(entry_json(e));
  r.body = {{"open", true},
            {"session",
             {{"id", status->session.id},
              {"started_at", format_iso8601(status->session.started_at)},
              {"last_activity", format_iso8601(status->session.last_activity)},
              {"entries", status->session.entry_count}}},
            {"entries", entries}};
  return r;
}

// The knowledge graph as it stood at a date: live entities and the facts
// valid then (as known now), for the web app's graph page.
ApiResponse graph_at(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  const std::string at_text = req.param("at");
  const TimePoint at = at_text.empty() ? system_time().now() : parse_iso8601_or_throw(at_text, "at");
  int limit = 300;
  if (!req.param("limit").empty()) {
    try {
      limit = std::stoi(req.param("limit"));
    } catch (...) {
      throw invalid_input("limit must be a number from 1 to 2000");
    }
    if (limit < 1 || limit > 2000) throw invalid_input("limit must be a number from 1 to 2000");
  }
  KnowledgeStore& k = ctx->knowledge();
  FactQuery q;
  q.user_id = ctx->user_id();
  q.valid_at = at;
  q.limit = limit * 4;
  json entities = json::array();
  for (const auto& e : k.list_entities(ctx->user_id(), "", limit)) entities.push_back(to_json(e));
  json facts = json::array();
  for (const auto& f : k.facts(q)) facts.push_back(to_json(f));
  ApiResponse r;
  r.body = {{"at", format_iso8601(at)}, {"entities", entities}, {"facts", facts}};
  return r;
}

ApiResponse list_journals(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  json items = json::array();
  for (const auto& j : ctx->memories().list_journals(ctx->user_id(), int_param(req, "limit", 50, 1, 500)))
    items.push_back(journal_json(j));
  ApiResponse r;
  r.body = {{"items", items}};
  return r;
}

ApiResponse get_journal(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  auto j = ctx->memories().get_journal(ctx->user_id(), req.path_params.at(0));
  if (!j) throw not_found("no journal with id " + req.path_params.at(0));
  ApiResponse r;
  r.body = journal_json(*j);
  return r;
}

ApiResponse get_media(Services& s, const ApiRequest& req) {
  const std::string name = req.path_params.at(0);
  // Names only: no separators, no leading dot, so nothing outside media/.
  if (name.empty() || name.front() == '.' || sanitize_file_name(name) != name)
    throw not_found("no media file named " + name);
  const auto path = s.data_dir() / "media" / name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw not_found("no media file named " + name);
  {
    // Only a file this user's memories or open journal name: the same 404
    // as a missing one, so another user's files cannot even be confirmed.
    auto ctx = s.context(req);
    bool owned = ctx->memories().references_media(ctx->user_id(), name);
    if (!owned)
      if (auto open = ctx->journal().status(ctx->user_id()))
        for (const auto& e : open->entries)
          owned = owned || std::filesystem::path(e.media_path).filename().string() == name;
    if (!owned) throw not_found("no media file named " + name);
  }
  ApiResponse r;
  r.content_type = media_content_type(name);
  r.raw = slurp(path);
  return r;
}

// The prompt size of every turn goes to the log (growing core memory is what
// makes such agents expensive), with the memory edits it made.
void log_turn(Services& s, const ChatTurnResult& t) {
  std::string line = "chat turn: prompt ~" + std::to_string(t.prompt.estimated_tokens) + " tokens (core memory ~" +
                     std::to_string(t.prompt.core_memory_tokens) + "), " + std::to_string(t.prompt.steps) +
                     " model call(s), " + std::to_string(t.tool_calls.size()) + " tool call(s)";
  for (const auto& c : t.tool_calls)
    if (!c.core_label.empty()) line += ", " + c.core_label + " -> v" + std::to_string(c.core_version);
  if (t.queued) line += ", queued";
  s.log(line);
}

ApiResponse chat(Services& s, const ApiRequest& req) {
  const std::string message = require_text(req.json(), "message");
  ApiResponse r;
  {
    // The database is down: the message is spooled before any AI step and
    // answered once it is back.
    auto ctx = s.context(req);
    if (auto spooled = spool_chat_if_down(*ctx, message)) {
      if (!req.wants_event_stream) {
        r.body = turn_json(*ctx, *spooled);
        return r;
      }
      const std::string done = turn_json(*ctx, *spooled).dump();
      r.stream = [done](EventSink& sink) { sink.write("done", done); };
      return r;
    }
  }
  if (!req.wants_event_stream) {
    s.with_chat(req, [&](AppContext& ctx, Companion& companion) {
      ctx.profile().set_channel("web");
      const ChatTurnResult turn = companion.chat(ctx.user_id(), message);
      log_turn(s, turn);
      r.body = turn_json(ctx, turn);
    });
    return r;
  }
  // Streamed: the turn runs while the response is being written.
  // The stream runs after this handler returned: it keeps the request's user.
  ApiRequest as_user;
  as_user.path = req.path;
  as_user.user_id = req.user_id;
  as_user.admin = req.admin;
  r.stream = [&s, message, req = std::move(as_user)](EventSink& sink) {
    bool client_gone = false;
    try {
      s.with_chat(req, [&](AppContext& ctx, Companion& companion) {
        std::function<void(std::string_view)> on_delta = [&](std::string_view delta) {
          if (!client_gone) client_gone = !sink.write("delta", json{{"text", std::string(delta)}}.dump());
        };
        ctx.profile().set_channel("web");
        ChatTurnResult result = companion.chat(ctx.user_id(), message, &on_delta);
        log_turn(s, result);
        if (!client_gone) sink.write("done", turn_json(ctx, result).dump());
      });
    } catch (const Error& e) {
      if (!client_gone) sink.write("error", json{{"error", e.what()}, {"code", to_string(e.code())}}.dump());
    } catch (const std::exception& e) {
      if (!client_gone) sink.write("error", json{{"error", e.what()}, {"code", "internal"}}.dump());
    }
  };
  return r;
}

ApiResponse chat_history(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  MemoryFilter f;
  f.user_id = ctx->user_id();
  f.types = {std::string(memory_types::kChat)};
  const int limit = int_param(req, "limit", 50, 1, 500);
  auto turns = ctx->memories().list(f, ListOrder::kNewestFirst, limit, 0);
  std::reverse(turns.begin(), turns.end());  // newest last, as a chat reads
  // The memories each reply used, fetched in one query for the whole page.
  std::vector<std::vector<std::string>> used_ids;
  std::vector<std::string> all_used;
  for (const auto& m : turns) {
    used_ids.push_back(used_memory_ids_of(m));
    all_used.insert(all_used.end(), used_ids.back().begin(), used_ids.back().end());
  }
  std::map<std::string, json> ref_by_id;
  for (const auto& m : ctx->memories().get_many(ctx->user_id(), all_used)) ref_by_id[m.id] = memory_ref_json(m);
  json items = json::array();
  for (size_t i = 0; i < turns.size(); ++i) {
    const Memory& m = turns[i];
    json used = json::array();
    for (const auto& id : used_ids[i])
      if (auto it = ref_by_id.find(id); it != ref_by_id.end()) used.push_back(it->second);
    items.push_back({{"id", m.id},
                     {"role", m.metadata.value("role", "user")},
                     {"content", m.content},
                     {"event_time", format_iso8601(m.event_time)},
                     {"used_memory_ids", used_ids[i]},
                     {"used_memories", used},
                     {"memory_edits", memory_edits_of(m.metadata.value("tool_calls", json::array()))}});
  }
  ApiResponse r;
  r.body = {{"items", items}};
  return r;
}

ApiResponse get_settings(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ApiResponse r;
  r.body = settings_json(*ctx);
  return r;
}

ApiResponse put_settings(Services& s, const ApiRequest& req) {
  {
    auto ctx = s.context(req);
    write_settings(s, *ctx, req.json());
  }
  auto fresh = s.context(req);  // opened under the new settings
  ApiResponse r;
  r.body = settings_json(*fresh);
  return r;
}

ApiResponse models_available(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  auto client = probe_client(*ctx);
  if (!client) throw invalid_input("no LLM provider is configured (choose one in settings)");
  ApiResponse r;
  try {
    json models = json::array();
    for (const auto& m : client->list_models()) models.push_back({{"name", m.name}, {"size_bytes", m.size_bytes}});
    r.body = {{"provider", ctx->llm_config().provider}, {"models", models}};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnavailable) throw;
    // The provider, not Kioku, failed: a gateway error.
    r.status = 502;
    r.body = {{"error", std::string("the ") + ctx->llm_config().provider + " provider did not answer: " + e.what()},
              {"code", "bad_gateway"}};
  }
  return r;
}

ApiResponse status(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ApiResponse r;
  r.body = status_document(*ctx);
  if (!req.admin) r.body["scheduled_runs"] = json::array();  // server-wide work: an admin's business
  return r;
}

ApiResponse list_jobs(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  JobFilter f;
  f.user_id = ctx->user_id();
  f.limit = int_param(req, "limit", 50, 1, 500);
  if (const std::string state = req.param("state"); !state.empty()) f.states.push_back(parse_job_state(state));
  json items = json::array(), runs = json::array();
  for (const auto& j : ctx->jobs().list(f)) items.push_back(to_json(j));
  if (req.admin)  // scheduled runs are server-wide
    for (const auto& r : ctx->jobs().list_runs("", 20)) runs.push_back(to_json(r));
  ApiResponse r;
  r.body = {{"jobs", items}, {"by_state", ctx->jobs().count_by_state(ctx->user_id())}, {"scheduled_runs", runs}};
  return r;
}

ApiResponse retry_job(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ctx->jobs().retry(ctx->user_id(), req.path_params.at(0), system_time().now());
  ApiResponse r;
  r.body = to_json(*ctx->jobs().get(req.path_params.at(0)));
  return r;
}

ApiResponse cancel_job(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ctx->jobs().cancel(ctx->user_id(), req.path_params.at(0), system_time().now());
  ApiResponse r;
  r.body = to_json(*ctx->jobs().get(req.path_params.at(0)));
  return r;
}

// --- request schemas for the OpenAPI document ---

json memory_schema() {
  return {{"type", "object"},
          {"required", {"content"}},
          {"properties",
           {{"content", {{"type", "string"}}},
            {"type", {{"type", "string"}, {"example", "note"}}},
            {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}},
            {"importance", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
            {"tier", {{"type", "string"}, {"enum", {"short_term", "long_term", "persistent"}}}},
            {"summary", {{"type", "string"}}},
            {"event_time", {{"type", "string"}, {"format", "date-time"}}},
            {"memory_type", {{"type", "string"}, {"enum", {"fact", "belief", "preference", "skill", "event", "context"}}}},
            {"truth_category", {{"type", "string"}, {"enum", {"absolute", "contextual", "opinion", "inferred"}}}}}}};
}

json edit_schema() {
  json s = memory_schema();
  s.erase("required");
  s["properties"]["approved"] = {{"type", "boolean"}};
  return s;
}

std::vector<QueryParamDoc> filter_params() {
  return {{"type", "string", "Only these memory types (repeatable or comma-separated)"},
          {"tags", "string", "Only memories with any of these tags (comma-separated)"},
          {"tier", "string", "short_term, long_term or persistent"},
          {"since", "string", "ISO-8601: event_time at or after"},
          {"until", "string", "ISO-8601: event_time before"}};
}

}  // namespace

int sweep_interrupted_uploads(const std::filesystem::path& data_dir) {
  const auto uploads = data_dir / "uploads";
  int removed = 0;
  std::error_code ec;
  for (const auto& dir : {uploads / kIncomingUploads, uploads}) {
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string file = it->path().filename().string();
      // .incoming/*; in uploads/ itself only what older versions staged
      // there (.journal-*) and write_file_atomically's *.tmp leftovers.
      const bool leftover = dir != uploads || file.rfind(".journal-", 0) == 0 ||
                            (file.size() > 4 && file.compare(file.size() - 4, 4, ".tmp") == 0);
      std::error_code rm;
      if (leftover && it->is_regular_file(rm) && std::filesystem::remove(it->path(), rm)) ++removed;
    }
    ec.clear();
  }
  return removed;
}

std::vector<Route> api_routes() {
  const json empty_object = {{"type", "object"}};
  std::vector<Route> r;
  auto add = [&](Route route) { r.push_back(std::move(route)); };
  add({"GET", "/api/health", "Liveness check (no token needed)", "system", false, {}, nullptr, false, false, health});
  add({"GET", "/api/openapi.json", "This OpenAPI document", "system", true, {}, nullptr, false, false, nullptr});
  add({"GET", "/api/status", "Counts by type and tier, journal session, queue lengths, provider reachability",
       "system", true, {}, nullptr, false, false, status});
  add({"GET", "/api/jobs", "Background jobs (replies, photos, compiles, backups) and recent scheduled runs", "system",
       true, {{"state", "string", "queued, running, done, failed or cancelled"}, {"limit", "integer", "1-500"}},
       nullptr, false, false, list_jobs});
  add({"POST", "/api/jobs/{id}/retry", "Queue a failed or cancelled job again", "system", true, {}, nullptr, false,
       false, retry_job});
  add({"POST", "/api/jobs/{id}/cancel", "Cancel a queued or failed job (409 while it runs)", "system", true, {},
       nullptr, false, false, cancel_job});

  auto list_params = filter_params();
  list_params.push_back({"limit", "integer", "Page size (1-500, default 50)"});
  list_params.push_back({"offset", "integer", "Skip this many"});
  list_params.push_back({"order", "string", "newest (default), oldest, importance or updated"});
  auto search_params = filter_params();
  search_params.insert(search_params.begin(), {"q", "string", "What to look for (required)"});
  search_params.push_back({"limit", "integer", "How many results (1-200, default [search] limit)"});
  search_params.push_back({"mode", "string", "lexical, vector or hybrid (default [search] mode)"});
  add({"GET", "/api/memory/search", "Hybrid search (full text + vectors)", "memories", true, search_params, nullptr,
       false, false, search_memories});
  add({"POST", "/api/memory/suggest", "Create a pending suggestion (approved=false, source ai_suggested)",
       "suggestions", true, {}, memory_schema(), false, false, suggest_memory});
  add({"POST",
       "/api/memory",
       "Create a memory (201; 200 when the content was already stored; 202 when taken into the write spool while the "
       "database is down)",
       "memories",
       true,
       {},
       memory_schema(),
       false,
       false,
       create_memory});
  add({"GET", "/api/memory", "List memories with filters and paging; total is the filtered count", "memories", true,
       list_params, nullptr, false, false, list_memories});
  add({"GET", "/api/memory/{id}", "One memory", "memories", true, {}, nullptr, false, false, get_memory});
  add({"PUT", "/api/memory/{id}", "Edit content, importance, tags, type, tier, ...", "memories", true, {},
       edit_schema(), false, false, update_memory});
  add({"DELETE", "/api/memory/{id}", "Delete a memory", "memories", true, {}, nullptr, false, false, delete_memory});
  add({"POST", "/api/upload", "Import a document (multipart field 'file': txt md json csv pdf xlsx)", "memories", true,
       {}, {{"type", "object"}, {"properties", {{"file", {{"type", "string"}, {"format", "binary"}}}, {"tags", {{"type", "string"}}}}}},
       true, false, upload});
  add({"GET", "/api/media/{name}", "A media file (journal photo) by name", "memories", true, {}, nullptr, false, false,
       get_media});

  add({"GET", "/api/suggestions", "Pending suggestions", "suggestions", true, {{"limit", "integer", "1-500"}}, nullptr,
       false, false, list_suggestions});
  add({"POST", "/api/suggestions/{id}/approve", "Keep a suggestion as a memory", "suggestions", true, {}, nullptr,
       false, false, approve_suggestion});
  add({"POST", "/api/suggestions/{id}/reject", "Discard a suggestion", "suggestions", true, {}, nullptr, false, false,
       reject_suggestion});
  add({"PUT", "/api/suggestions/{id}", "Edit a suggestion before approving it", "suggestions", true, {}, edit_schema(),
       false, false, edit_suggestion});

  add({"POST", "/api/journal/start", "Open a journal session (409 when one is open)", "journal", true, {}, nullptr,
       false, false, journal_start});
  add({"POST", "/api/journal/add", "Add an entry: JSON {text}, or multipart with 'image' (+ 'text' caption)",
       "journal", true, {}, {{"type", "object"}, {"required", {"text"}}, {"properties", {{"text", {{"type", "string"}}}}}},
       false, false, journal_add});
  add({"POST", "/api/journal/done", "Compile the session into an article", "journal", true, {}, nullptr, false, false,
       journal_done});
  add({"POST", "/api/journal/cancel", "Discard the open session's drafts", "journal", true, {}, nullptr, false, false,
       journal_cancel});
  add({"GET", "/api/journal/status", "The open session and its entries", "journal", true, {}, nullptr, false, false,
       journal_status});
  add({"GET", "/api/journals", "Compiled journals, newest first", "journal", true, {{"limit", "integer", "1-500"}},
       nullptr, false, false, list_journals});
  add({"GET", "/api/graph", "Knowledge graph: entities and the facts valid at a date (as known now)", "graph", true,
       {{"at", "string", "ISO-8601 date (default: now)"}, {"limit", "integer", "entities, 1-2000 (default 300)"}},
       nullptr, false, false, graph_at});
  add({"GET", "/api/journals/{id}", "One compiled journal (markdown body)", "journal", true, {}, nullptr, false, false,
       get_journal});

  add({"POST", "/api/chat",
       "One chat turn. JSON reply, or Server-Sent Events (event: delta {text}, event: done {reply, used_memories, "
       "queued, notice}) with Accept: text/event-stream or ?stream=1",
       "chat", true, {{"stream", "integer", "1 = answer as text/event-stream"}},
       {{"type", "object"}, {"required", {"message"}}, {"properties", {{"message", {{"type", "string"}}}}}}, false, true,
       chat});
  add({"GET", "/api/chat/history", "Chat turns, newest last", "chat", true, {{"limit", "integer", "1-500"}}, nullptr,
       false, false, chat_history});

  const json settings_schema = {
      {"type", "object"},
      {"properties",
       {{"llm",
         {{"type", "object"},
          {"properties",
           {{"provider", {{"type", "string"}, {"enum", {"", "none", "openai", "ollama", "anthropic"}}}},
            {"url", {{"type", "string"}}},
            {"model", {{"type", "string"}}},
            {"api_key", {{"type", "string"}, {"writeOnly", true}}},
            {"vision", {{"type", "boolean"}}}}}}},
        {"companion",
         {{"type", "object"},
          {"properties", {{"persona", {{"type", "string"}}}, {"suggestions", {{"type", "boolean"}}}}}}}}}};
  add({"GET", "/api/settings", "Provider, model, suggestion toggle, persona (the API key is never returned)",
       "settings", true, {}, nullptr, false, false, get_settings});
  // Server-wide (one provider and persona for everyone): an admin's.
  add({"PUT", "/api/settings", "Change settings (written to config.toml; admin)", "settings", true, {}, settings_schema,
       false, false, put_settings, true});
  add({"GET", "/api/models/available", "Models of the configured provider (502 when it does not answer)", "settings",
       true, {}, nullptr, false, false, models_available});
  for (auto& route : memory_agent_routes()) add(std::move(route));  // /api/core/..., /mcp
  for (auto& route : user_routes()) add(std::move(route));          // /api/me, /api/users/...
  for (auto& route : profile_routes()) add(std::move(route));       // /api/profile/...
  return r;
}

json openapi_document(const std::vector<Route>& routes, const std::string& version) {
  json paths = json::object();
  const json error_response = {
      {"description", "Error"},
      {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  for (const auto& route : routes) {
    std::string method = route.method;
    std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::tolower(c); });
    json op = {{"summary", route.summary},
               {"tags", {route.tag}},
               {"operationId", method + route.path},
               {"responses",
                {{"200", {{"description", "OK"}, {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}}},
                 {"400", error_response},
                 {"default", error_response}}}};
    // Creating routes answer 201 (200 when the content was already known).
    if (route.method == "POST") op["responses"]["201"] = op["responses"]["200"];
    // Taken into the write spool while PostgreSQL is down (docs/POSTGRES.md).
    if (route.method == "POST" && route.path == "/api/memory") op["responses"]["202"] = op["responses"]["200"];
    if (!route.auth) op["security"] = json::array();
    else op["responses"]["401"] = error_response;
    json parameters = json::array();
    size_t pos = 0;
    while ((pos = route.path.find('{', pos)) != std::string::npos) {
      const size_t end = route.path.find('}', pos);
      parameters.push_back({{"name", route.path.substr(pos + 1, end - pos - 1)},
                            {"in", "path"},
                            {"required", true},
                            {"schema", {{"type", "string"}}}});
      pos = end;
    }
    for (const auto& q : route.query)
      parameters.push_back({{"name", q.name}, {"in", "query"}, {"description", q.description}, {"schema", {{"type", q.type}}}});
    if (!parameters.empty()) op["parameters"] = parameters;
    if (!route.request_schema.is_null()) {
      op["requestBody"] = {
          {"required", true},
          {"content", {{route.multipart ? "multipart/form-data" : "application/json", {{"schema", route.request_schema}}}}}};
    }
    if (route.streams) op["responses"]["200"]["content"]["text/event-stream"] = {{"schema", {{"type", "string"}}}};
    paths[route.path][method] = op;
  }
  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "Kioku API"},
            {"version", version},
            {"description", "Local-first personal memory engine. Every /api route except /api/health needs "
                            "Authorization: Bearer <token> (kioku token)."}}},
          {"servers", {{{"url", "http://127.0.0.1:8765"}}}},
          {"security", {{{"bearer", json::array()}}}},
          {"paths", paths},
          {"components",
           {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"schemas",
             {{"Error",
               {{"type", "object"},
                {"required", {"error", "code"}},
                {"properties", {{"error", {{"type", "string"}}}, {"code", {{"type", "string"}}}}}}}}}}}};
}

}  // namespace kioku::server
