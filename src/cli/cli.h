// The `kioku` command line. run_cli parses args (without the program name),
// runs one command and returns the process exit code; errors become one line
// on err ("kioku: ...") and a non-zero code (see core/error.h exit_code()).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "core/config.h"

namespace kioku::cli {

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env);

// Splits a shell-like line into words: whitespace separates, '...' and "..."
// quote, backslash escapes. Throws invalid_input on an unterminated quote.
std::vector<std::string> split_command_line(const std::string& line);

}  // namespace kioku::cli
