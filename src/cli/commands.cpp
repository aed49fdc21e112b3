#include "cli/commands.h"

namespace kioku::cli {

void register_commands(CLI::App& app, CommandTable& table) {
  register_memory_commands(app, table);
  register_journal_commands(app, table);
  register_admin_commands(app, table);
  register_model_commands(app, table);
  register_companion_commands(app, table);
  register_job_commands(app, table);
  register_server_commands(app, table);
  register_user_commands(app, table);
  register_telegram_commands(app, table);
  register_bluesky_commands(app, table);
  register_core_commands(app, table);
  register_mcp_commands(app, table);
  register_graph_commands(app, table);
  register_profile_commands(app, table);
}

}  // namespace kioku::cli
