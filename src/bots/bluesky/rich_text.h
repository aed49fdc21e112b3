// Bluesky rich text: where links and mentions sit in a post, as the byte
// ranges (UTF-8) that app.bsky.richtext.facet indexes by.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kioku::bsky {

struct RichTextSpan {
  enum class Kind { kLink, kMention };
  Kind kind = Kind::kLink;
  size_t byte_start = 0;  // inclusive, into the UTF-8 text
  size_t byte_end = 0;    // exclusive
  std::string value;      // the URL, or the handle without '@'
};

// Links (http:// and https://, trailing punctuation left out) and mentions
// (@handle.domain) in text order. Mentions are only candidates: the caller
// resolves each handle and leaves unknown ones as plain text.
std::vector<RichTextSpan> find_rich_text_spans(std::string_view text);

bool is_valid_handle(std::string_view handle);

}  // namespace kioku::bsky
