// kioku import / POST /api/upload of a .json file.
#include "fuzz_common.h"
#include "ingest/importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kioku::ImportOptions options;
  // Small caps keep one run's memory bounded under the sanitizers.
  options.max_unpacked_bytes = 8u << 20;
  options.max_memory_bytes = 1u << 20;
  kioku::fuzz::expect_clean([&] { (void)kioku::import_bytes(kioku::fuzz::as_text(data, size), "input.json", options); });
  return 0;
}
