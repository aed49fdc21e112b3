// One registry of tools (name, description, JSON Schema, handler) for every
// caller: the companion's agent loop offers them to the model, the MCP server
// lists and calls them for outside clients.
//
// Failure behaviour: call() never throws for a tool's own failure. Bad
// arguments, an unknown tool, a limit passed, a read-only block: each comes
// back as a ToolResult with is_error set and a message the model can act on
// (what was wrong and what to do instead). Only programmer errors escape.
// Thread safety: register everything first; afterwards call() may run from
// one thread at a time (handlers use single-threaded stores).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kioku {

// Who is calling and on behalf of which turn.
struct ToolContext {
  std::string user_id = "local";
  std::string turn_id;       // the chat turn (user message id); "" outside chat
  std::string tool_call_id;  // the model's id for this call
  std::string caller = "agent";  // "agent" (the companion's model) or "mcp"
};

struct ToolResult {
  bool is_error = false;
  std::string text;  // what the model reads
  nlohmann::json data = nlohmann::json::object();  // structured result (MCP structuredContent)
  // Set when the call changed a core memory block.
  std::string core_label;
  int core_version = 0;
};

enum class ToolAudience { kAll, kMcpOnly };

struct Tool {
  std::string name;
  std::string title;
  std::string description;
  nlohmann::json input_schema = nlohmann::json::object();
  bool read_only = false;  // MCP annotation readOnlyHint
  bool destructive = false;
  ToolAudience audience = ToolAudience::kAll;
  std::function<ToolResult(const nlohmann::json& args, const ToolContext& ctx)> handler;
};

class ToolRegistry {
 public:
  void add(Tool tool);
  const Tool* find(const std::string& name) const;
  // In registration order; chat_only drops the MCP-only tools.
  std::vector<const Tool*> list(bool chat_only = false) const;
  // Validates the arguments against the schema's required fields and types,
  // runs the handler, and turns every kioku::Error or JSON type error into
  // an error result. An unknown tool is an error result naming the tools.
  ToolResult call(const std::string& name, const nlohmann::json& arguments, const ToolContext& ctx) const;

 private:
  std::vector<Tool> tools_;
};

// Argument helpers for handlers: throw kInvalidInput naming the argument.
std::string required_string(const nlohmann::json& args, const char* name);
std::optional<std::string> optional_string(const nlohmann::json& args, const char* name);
std::optional<int64_t> optional_integer(const nlohmann::json& args, const char* name);
std::vector<std::string> optional_strings(const nlohmann::json& args, const char* name);

}  // namespace kioku
