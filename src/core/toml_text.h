// A guard for text about to be parsed by toml++.
#pragma once

#include <string_view>

namespace kioku {

// Refuses (kInvalidInput, "<name>:<line>: ...") text with a non-ASCII
// character outside strings and comments. TOML allows none there, and
// toml++ 3.3 reaches undefined behaviour on some of them (U+00A1-U+0499 in
// its whitespace check; found by tests/fuzz toml_config): every parse of
// config.toml calls this first. Thread safety: a pure function.
void check_toml_text(std::string_view text, std::string_view name);

}  // namespace kioku
