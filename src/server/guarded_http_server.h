// cpp-httplib's Server with limits against slow clients (slowloris).
//
// NOTES ON THE DESIGN
// cpp-httplib serves each connection on one pool thread for its whole life,
// and its timeouts are per read: a client that sends a header line every 2 s
// keeps a thread forever, and 70 such connections starved a 64-thread server
// (issue 16, defect 5). This subclass serves connections itself (the keep-
// alive loop, over its own Stream) and calls httplib's process_request for
// each request, adding:
//   1. a bound on the request head: from the moment the server waits for a
//      request (connection opened, or the previous response sent) to the
//      blank line ending its headers, at most head_timeout; then the
//      connection is closed. Idle keep-alive counts as waiting.
//   2. threads kept for requests that arrive at once: while more than
//      threads - reserved_threads connections wait for a head, a new
//      connection gets only short_head_timeout to send its head. Slow heads
//      never hold more than threads - reserved_threads threads for long, so
//      a normal request (sent in one go) always finds a thread quickly.
//   3. a cap on open connections per remote address (not for loopback
//      peers, which are all 127.0.0.1: there 1 and 2 do the work); over it
//      the connection is answered 503 with Retry-After and closed.
// Bodies are not bounded here beyond the per-read timeout: only an
// authenticated client gets past the head to send one.
// Thread safety: as httplib::Server; the counters are behind a mutex.
#pragma once

#include <httplib.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace kioku::server {

struct ConnectionLimits {
  int threads = 64;
  int reserved_threads = 8;
  std::chrono::milliseconds head_timeout{5000};
  std::chrono::milliseconds short_head_timeout{100};
  int max_connections_per_client = 32;  // remote (non-loopback) addresses
};

class GuardedHttpServer : public httplib::Server {
 public:
  GuardedHttpServer() = default;
  // Before listening.
  void set_limits(const ConnectionLimits& limits) { limits_ = limits; }

  // Connections refused or cut by the limits, for logs and tests.
  int refused_connections() const;
  int timed_out_heads() const;

 private:
  bool process_and_close_socket(socket_t sock) override;

  ConnectionLimits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, int> open_by_client_;
  int waiting_heads_ = 0;
  int refused_ = 0;
  int timed_out_ = 0;

  friend class GuardedStream;
};

}  // namespace kioku::server
