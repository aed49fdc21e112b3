#include "server/guarded_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kioku::server {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string address_of(const sockaddr_storage& addr, int& port) {
  char text[INET6_ADDRSTRLEN] = {0};
  port = 0;
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    port = ntohs(a.sin6_port);
  }
  return text;
}

bool is_loopback_address(const std::string& ip) {
  return ip.rfind("127.", 0) == 0 || ip == "::1" || ip.rfind("::ffff:127.", 0) == 0;
}

// Waits for the socket to become readable (POLLIN) or writable, in slices
// so that a stopping server is noticed. Returns false on timeout or stop.
template <typename StillRunning>
bool wait_socket(int sock, short events, SteadyClock::time_point deadline, StillRunning running) {
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0 || !running()) return false;
    pollfd p{sock, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

}  // namespace

// A socket stream whose reads stop at the head deadline while a request
// head is awaited (see the design notes). Buffered: httplib reads request
// lines one byte at a time.
class GuardedStream final : public httplib::Stream {
 public:
  GuardedStream(GuardedHttpServer& server, int sock, std::chrono::milliseconds read_timeout,
                std::chrono::milliseconds write_timeout)
      : server_(server), sock_(sock), read_timeout_(read_timeout), write_timeout_(write_timeout) {}
  ~GuardedStream() override { end_head(); }

  // The server now waits for a request head. Deciding its deadline and
  // counting it happen under one lock, so that threads starting at once
  // cannot all take the long wait.
  void await_head() {
    end_head();
    const auto& limits = server_.limits_;
    std::lock_guard<std::mutex> lock(server_.mutex_);
    const bool crowded = server_.waiting_heads_ >= limits.threads - limits.reserved_threads;
    ++server_.waiting_heads_;
    awaiting_head_ = true;
    head_deadline_ = SteadyClock::now() + (crowded ? limits.short_head_timeout : limits.head_timeout);
    matched_ = 0;
  }
  // Bytes already read from the socket (a pipelined next request).
  bool has_buffered() const { return offset_ < size_; }
  bool head_expired() const { return awaiting_head_ && SteadyClock::now() >= head_deadline_; }
  SteadyClock::time_point head_deadline() const { return head_deadline_; }

  bool is_readable() const override {
    if (offset_ < size_) return true;
    return wait_socket(sock_, POLLIN, read_deadline(), [] { return true; });
  }
  bool is_writable() const override {
    return wait_socket(sock_, POLLOUT, SteadyClock::now() + write_timeout_, [] { return true; });
  }

  ssize_t read(char* ptr, size_t size) override {
    if (offset_ >= size_) {
      if (!wait_socket(sock_, POLLIN, read_deadline(), [] { return true; })) return -1;
      ssize_t n;
      do {
        n = ::recv(sock_, buffer_, sizeof buffer_, 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      offset_ = 0;
      size_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, size_ - offset_);
    std::memcpy(ptr, buffer_ + offset_, n);
    offset_ += n;
    if (awaiting_head_) watch_for_head_end(ptr, n);
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!wait_socket(sock_, POLLOUT, SteadyClock::now() + write_timeout_, [] { return true; })) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip = address_of(addr, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip = address_of(addr, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  SteadyClock::time_point read_deadline() const {
    const auto by_timeout = SteadyClock::now() + read_timeout_;
    return awaiting_head_ ? std::min(by_timeout, head_deadline_) : by_timeout;
  }

  // The head ends at the first CRLF CRLF (a bare LF LF too, as httplib accepts).
  void watch_for_head_end(const char* data, size_t n) {
    for (size_t i = 0; i < n && awaiting_head_; ++i) {
      const char c = data[i];
      if (c == '\r') continue;
      matched_ = c == '\n' ? matched_ + 1 : 0;
      if (matched_ >= 2) end_head();
    }
  }

  void end_head() {
    if (!awaiting_head_) return;
    awaiting_head_ = false;
    std::lock_guard<std::mutex> lock(server_.mutex_);
    --server_.waiting_heads_;
  }

  GuardedHttpServer& server_;
  int sock_;
  std::chrono::milliseconds read_timeout_, write_timeout_;
  char buffer_[4096];
  size_t offset_ = 0, size_ = 0;
  bool awaiting_head_ = false;
  SteadyClock::time_point head_deadline_{};
  int matched_ = 0;  // newlines seen in a row (CRs ignored)
};

int GuardedHttpServer::refused_connections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return refused_;
}

int GuardedHttpServer::timed_out_heads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return timed_out_;
}

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
  const auto close_socket = [sock] {
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  };
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  int peer_port = 0;
  const std::string client =
      ::getpeername(sock, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0 ? address_of(peer, peer_port) : "";
  const bool capped = !client.empty() && !is_loopback_address(client);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (capped && open_by_client_[client] >= limits_.max_connections_per_client) {
      ++refused_;
      static const std::string body =
          R"({"error":"too many connections from this address; try again later","code":"unavailable"})";
      const std::string reply = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
                                "Content-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
      (void)::send(sock, reply.data(), reply.size(), MSG_NOSIGNAL);
      close_socket();
      return false;
    }
    if (capped) ++open_by_client_[client];
  }
  const auto running = [this] { return svr_sock_ != INVALID_SOCKET; };
  {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    const auto read_timeout = duration_cast<milliseconds>(std::chrono::seconds(read_timeout_sec_) +
                                                          std::chrono::microseconds(read_timeout_usec_));
    const auto write_timeout = duration_cast<milliseconds>(std::chrono::seconds(write_timeout_sec_) +
                                                           std::chrono::microseconds(write_timeout_usec_));
    GuardedStream stream(*this, sock, read_timeout, write_timeout);
    stream.await_head();
    for (size_t left = keep_alive_max_count_; left > 0; --left) {
      if (!stream.has_buffered() && !wait_socket(sock, POLLIN, stream.head_deadline(), running)) break;
      bool connection_closed = false;
      const bool ok = process_request(stream, left == 1, connection_closed, nullptr);
      if (!ok || connection_closed || !running()) break;
      // Between requests, a crowded server gives idle connections only the
      // short wait: the thread goes to whoever has a request ready.
      stream.await_head();
    }
    if (stream.head_expired()) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++timed_out_;
    }
  }
  close_socket();
  if (capped) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--open_by_client_[client] <= 0) open_by_client_.erase(client);
  }
  return true;
}

}  // namespace kioku::server
