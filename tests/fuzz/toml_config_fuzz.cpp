// config.toml: Config::load reads a file, so the input goes through one.
#include <unistd.h>

#include <fstream>
#include <string>

#include "core/config.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/kioku-fuzz-config-" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  kioku::fuzz::expect_clean([&] {
    auto config = kioku::Config::load(path, [](const std::string&) { return std::optional<std::string>(); });
    (void)config.get_string("llm.provider");
    (void)config.get_number("search.limit");
    (void)config.get_bool("companion.suggestions");
    (void)config.redacted().dump();
  });
  return 0;
}
