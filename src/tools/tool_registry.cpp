#include "tools/tool_registry.h"

#include "core/error.h"

namespace kioku {

void ToolRegistry::add(Tool tool) {
  if (find(tool.name)) throw Error(ErrorCode::kInternal, "tool " + tool.name + " registered twice");
  tools_.push_back(std::move(tool));
}

const Tool* ToolRegistry::find(const std::string& name) const {
  for (const auto& t : tools_)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<const Tool*> ToolRegistry::list(bool chat_only) const {
  std::vector<const Tool*> out;
  for (const auto& t : tools_)
    if (!chat_only || t.audience == ToolAudience::kAll) out.push_back(&t);
  return out;
}

namespace {

bool matches_type(const nlohmann::json& value, const std::string& type) {
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer() || (value.is_number_float() && value.get<double>() == static_cast<double>(static_cast<int64_t>(value.get<double>())));
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "array") return value.is_array();
  if (type == "object") return value.is_object();
  return true;
}

// The checks a model most often gets wrong: missing required arguments and
// wrong types. Unknown extra arguments are ignored, as most servers do.
std::string schema_problem(const nlohmann::json& schema, const nlohmann::json& args) {
  if (!args.is_object()) return "the arguments must be a JSON object";
  if (schema.contains("required"))
    for (const auto& r : schema["required"])
      if (!args.contains(r.get<std::string>()) || args[r.get<std::string>()].is_null())
        return "missing required argument '" + r.get<std::string>() + "'";
  if (schema.contains("properties"))
    for (const auto& [name, prop] : schema["properties"].items()) {
      if (!args.contains(name) || args[name].is_null() || !prop.contains("type")) continue;
      const auto& type = prop["type"];
      bool ok = false;
      if (type.is_string()) ok = matches_type(args[name], type.get<std::string>());
      else if (type.is_array())
        for (const auto& t : type) ok = ok || matches_type(args[name], t.get<std::string>());
      else ok = true;
      if (!ok) return "argument '" + name + "' must be of type " + type.dump();
      if (args[name].is_array() && prop.contains("items") && prop["items"].contains("type"))
        for (const auto& item : args[name])
          if (!matches_type(item, prop["items"]["type"].get<std::string>()))
            return "argument '" + name + "' must be an array of " + prop["items"]["type"].get<std::string>() + "s";
    }
  return "";
}

ToolResult error_result(std::string text) {
  ToolResult r;
  r.is_error = true;
  r.text = std::move(text);
  r.data = {{"error", r.text}};
  return r;
}

}  // namespace

ToolResult ToolRegistry::call(const std::string& name, const nlohmann::json& arguments, const ToolContext& ctx) const {
  const Tool* tool = find(name);
  if (!tool) {
    std::string names;
    for (const auto& t : tools_)
      if (ctx.caller != "agent" || t.audience == ToolAudience::kAll) names += (names.empty() ? "" : ", ") + t.name;
    return error_result("unknown tool '" + name + "'. Available tools: " + names);
  }
  if (ctx.caller == "agent" && tool->audience != ToolAudience::kAll)
    return error_result("tool '" + name + "' is not available in chat");
  // Providers hand over arguments that were not valid JSON as a string.
  nlohmann::json args = arguments.is_null() ? nlohmann::json::object() : arguments;
  if (args.is_string()) {
    return error_result("the arguments of " + name + " are not valid JSON: " + args.get<std::string>().substr(0, 200) +
                        ". Call it again with a JSON object matching its schema.");
  }
  if (const std::string problem = schema_problem(tool->input_schema, args); !problem.empty())
    return error_result(name + ": " + problem + ". Expected arguments: " + tool->input_schema.value("properties", nlohmann::json::object()).dump());
  try {
    return tool->handler(args, ctx);
  } catch (const Error& e) {
    ToolResult r = error_result(name + " failed: " + e.what());
    r.data["code"] = std::string(to_string(e.code()));
    return r;
  } catch (const nlohmann::json::exception& e) {
    return error_result(name + ": bad argument value (" + std::string(e.what()) + ")");
  } catch (const std::exception& e) {
    // A bug in a handler must not end the turn; the model hears it failed.
    return error_result(name + " failed unexpectedly: " + std::string(e.what()));
  }
}

std::string required_string(const nlohmann::json& args, const char* name) {
  if (!args.contains(name) || !args[name].is_string()) throw invalid_input(std::string("'") + name + "' must be a string");
  return args[name].get<std::string>();
}

std::optional<std::string> optional_string(const nlohmann::json& args, const char* name) {
  if (!args.contains(name) || args[name].is_null()) return std::nullopt;
  if (!args[name].is_string()) throw invalid_input(std::string("'") + name + "' must be a string");
  return args[name].get<std::string>();
}

std::optional<int64_t> optional_integer(const nlohmann::json& args, const char* name) {
  if (!args.contains(name) || args[name].is_null()) return std::nullopt;
  if (!args[name].is_number()) throw invalid_input(std::string("'") + name + "' must be an integer");
  return static_cast<int64_t>(args[name].get<double>());
}

std::vector<std::string> optional_strings(const nlohmann::json& args, const char* name) {
  std::vector<std::string> out;
  if (!args.contains(name) || args[name].is_null()) return out;
  if (args[name].is_string()) {
    out.push_back(args[name].get<std::string>());
    return out;
  }
  if (!args[name].is_array()) throw invalid_input(std::string("'") + name + "' must be a list of strings");
  for (const auto& v : args[name]) {
    if (!v.is_string()) throw invalid_input(std::string("'") + name + "' must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace kioku
