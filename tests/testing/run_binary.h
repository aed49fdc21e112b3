// Runs a program as a user would, capturing exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace kioku::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q.push_back(c);
  }
  return q + "'";
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs `program args...` with env added to the environment and stdin_text
// as standard input; files for the streams live in work_dir.
inline RunResult run_binary(const std::string& program, const std::vector<std::string>& args,
                            const std::filesystem::path& work_dir, const std::map<std::string, std::string>& env = {},
                            const std::string& stdin_text = "") {
  std::filesystem::create_directories(work_dir);
  const auto in = work_dir / "stdin.txt", out = work_dir / "stdout.txt", err = work_dir / "stderr.txt";
  std::ofstream(in, std::ios::binary) << stdin_text;
  std::string cmd = "cd " + shell_quote(work_dir.string()) + " && env";
  for (const auto& [k, v] : env) cmd += " " + shell_quote(k + "=" + v);
  cmd += " " + shell_quote(program);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " <" + shell_quote(in.string()) + " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string());
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

}  // namespace kioku::testing
