// Text and Markdown chunking: the first byte picks the chunk size and the
// mode; every chunk must fit and be valid UTF-8 when the input was.
#include <cstdlib>

#include "core/text.h"
#include "fuzz_common.h"
#include "ingest/importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t max_chars = 80 + data[0] * 8;
  const bool markdown = data[0] & 1;
  const std::string_view text = kioku::fuzz::as_text(data + 1, size - 1);
  const bool valid = kioku::is_valid_utf8(text);
  for (const auto& chunk : kioku::chunk_text(text, max_chars, markdown)) {
    // Headings folded into the next chunk may add their own line.
    if (chunk.text.size() > max_chars && chunk.text.find("```") == std::string::npos &&
        chunk.text.find("~~~") == std::string::npos && chunk.text.find('#') == std::string::npos) {
      std::fprintf(stderr, "finding: chunk of %zu bytes over %zu\n", chunk.text.size(), max_chars);
      std::abort();
    }
    if (valid && !kioku::is_valid_utf8(chunk.text)) {
      std::fprintf(stderr, "finding: a chunk cut a UTF-8 sequence\n");
      std::abort();
    }
  }
  kioku::ImportOptions options;
  kioku::fuzz::expect_clean([&] { (void)kioku::import_bytes(text, markdown ? "x.md" : "x.txt", options); });
  return 0;
}
