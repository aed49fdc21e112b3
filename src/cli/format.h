// Text rendering of records for the terminal.
#pragma once

#include <iosfwd>
#include <string>

#include "core/memory.h"

namespace kioku::cli {

// "0193...  2024-05-08  [note] first line of the content…"
std::string memory_line(const Memory& m, size_t max_content = 100);
void print_memory_detail(std::ostream& out, const Memory& m);
// "14:03:27", local time: the prefix of long-running commands' log lines.
std::string local_clock_time();

}  // namespace kioku::cli
