// JSON request bodies: the depth-bounded parse, then a memory from it (the
// path of POST /api/memory and of JSON import items).
#include "core/json.h"
#include "core/memory.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kioku::fuzz::expect_clean([&] {
    auto j = kioku::parse_json(kioku::fuzz::as_text(data, size), "body");
    if (j.is_object()) {
      kioku::Memory m = kioku::memory_from_json(j);
      (void)kioku::to_json(m).dump();
    }
  });
  return 0;
}
