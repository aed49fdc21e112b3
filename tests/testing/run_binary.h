// Runs a program as a user would, capturing exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "testing/postgres.h"

namespace kioku::testing {

// Under KIOKU_TEST_STORE=<PostgreSQL URL>: a schema of its own for each data
// directory (the test's), created on first use; "" otherwise.
inline std::string test_store_url_for(const std::filesystem::path& data_dir) {
  const char* server = std::getenv("KIOKU_TEST_STORE");
  if (!server || !*server) return "";
  static std::mutex mu;
  static std::map<std::string, std::string> urls;
  std::lock_guard lock(mu);
  auto& url = urls[data_dir.lexically_normal().string()];
  if (url.empty()) {
    PgSchema schema(data_dir.parent_path().filename().string(), server);
    if (!schema.ok()) throw std::runtime_error("KIOKU_TEST_STORE: " + schema.error());
    url = schema.url();
  }
  return url;
}

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
// as standard input; files for the streams live in work_dir. Under
// KIOKU_TEST_STORE (testing/test_store.h) a kioku run gets KIOKU_STORE_URL
// for its data directory (KIOKU_HOME) unless env sets one.
inline RunResult run_binary(const std::string& program, const std::vector<std::string>& args,
                            const std::filesystem::path& work_dir, const std::map<std::string, std::string>& env = {},
                            const std::string& stdin_text = "") {
  std::filesystem::create_directories(work_dir);
  const auto in = work_dir / "stdin.txt", out = work_dir / "stdout.txt", err = work_dir / "stderr.txt";
  std::ofstream(in, std::ios::binary) << stdin_text;
  std::string cmd = "cd " + shell_quote(work_dir.string()) + " && env";
  for (const auto& [k, v] : env) cmd += " " + shell_quote(k + "=" + v);
  if (auto home = env.find("KIOKU_HOME"); home != env.end() && !env.count("KIOKU_STORE_URL"))
    if (const std::string url = test_store_url_for(home->second); !url.empty())
      cmd += " " + shell_quote("KIOKU_STORE_URL=" + url);
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
