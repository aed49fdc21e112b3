// Core memory routes and the MCP endpoint (see mcp_http.h).
#include <algorithm>

#include "core/error.h"
#include "mcp/mcp_session.h"
#include "server/mcp_http.h"
#include "server/server.h"
#include "server/services.h"
#include "tools/core_memory.h"
#include "tools/memory_tools.h"

namespace kioku::server {

using nlohmann::json;

bool mcp_origin_allowed(const std::string& origin, int server_port, const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) return true;
  const std::string scheme = "http://";
  if (origin.rfind(scheme, 0) != 0) return false;
  const std::string rest = origin.substr(scheme.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || rest.find('/') != std::string::npos) return false;
  const std::string host = rest.substr(0, colon);
  if (rest.substr(colon + 1) != std::to_string(server_port)) return false;
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

namespace {

CoreMemory core_of(AppContext& ctx) { return CoreMemory(ctx.memories().core_memory(), ctx.user_id()); }

int version_param(const std::string& text, const char* what) {
  try {
    size_t used = 0;
    const int v = std::stoi(text, &used);
    if (used == text.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  throw invalid_input(std::string(what) + " must be a positive version number");
}

ApiResponse list_blocks(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  auto cm = core_of(*ctx);
  json items = json::array();
  for (const auto& b : cm.blocks()) items.push_back(to_json(b));
  ApiResponse r;
  const auto changed = cm.changed_at();
  r.body = {{"items", items}, {"changed_at", changed ? json(format_iso8601(*changed)) : json(nullptr)}};
  return r;
}

ApiResponse get_block(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ApiResponse r;
  r.body = to_json(core_of(*ctx).get(req.path_params.at(0)));
  return r;
}

ApiResponse create_block(Services& s, const ApiRequest& req) {
  const json j = req.json();
  CoreBlock b;
  b.label = j.value("label", "");
  b.value = j.value("value", "");
  b.description = j.value("description", "");
  b.limit = j.value("limit", 2048);
  b.read_only = j.value("read_only", false);
  auto ctx = s.context(req);
  ApiResponse r;
  r.status = 201;
  r.body = to_json(core_of(*ctx).create(b));
  return r;
}

ApiResponse edit_block(Services& s, const ApiRequest& req) {
  const json j = req.json();
  CoreBlockEdit e;
  if (j.contains("value")) e.value = j.at("value").get<std::string>();
  if (j.contains("description")) e.description = j.at("description").get<std::string>();
  if (j.contains("limit")) e.limit = j.at("limit").get<int>();
  if (j.contains("read_only")) e.read_only = j.at("read_only").get<bool>();
  if (j.contains("expected_version")) e.expected_version = j.at("expected_version").get<int>();
  auto ctx = s.context(req);
  ApiResponse r;
  r.body = to_json(core_of(*ctx).edit(req.path_params.at(0), e));
  return r;
}

ApiResponse delete_block(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  core_of(*ctx).remove(req.path_params.at(0));
  ApiResponse r;
  r.body = {{"label", req.path_params.at(0)}, {"removed", true}};
  return r;
}

ApiResponse block_history(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  json items = json::array();
  for (const auto& v : core_of(*ctx).history(req.path_params.at(0))) items.push_back(to_json(v));
  ApiResponse r;
  r.body = {{"label", req.path_params.at(0)}, {"items", items}};
  return r;
}

ApiResponse block_version(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  auto cm = core_of(*ctx);
  const std::string label = req.path_params.at(0);
  const int version = version_param(req.path_params.at(1), "version");
  json v = to_json(cm.version(label, version));
  // The diff from the version before (what this version changed).
  v["diff"] = version > 1 ? json(diff_lines(cm.version(label, version - 1).block.value, v["value"].get<std::string>()))
                          : json(diff_lines("", v["value"].get<std::string>()));
  ApiResponse r;
  r.body = v;
  return r;
}

ApiResponse block_diff(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  const std::string label = req.path_params.at(0);
  const int from = version_param(req.param("from"), "from");
  const int to = req.param("to").empty() ? 0 : version_param(req.param("to"), "to");
  ApiResponse r;
  r.body = {{"label", label}, {"from", from}, {"to", to}, {"diff", core_of(*ctx).diff(label, from, to)}};
  return r;
}

ApiResponse rollback_block(Services& s, const ApiRequest& req) {
  const json j = req.json();
  if (!j.contains("version") || !j["version"].is_number_integer()) throw invalid_input("send {\"version\": N}");
  auto ctx = s.context(req);
  ApiResponse r;
  r.body = to_json(core_of(*ctx).rollback(req.path_params.at(0), j["version"].get<int>()));
  return r;
}

// --------------------------------------------------------------------- MCP

bool contains_method(const json& message, const std::string& method) {
  if (message.is_array()) {
    for (const auto& m : message)
      if (contains_method(m, method)) return true;
    return false;
  }
  return message.is_object() && message.value("method", "") == method;
}

ApiResponse rpc_error(int status, int code, const std::string& message) {
  ApiResponse r;
  r.status = status;
  r.body = {{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", code}, {"message", message}}}};
  return r;
}

ApiResponse mcp_post(Services& s, const ApiRequest& req) {
  const std::string accept = req.header("accept");
  const bool accepts_json = accept.empty() || accept.find("application/json") != std::string::npos ||
                            accept.find("*/*") != std::string::npos;
  const bool accepts_sse = accept.find("text/event-stream") != std::string::npos;
  if (!accepts_json && !accepts_sse)
    return rpc_error(406, mcp::kInvalidRequest, "Accept must include application/json and text/event-stream");
  const std::string content_type = req.header("content-type");
  if (content_type.find("application/json") == std::string::npos)
    return rpc_error(415, mcp::kInvalidRequest, "Content-Type must be application/json");
  const json message = json::parse(req.body, nullptr, false);
  if (message.is_discarded()) return rpc_error(400, mcp::kParseError, "parse error: the body is not JSON");
  const bool initializing = contains_method(message, "initialize");
  const std::string version = req.header("mcp-protocol-version");
  if (!version.empty() && !mcp::is_supported_protocol_version(version))
    return rpc_error(400, mcp::kInvalidRequest,
                     "unsupported MCP-Protocol-Version " + version + " (supported: 2025-11-25, 2025-06-18, 2025-03-26)");
  if (mcp::McpSession::only_notifications(message)) {
    ApiResponse r;
    r.status = 202;
    r.content_type = "application/json";
    return r;
  }
  std::optional<json> answer;
  // Any session: its Searcher shares the engine's vector indexes.
  s.with_search(req, [&](AppContext& ctx) {
    const Config& config = ctx.config();
    MemoryToolOptions o;
    o.inserts_need_approval =
        config.get_bool("companion.approve_agent_memories")
            .value_or(config.get_bool("companion.suggestions", "KIOKU_SUGGESTIONS").value_or(false));
    ToolRegistry tools;
    register_memory_tools(tools, ctx.memories(), ctx.searcher(), o);
    mcp::McpSessionOptions so;
    so.server_version = KIOKU_VERSION;
    mcp::McpSession session(tools, ctx.memories(), ctx.user_id(), so);
    // Stateless: every POST is its own session at the version the client
    // negotiated (the header), so no session id is needed.
    if (!initializing) session.set_protocol_version(version.empty() ? "2025-03-26" : version);
    answer = session.handle(message);
  });
  ApiResponse r;
  if (!answer) {
    r.status = 202;
    r.content_type = "application/json";
    return r;
  }
  if (accepts_sse && (!accepts_json || contains_method(message, "tools/call"))) {
    // Tool calls answer as an SSE stream of one message event.
    r.stream = [payload = answer->dump()](EventSink& sink) { sink.write("message", payload); };
    return r;
  }
  r.body = *answer;
  return r;
}

ApiResponse mcp_not_allowed(Services&, const ApiRequest& req) {
  ApiResponse r = rpc_error(405, mcp::kInvalidRequest,
                            req.method + " /mcp is not supported: POST JSON-RPC messages (no server streams, no sessions)");
  r.headers.push_back({"Allow", "POST"});
  return r;
}

}  // namespace

std::vector<Route> memory_agent_routes() {
  std::vector<Route> r;
  json block_schema = {{"type", "object"},
                       {"properties",
                        {{"label", {{"type", "string"}}},
                         {"value", {{"type", "string"}}},
                         {"description", {{"type", "string"}}},
                         {"limit", {{"type", "integer"}}},
                         {"read_only", {{"type", "boolean"}}},
                         {"expected_version", {{"type", "integer"}}}}}};
  r.push_back({"GET", "/api/core", "Core memory blocks (defaults created on first use)", "core", true, {}, nullptr,
               false, false, list_blocks});
  r.push_back({"POST", "/api/core", "Add a core memory block {label, value, limit, description, read_only}", "core",
               true, {}, block_schema, false, false, create_block});
  r.push_back({"GET", "/api/core/{label}", "One core memory block", "core", true, {}, nullptr, false, false, get_block});
  r.push_back({"PUT", "/api/core/{label}", "Edit a block (a new version; 409 when expected_version is stale)", "core",
               true, {}, block_schema, false, false, edit_block});
  r.push_back({"DELETE", "/api/core/{label}", "Remove a block you added (defaults stay)", "core", true, {}, nullptr,
               false, false, delete_block});
  r.push_back({"GET", "/api/core/{label}/history", "Every version: author, tool call, turn, time", "core", true, {},
               nullptr, false, false, block_history});
  r.push_back({"GET", "/api/core/{label}/versions/{version}", "One version and its diff from the one before", "core",
               true, {}, nullptr, false, false, block_version});
  r.push_back({"GET", "/api/core/{label}/diff", "Line diff between versions", "core", true,
               {{"from", "integer", "older version"}, {"to", "integer", "newer version (default: current)"}}, nullptr,
               false, false, block_diff});
  r.push_back({"POST", "/api/core/{label}/rollback", "Restore version N as a new version {version}", "core", true, {},
               {{"type", "object"}, {"properties", {{"version", {{"type", "integer"}}}}}, {"required", {"version"}}},
               false, false, rollback_block});
  r.push_back({"POST", "/mcp", "MCP Streamable HTTP endpoint (JSON-RPC; JSON or SSE replies; docs/MCP.md)", "mcp", true,
               {}, {{"type", "object"}}, false, true, mcp_post});
  r.push_back({"GET", "/mcp", "405: no server-initiated MCP streams", "mcp", true, {}, nullptr, false, false,
               mcp_not_allowed});
  r.push_back({"DELETE", "/mcp", "405: no MCP sessions to end", "mcp", true, {}, nullptr, false, false,
               mcp_not_allowed});
  return r;
}

}  // namespace kioku::server
