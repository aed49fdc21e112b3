// Parsing JSON that comes from outside (request bodies, imported files,
// rows Kioku wrote earlier) with a bounded nesting depth.
//
// nlohmann::json's tree is recursive: copies, dumps, comparisons and the
// walks of importers recurse once per level, so an 80k-deep document would
// overflow the stack long after it parsed. The parse below is nlohmann's
// iterative SAX parser building the usual tree, stopped as soon as an array
// or object opens deeper than max_depth: a too-deep document never exists in
// memory, and every tree Kioku holds is at most kMaxJsonDepth deep.
// Thread safety: stateless functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kioku {

// Far deeper than any real export, chat payload or metadata (a few levels),
// far shallower than what would endanger a thread's stack.
inline constexpr size_t kMaxJsonDepth = 100;

// Throws kInvalidInput "<what>: malformed JSON at byte N" or "<what>: JSON
// nested deeper than N levels".
nlohmann::json parse_json(std::string_view text, std::string_view what, size_t max_depth = kMaxJsonDepth);

// The same without throwing: a discarded value (is_discarded()) for
// malformed or too-deep text. For data Kioku wrote itself.
nlohmann::json parse_json_or_discarded(std::string_view text, size_t max_depth = kMaxJsonDepth);

// The strings of a JSON array Kioku wrote (tags, entities, ids): non-string
// elements are skipped, and anything but an array reads as empty.
std::vector<std::string> json_string_list(std::string_view text);

// The array text for a list of strings; "[]" without building a tree when
// the list is empty (most lists are, and bulk adds write several per row).
std::string json_string_list_text(const std::vector<std::string>& list);

}  // namespace kioku
