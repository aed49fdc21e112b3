// Bluesky post text: links and mentions found as byte ranges (the facets
// of app.bsky.richtext.facet); every range must lie inside the text.
#include "bots/bluesky/rich_text.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto text = kioku::fuzz::as_text(data, size);
  for (const auto& span : kioku::bsky::find_rich_text_spans(text)) {
    if (span.byte_start >= span.byte_end || span.byte_end > text.size()) {
      std::fprintf(stderr, "finding: span %zu-%zu outside a text of %zu bytes\n", span.byte_start, span.byte_end, size);
      std::abort();
    }
    (void)kioku::bsky::is_valid_handle(span.value);
  }
  return 0;
}
