// Where ../shared (design documents, LoCoMo, tokenizer files) is: the
// KIOKU_SHARED_DIR environment variable, else the folder beside the checkout.
#pragma once

#include <cstdlib>
#include <filesystem>

namespace kioku::testing {

inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("KIOKU_SHARED_DIR"); env && *env) return env;
  return KIOKU_SHARED_DIR;
}

}  // namespace kioku::testing
