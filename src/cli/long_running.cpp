#include "cli/long_running.h"

#include <pthread.h>

#include <memory>
#include <mutex>
#include <ostream>
#include <string>

#include "cli/format.h"

namespace kioku::cli {

std::function<void(std::string_view)> timestamped_log(std::ostream& err) {
  auto mutex = std::make_shared<std::mutex>();
  return [mutex, &err](std::string_view line) {
    std::lock_guard<std::mutex> lock(*mutex);
    err << local_clock_time() << " " << line << "\n" << std::flush;
  };
}

StopSignals::StopSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGUSR1);  // our own wake-up when the work ended by itself
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

void StopSignals::on_stop(std::function<void()> on_stop) {
  waiter_ = std::thread([this, on_stop = std::move(on_stop)] {
    int sig = 0;
    sigwait(&signals_, &sig);
    if (sig != SIGUSR1) on_stop();
  });
}

void StopSignals::finish() {
  if (!waiter_.joinable()) return;
  pthread_kill(waiter_.native_handle(), SIGUSR1);
  waiter_.join();
}

}  // namespace kioku::cli
