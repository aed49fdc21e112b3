// The Model Context Protocol server side, independent of any transport:
// JSON-RPC 2.0 messages in, responses out. `kioku mcp` (stdio) and `/mcp` on
// `kioku serve` (Streamable HTTP) are thin adapters around McpSession.
//
// Protocol: revision 2025-11-25, negotiated down to 2025-06-18 and
// 2025-03-26 (a client asking for anything else gets 2025-11-25 and decides).
// Methods: initialize, notifications/initialized, ping, tools/list,
// tools/call, resources/list, resources/read (core memory blocks and recent
// journals). Tool failures are results with isError: true (the model can
// correct itself); an unknown tool or method, or malformed params, are
// JSON-RPC errors.
// Failure behaviour: handle() never throws for anything a client sends.
// Thread safety: one session per connection, used by one thread at a time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/store.h"
#include "tools/tool_registry.h"

namespace kioku::mcp {

inline constexpr std::string_view kLatestProtocolVersion = "2025-11-25";
// Newest first.
const std::vector<std::string>& supported_protocol_versions();
bool is_supported_protocol_version(std::string_view version);

// JSON-RPC error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kResourceNotFound = -32002;

struct McpSessionOptions {
  std::string server_version = "0";
  int recent_journals = 10;  // journals listed as resources
};

class McpSession {
 public:
  // tools and store must outlive the session; user_id is whose memory it serves.
  McpSession(const ToolRegistry& tools, MemoryStore& store, std::string user_id, McpSessionOptions options = {});

  // One message or a batch (array). Returns the response(s), or nullopt
  // when there is nothing to answer (notifications, client responses).
  std::optional<nlohmann::json> handle(const nlohmann::json& message);
  // The same from text; a parse error gives a JSON-RPC error response.
  std::optional<std::string> handle_text(std::string_view text);

  // True when every message in it is a notification or a response (HTTP
  // answers those with 202 and no body).
  static bool only_notifications(const nlohmann::json& message);

  const std::string& protocol_version() const { return protocol_version_; }
  bool initialized() const { return initialized_; }
  // For adapters whose transport tells the version (HTTP's header).
  void set_protocol_version(std::string version) { protocol_version_ = std::move(version); }

 private:
  nlohmann::json handle_one(const nlohmann::json& message, bool& answered);
  nlohmann::json initialize(const nlohmann::json& params);
  nlohmann::json list_tools() const;
  nlohmann::json call_tool(const nlohmann::json& params);
  nlohmann::json list_resources();
  nlohmann::json read_resource(const nlohmann::json& params);
  bool at_least(std::string_view version) const { return protocol_version_ >= version; }

  const ToolRegistry& tools_;
  MemoryStore& store_;
  std::string user_id_;
  McpSessionOptions options_;
  std::string protocol_version_ = "2025-03-26";  // until initialize says otherwise
  bool initialized_ = false;
  std::string client_name_;
};

// Reads newline-delimited JSON-RPC messages from in and writes each answer
// as one line to out (flushed), until in ends. Nothing else goes to out.
void serve_stdio(McpSession& session, std::istream& in, std::ostream& out);

}  // namespace kioku::mcp
