// A program started in the background as a user would start it (a server, a
// bot), with stdout and stderr in files; SIGTERM and a wait at scope exit.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "testing/run_binary.h"

namespace kioku::testing {

class BackgroundProcess {
 public:
  BackgroundProcess(const std::string& program, const std::vector<std::string>& args,
                    const std::filesystem::path& work_dir, const std::map<std::string, std::string>& env = {})
      : out_(work_dir / "bg-stdout.txt"), err_(work_dir / "bg-stderr.txt") {
    std::filesystem::create_directories(work_dir);
    std::string cmd = "cd " + shell_quote(work_dir.string()) + " && exec env";
    for (const auto& [k, v] : env) cmd += " " + shell_quote(k + "=" + v);
    cmd += " " + shell_quote(program);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " </dev/null >" + shell_quote(out_.string()) + " 2>" + shell_quote(err_.string());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~BackgroundProcess() { stop(); }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // SIGTERM, then the exit code (-1 when it died of a signal).
  int stop() {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }
  // SIGKILL (a crash: no destructor, no flush, no rollback), then the wait.
  void kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Whether it has exited by now (then exit_code() tells how).
  bool finished() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return true;
  }
  int exit_code() const { return exit_code_; }
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }
  // Waits until pred() holds, up to timeout; returns whether it did.
  template <typename Pred>
  static bool wait_for(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return pred();
  }

 private:
  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace kioku::testing
