// Shared by the libFuzzer targets (tests/fuzz/README.md): an input either
// parses or is refused with a kioku::Error; any other exception, a crash, a
// leak or undefined behaviour is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "core/error.h"

namespace kioku::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs fn; kioku::Error is the expected way to refuse input.
template <typename Fn>
void expect_clean(Fn fn) {
  try {
    fn();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: an exception escaped that is not a kioku::Error: %s\n", e.what());
    std::abort();
  }
}

}  // namespace kioku::fuzz
