#include "mcp/mcp_session.h"

#include <istream>
#include <ostream>

#include "core/error.h"
#include "tools/core_memory.h"

namespace kioku::mcp {

using nlohmann::json;

const std::vector<std::string>& supported_protocol_versions() {
  static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26"};
  return versions;
}

bool is_supported_protocol_version(std::string_view version) {
  for (const auto& v : supported_protocol_versions())
    if (v == version) return true;
  return false;
}

namespace {

// A JSON-RPC error carried up to handle_one.
struct RpcError {
  int code;
  std::string message;
};

json error_response(const json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

const std::string kCorePrefix = "kioku://core/";
const std::string kJournalPrefix = "kioku://journal/";

}  // namespace

McpSession::McpSession(const ToolRegistry& tools, MemoryStore& store, std::string user_id, McpSessionOptions options)
    : tools_(tools), store_(store), user_id_(std::move(user_id)), options_(std::move(options)) {}

bool McpSession::only_notifications(const json& message) {
  auto is_notification = [](const json& m) { return !m.is_object() || !m.contains("method") || !m.contains("id"); };
  if (message.is_array()) {
    for (const auto& m : message)
      if (!is_notification(m)) return false;
    return !message.empty();
  }
  return message.is_object() && is_notification(message);
}

std::optional<std::string> McpSession::handle_text(std::string_view text) {
  auto message = json::parse(text, nullptr, false);
  if (message.is_discarded()) return error_response(nullptr, kParseError, "parse error: not valid JSON").dump();
  auto out = handle(message);
  if (!out) return std::nullopt;
  return out->dump();
}

std::optional<json> McpSession::handle(const json& message) {
  if (message.is_array()) {
    if (message.empty()) return error_response(nullptr, kInvalidRequest, "empty batch");
    json out = json::array();
    for (const auto& m : message) {
      bool answered = false;
      json r = handle_one(m, answered);
      if (answered) out.push_back(std::move(r));
    }
    if (out.empty()) return std::nullopt;
    return out;
  }
  bool answered = false;
  json r = handle_one(message, answered);
  if (!answered) return std::nullopt;
  return r;
}

json McpSession::handle_one(const json& message, bool& answered) {
  answered = true;
  if (!message.is_object() || message.value("jsonrpc", "") != "2.0")
    return error_response(message.is_object() && message.contains("id") ? message["id"] : json(nullptr),
                          kInvalidRequest, "not a JSON-RPC 2.0 message");
  const bool has_id = message.contains("id");
  const json id = has_id ? message["id"] : json(nullptr);
  if (!message.contains("method")) {
    answered = false;  // a response to a request we never send: ignore
    return nullptr;
  }
  if (!message["method"].is_string()) return error_response(id, kInvalidRequest, "method must be a string");
  if (has_id && !id.is_string() && !id.is_number_integer())
    return error_response(nullptr, kInvalidRequest, "id must be a string or an integer");
  const std::string method = message["method"];
  const json params = message.contains("params") ? message["params"] : json::object();
  if (!has_id) {
    // Notifications get no answer, whatever they are.
    answered = false;
    if (method == "notifications/initialized") initialized_ = true;
    return nullptr;
  }
  if (!params.is_object()) return error_response(id, kInvalidParams, "params must be an object");
  try {
    json result;
    if (method == "initialize") result = initialize(params);
    else if (method == "ping") result = json::object();
    else if (method == "tools/list") result = list_tools();
    else if (method == "tools/call") result = call_tool(params);
    else if (method == "resources/list") result = list_resources();
    else if (method == "resources/read") result = read_resource(params);
    else if (method == "resources/templates/list") result = {{"resourceTemplates", json::array()}};
    else if (method == "prompts/list") result = {{"prompts", json::array()}};
    else return error_response(id, kMethodNotFound, "method not found: " + method);
    return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
  } catch (const RpcError& e) {
    return error_response(id, e.code, e.message);
  } catch (const Error& e) {
    return error_response(id, e.code() == ErrorCode::kNotFound ? kResourceNotFound : kInternalError, e.what());
  } catch (const std::exception& e) {
    return error_response(id, kInternalError, std::string("internal error: ") + e.what());
  }
}

json McpSession::initialize(const json& params) {
  const std::string requested = params.value("protocolVersion", "");
  if (requested.empty()) throw RpcError{kInvalidParams, "initialize needs protocolVersion"};
  protocol_version_ = is_supported_protocol_version(requested) ? requested : std::string(kLatestProtocolVersion);
  if (params.contains("clientInfo") && params["clientInfo"].is_object())
    client_name_ = params["clientInfo"].value("name", "");
  json info = {{"name", "kioku"}, {"version", options_.server_version}};
  if (at_least("2025-06-18")) info["title"] = "Kioku memory";
  return {{"protocolVersion", protocol_version_},
          {"capabilities",
           {{"tools", {{"listChanged", false}}}, {"resources", {{"subscribe", false}, {"listChanged", false}}}}},
          {"serverInfo", info},
          {"instructions",
           "Kioku is the user's personal memory. Core memory blocks (resources kioku://core/<label>) are what "
           "matters in every conversation; edit them with core_memory_append, core_memory_replace, memory_insert "
           "and memory_rethink. Search everything with search_memory or archival_memory_search, earlier chats with "
           "conversation_search, and store new facts with add_memory."}};
}

json McpSession::list_tools() const {
  json out = json::array();
  for (const Tool* t : tools_.list()) {
    json tool = {{"name", t->name}, {"description", t->description}, {"inputSchema", t->input_schema}};
    json annotations = {{"title", t->title},
                        {"readOnlyHint", t->read_only},
                        {"destructiveHint", t->destructive},
                        {"openWorldHint", false}};
    if (at_least("2025-06-18")) tool["title"] = t->title;
    tool["annotations"] = annotations;
    out.push_back(tool);
  }
  return {{"tools", out}};
}

json McpSession::call_tool(const json& params) {
  if (!params.contains("name") || !params["name"].is_string()) throw RpcError{kInvalidParams, "tools/call needs a name"};
  const std::string name = params["name"];
  if (!tools_.find(name)) throw RpcError{kInvalidParams, "unknown tool: " + name};
  const json args = params.contains("arguments") ? params["arguments"] : json::object();
  ToolContext ctx;
  ctx.user_id = user_id_;
  ctx.caller = "mcp";
  ctx.tool_call_id = "mcp:" + (client_name_.empty() ? std::string("client") : client_name_);
  const ToolResult r = tools_.call(name, args, ctx);
  json out = {{"content", json::array({{{"type", "text"}, {"text", r.text}}})}, {"isError", r.is_error}};
  if (at_least("2025-06-18") && r.data.is_object() && !r.is_error) out["structuredContent"] = r.data;
  return out;
}

json McpSession::list_resources() {
  json out = json::array();
  CoreMemory core(store_.core_memory(), user_id_);
  for (const auto& b : core.blocks()) {
    json r = {{"uri", kCorePrefix + b.label},
              {"name", "core/" + b.label},
              {"description", b.description + " (" + std::to_string(char_count(b.value)) + "/" +
                                  std::to_string(b.limit) + " characters, version " + std::to_string(b.version) + ")"},
              {"mimeType", "text/plain"}};
    if (at_least("2025-06-18")) r["title"] = "Core memory: " + b.label;
    out.push_back(r);
  }
  for (const auto& j : store_.list_journals(user_id_, options_.recent_journals)) {
    json r = {{"uri", kJournalPrefix + j.id},
              {"name", "journal/" + j.id},
              {"description", "Journal of " + format_iso8601(j.created_at).substr(0, 10)},
              {"mimeType", "text/markdown"}};
    if (at_least("2025-06-18")) r["title"] = j.title;
    out.push_back(r);
  }
  return {{"resources", out}};
}

json McpSession::read_resource(const json& params) {
  if (!params.contains("uri") || !params["uri"].is_string()) throw RpcError{kInvalidParams, "resources/read needs a uri"};
  const std::string uri = params["uri"];
  if (uri.rfind(kCorePrefix, 0) == 0) {
    CoreMemory core(store_.core_memory(), user_id_);
    try {
      const CoreBlock b = core.get(uri.substr(kCorePrefix.size()));
      return {{"contents", json::array({{{"uri", uri}, {"mimeType", "text/plain"}, {"text", b.value}}})}};
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) throw RpcError{kResourceNotFound, "resource not found: " + uri};
      throw;
    }
  }
  if (uri.rfind(kJournalPrefix, 0) == 0) {
    auto j = store_.get_journal(user_id_, uri.substr(kJournalPrefix.size()));
    if (!j) throw RpcError{kResourceNotFound, "resource not found: " + uri};
    return {{"contents",
             json::array({{{"uri", uri}, {"mimeType", "text/markdown"}, {"text", "# " + j->title + "\n\n" + j->body}}})}};
  }
  throw RpcError{kResourceNotFound, "resource not found: " + uri};
}

void serve_stdio(McpSession& session, std::istream& in, std::ostream& out) {
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (auto reply = session.handle_text(line)) out << *reply << "\n" << std::flush;
  }
}

}  // namespace kioku::mcp
