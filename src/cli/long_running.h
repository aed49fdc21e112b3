// What commands that run until Ctrl-C (serve, telegram) share: a
// timestamped, thread-safe log on stderr, and SIGINT/SIGTERM turned into a
// clean stop instead of killing the process mid-write.
#pragma once

#include <signal.h>

#include <functional>
#include <iosfwd>
#include <string_view>
#include <thread>

namespace kioku::cli {

// "14:03:27 <line>" on err, one line at a time from any thread.
std::function<void(std::string_view)> timestamped_log(std::ostream& err);

class StopSignals {
 public:
  // Blocks SIGINT, SIGTERM and SIGUSR1 in this thread and so in every thread
  // it starts afterwards: construct it before starting any.
  StopSignals();
  // Calls on_stop on a waiting thread when SIGINT or SIGTERM arrives.
  void on_stop(std::function<void()> on_stop);
  // Wakes the waiting thread if no signal came (SIGUSR1) and joins it: after
  // this, on_stop is not running and will not run. Idempotent.
  void finish();
  ~StopSignals() { finish(); }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  sigset_t signals_;
  std::thread waiter_;
};

}  // namespace kioku::cli
