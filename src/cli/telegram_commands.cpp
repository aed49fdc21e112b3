// `kioku telegram` commands (being written).
#include "cli/commands.h"

namespace kioku::cli {

void register_telegram_commands(CLI::App&, CommandTable&) {}

}  // namespace kioku::cli
