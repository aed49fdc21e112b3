#include "cli/commands.h"

namespace kioku::cli {

void register_commands(CLI::App& app, CommandTable& table) {
  register_memory_commands(app, table);
  register_journal_commands(app, table);
  register_admin_commands(app, table);
  register_model_commands(app, table);
  register_companion_commands(app, table);
}

}  // namespace kioku::cli
