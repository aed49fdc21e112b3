// `kioku bluesky` commands (being written).
#include "cli/commands.h"

namespace kioku::cli {

void register_bluesky_commands(CLI::App&, CommandTable&) {}

}  // namespace kioku::cli
