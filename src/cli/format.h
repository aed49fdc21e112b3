// Text rendering of records for the terminal.
#pragma once

#include <iosfwd>
#include <string>

#include "core/memory.h"

namespace kioku::cli {

// "0193...  2024-05-08  [note] first line of the content…"
std::string memory_line(const Memory& m, size_t max_content = 100);
void print_memory_detail(std::ostream& out, const Memory& m);

}  // namespace kioku::cli
