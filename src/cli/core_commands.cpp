// core list | show | edit | history | diff | rollback | remove, and mcp (stdio).
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "mcp/mcp_session.h"
#include "tools/core_memory.h"
#include "tools/memory_tools.h"

namespace kioku::cli {

namespace {

CoreMemory core_of(AppContext& ctx) {
  ctx.ensure_initialized();
  return CoreMemory(ctx.memories().core_memory(), ctx.user_id());
}

std::string size_text(const CoreBlock& b) {
  return std::to_string(char_count(b.value)) + "/" + std::to_string(b.limit) + " chars";
}

std::string read_text_file(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw invalid_input("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void warn_over_limit(CommandIo& io, const CoreBlock& b) {
  if (CoreMemory::over_limit(b))
    io.err << "kioku: warning: block '" << b.label << "' holds " << size_text(b)
           << ", over its limit: the prompt shows it cut, and the agent cannot add to it until it is shorter\n";
}

}  // namespace

void register_core_commands(CLI::App& app, CommandTable& table) {
  auto* core = app.add_subcommand("core", "Core memory blocks: always in the companion's prompt, versioned");
  core->require_subcommand(1);
  core->fallthrough();
  {
    auto* list = core->add_subcommand("list", "The blocks, their sizes and limits");
    table[list] = [](AppContext& ctx, CommandIo& io) {
      auto cm = core_of(ctx);
      const auto blocks = cm.blocks();
      if (io.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& b : blocks) a.push_back(to_json(b));
        io.out << a.dump(2) << "\n";
        return 0;
      }
      for (const auto& b : blocks)
        io.out << b.label << "  v" << b.version << "  " << size_text(b) << (b.read_only ? "  read-only" : "")
               << (CoreMemory::over_limit(b) ? "  OVER LIMIT" : "") << "  " << b.description << "\n";
      return 0;
    };
  }
  {
    auto* show = core->add_subcommand("show", "One block's value (or an old version's)");
    auto label = std::make_shared<std::string>();
    auto version = std::make_shared<int>(0);
    show->add_option("label", *label, "Block label")->required();
    show->add_option("--version", *version, "An earlier version")->check(CLI::PositiveNumber);
    table[show] = [label, version](AppContext& ctx, CommandIo& io) {
      auto cm = core_of(ctx);
      if (*version > 0) {
        const auto v = cm.version(*label, *version);
        if (io.json) io.out << to_json(v).dump(2) << "\n";
        else io.out << v.block.value << (v.block.value.empty() || v.block.value.back() == '\n' ? "" : "\n");
        return 0;
      }
      const auto b = cm.get(*label);
      if (io.json) {
        io.out << to_json(b).dump(2) << "\n";
      } else {
        io.out << "# " << b.label << " (v" << b.version << ", " << size_text(b) << (b.read_only ? ", read-only" : "")
               << ")\n" << b.value << (b.value.empty() || b.value.back() == '\n' ? "" : "\n");
      }
      return 0;
    };
  }
  {
    auto* edit = core->add_subcommand("edit", "Change a block (each change is a new version), or --create one");
    struct Args {
      std::string label, value, append, file, description;
      int limit = 0;
      int expect = 0;
      bool read_only = false, writable = false, create = false;
    };
    auto a = std::make_shared<Args>();
    edit->add_option("label", a->label, "Block label")->required();
    CLI::Option* value_option = edit->add_option("--value", a->value, "The new value (\"\" empties the block)");
    edit->add_option("--append", a->append, "Text to add on a new line");
    edit->add_option("--file", a->file, "Read the new value from a file ('-' = stdin)");
    edit->add_option("--description", a->description, "What the block is for (the model reads it)");
    edit->add_option("--limit", a->limit, "Character limit")->check(CLI::Range(1, 100000));
    edit->add_option("--expect-version", a->expect, "Fail if the block is no longer at this version")
        ->check(CLI::PositiveNumber);
    edit->add_flag("--read-only", a->read_only, "The agent may not edit it");
    edit->add_flag("--writable", a->writable, "The agent may edit it");
    edit->add_flag("--create", a->create, "Add a new block with this label");
    table[edit] = [a, value_option](AppContext& ctx, CommandIo& io) {
      auto cm = core_of(ctx);
      const bool has_value = value_option->count() > 0;
      const int sources = has_value + !a->append.empty() + !a->file.empty();
      if (sources > 1) throw invalid_input("give one of --value, --append or --file");
      if (a->read_only && a->writable) throw invalid_input("give --read-only or --writable, not both");
      std::optional<std::string> value;
      if (has_value) value = a->value;
      if (!a->file.empty()) value = read_text_file(a->file);
      CoreBlock result;
      if (a->create) {
        if (!a->append.empty()) throw invalid_input("a new block takes --value or --file, not --append");
        CoreBlock b;
        b.label = a->label;
        b.value = value.value_or("");
        b.description = a->description;
        b.limit = a->limit > 0 ? a->limit : 2048;
        b.read_only = a->read_only;
        result = cm.create(b);
      } else {
        CoreBlockEdit e;
        e.value = value;
        if (!a->append.empty()) {
          const CoreBlock current = cm.get(a->label);
          e.value = current.value.empty() ? a->append : current.value + "\n" + a->append;
          e.expected_version = current.version;
        }
        if (!a->description.empty()) e.description = a->description;
        if (a->limit > 0) e.limit = a->limit;
        if (a->read_only) e.read_only = true;
        if (a->writable) e.read_only = false;
        if (a->expect > 0) e.expected_version = a->expect;
        if (!e.value && !e.description && !e.limit && !e.read_only)
          throw invalid_input("nothing to change: give --value, --append, --file, --description, --limit, --read-only "
                              "or --writable");
        result = cm.edit(a->label, e);
      }
      warn_over_limit(io, result);
      if (io.json) io.out << to_json(result).dump(2) << "\n";
      else io.out << (a->create ? "Created " : "Saved ") << result.label << " as version " << result.version << " ("
                  << size_text(result) << ")\n";
      return 0;
    };
  }
  {
    auto* history = core->add_subcommand("history", "Every version of a block: who, when, which turn and tool call");
    auto label = std::make_shared<std::string>();
    history->add_option("label", *label, "Block label")->required();
    table[history] = [label](AppContext& ctx, CommandIo& io) {
      auto cm = core_of(ctx);
      const auto versions = cm.history(*label);
      if (io.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& v : versions) a.push_back(to_json(v));
        io.out << a.dump(2) << "\n";
        return 0;
      }
      for (const auto& v : versions) {
        io.out << "v" << v.block.version << "  " << format_iso8601(v.created_at).substr(0, 19) << "  " << v.author.kind;
        if (!v.author.tool_name.empty()) io.out << " " << v.author.tool_name;
        if (!v.author.tool_call_id.empty()) io.out << " (" << v.author.tool_call_id << ")";
        if (!v.author.turn_id.empty()) io.out << " turn " << v.author.turn_id;
        if (!v.author.note.empty()) io.out << "  " << v.author.note;
        io.out << "  " << size_text(v.block) << "\n";
      }
      return 0;
    };
  }
  {
    auto* diff = core->add_subcommand("diff", "What changed between two versions (default: to the current one)");
    auto label = std::make_shared<std::string>();
    auto from = std::make_shared<int>(0);
    auto to = std::make_shared<int>(0);
    diff->add_option("label", *label, "Block label")->required();
    diff->add_option("from", *from, "Older version")->required()->check(CLI::PositiveNumber);
    diff->add_option("to", *to, "Newer version (default: current)")->check(CLI::PositiveNumber);
    table[diff] = [label, from, to](AppContext& ctx, CommandIo& io) {
      auto cm = core_of(ctx);
      const std::string d = cm.diff(*label, *from, *to);
      if (io.json) io.out << nlohmann::json{{"label", *label}, {"from", *from}, {"to", *to}, {"diff", d}}.dump(2) << "\n";
      else io.out << d;
      return 0;
    };
  }
  {
    auto* rollback = core->add_subcommand("rollback", "Restore an earlier version (as a new version)");
    auto label = std::make_shared<std::string>();
    auto version = std::make_shared<int>(0);
    rollback->add_option("label", *label, "Block label")->required();
    rollback->add_option("version", *version, "The version to restore")->required()->check(CLI::PositiveNumber);
    table[rollback] = [label, version](AppContext& ctx, CommandIo& io) {
      auto cm = core_of(ctx);
      const CoreBlock b = cm.rollback(*label, *version);
      if (io.json) io.out << to_json(b).dump(2) << "\n";
      else io.out << "Restored " << b.label << " to version " << *version << " (now version " << b.version << ")\n";
      return 0;
    };
  }
  {
    auto* remove = core->add_subcommand("remove", "Delete a block you added, with its history");
    auto label = std::make_shared<std::string>();
    auto yes = std::make_shared<bool>(false);
    remove->add_option("label", *label, "Block label")->required();
    remove->add_flag("--yes", *yes, "Really delete it");
    table[remove] = [label, yes](AppContext& ctx, CommandIo& io) {
      if (!*yes) throw invalid_input("removing a block deletes its history too: add --yes");
      auto cm = core_of(ctx);
      cm.remove(*label);
      if (io.json) io.out << nlohmann::json{{"label", *label}, {"removed", true}}.dump() << "\n";
      else io.out << "Removed " << *label << "\n";
      return 0;
    };
  }
}

void register_mcp_commands(CLI::App& app, CommandTable& table) {
  auto* cmd = app.add_subcommand("mcp", "Serve the memory tools over MCP on stdin/stdout (for Claude Desktop, IDEs)");
  table[cmd] = [](AppContext& ctx, CommandIo&) {
    ctx.ensure_initialized();
    const Config& config = ctx.config();
    MemoryToolOptions o;
    o.inserts_need_approval = config.get_bool("companion.approve_agent_memories")
                                  .value_or(config.get_bool("companion.suggestions", "KIOKU_SUGGESTIONS").value_or(false));
    ToolRegistry tools;
    register_memory_tools(tools, ctx.memories(), ctx.searcher(), o);
    mcp::McpSessionOptions so;
    so.server_version = KIOKU_CLI_VERSION;
    mcp::McpSession session(tools, ctx.memories(), ctx.user_id(), so);
    // stdout belongs to the protocol: nothing else may be written there.
    mcp::serve_stdio(session, std::cin, std::cout);
    return 0;
  };
}

}  // namespace kioku::cli
