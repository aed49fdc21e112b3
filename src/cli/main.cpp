#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return kioku::cli::run_cli(args, std::cout, std::cerr, kioku::process_env());
}
