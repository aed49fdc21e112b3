// Registration of every `kioku` subcommand. Each command is a handler in the
// CommandTable keyed by its CLI11 subcommand; handlers print text, or JSON
// when io.json is set, and throw kioku::Error on failure.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <iosfwd>
#include <map>
#include <stdexcept>
#include <string>

#include "app/app_context.h"

namespace kioku::cli {

struct GlobalOptions {
  std::string data_dir;
  std::string user;
  std::string store;  // --store URL: as KIOKU_STORE_URL
  bool json = false;
};

struct CommandIo {
  std::ostream& out;
  std::ostream& err;
  bool json;
};

// A number from 0 to 1 (importance); unlike CLI::Range it refuses nan.
inline CLI::Validator unit_interval() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double v = std::stod(text, &used);
          if (used == text.size() && v >= 0 && v <= 1) return "";
        } catch (const std::exception&) {
        }
        return "must be a number from 0 to 1, got '" + text + "'";
      },
      "[0 - 1]");
}

using CommandHandler = std::function<int(AppContext&, CommandIo&)>;
using CommandTable = std::map<CLI::App*, CommandHandler>;

void register_commands(CLI::App& app, CommandTable& table);

// Command groups, one file each.
void register_memory_commands(CLI::App& app, CommandTable& table);   // init add get edit delete list search status
void register_journal_commands(CLI::App& app, CommandTable& table);  // journal ...
void register_admin_commands(CLI::App& app, CommandTable& table);    // import backup restore eval
void register_model_commands(CLI::App& app, CommandTable& table);    // models list | pull
void register_companion_commands(CLI::App& app, CommandTable& table);  // chat rate suggestions context
void register_job_commands(CLI::App& app, CommandTable& table);        // jobs list | run | retry | cancel
void register_server_commands(CLI::App& app, CommandTable& table);     // serve token
void register_user_commands(CLI::App& app, CommandTable& table);       // users add | list | remove
void register_telegram_commands(CLI::App& app, CommandTable& table);   // telegram
void register_bluesky_commands(CLI::App& app, CommandTable& table);    // bsky post | import | sync
void register_core_commands(CLI::App& app, CommandTable& table);       // core list | show | edit | history | ...
void register_mcp_commands(CLI::App& app, CommandTable& table);        // mcp (stdio)
void register_graph_commands(CLI::App& app, CommandTable& table);
void register_profile_commands(CLI::App& app, CommandTable& table);    // profile [emotion|strategy|pattern|forget|history]      // graph ..., maintain, memory why|validate|archive|restore

// A memory's lifecycle for `get --json` and `memory why`: tier history with
// rules, validation, identity tagging, cold storage, merge, expiry.
nlohmann::json lifecycle_json(AppContext& ctx, const Memory& m);

}  // namespace kioku::cli
