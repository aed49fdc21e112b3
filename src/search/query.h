#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kioku {

// Turns what a user typed into plain search terms: lower-cased words without
// stop words and duplicates. Query syntax characters are just separators, so
// `"foo AND (` becomes {"foo"}: user input can never form an FTS expression.
// When every word is a stop word the stop words are kept, so "who am I" still
// searches for something.
std::vector<std::string> query_terms(std::string_view query);

}  // namespace kioku
