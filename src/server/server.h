// `kioku serve`: the HTTP JSON API, the embedded web app and the background
// work (embedding queue, AI retry queue, scheduled backups) in one process.
//
// Security: binds to loopback unless told otherwise; every /api route except
// /api/health needs `Authorization: Bearer <token>` (the token in
// <data>/token); bind() refuses a non-loopback host when no token exists.
// Secrets (token, API keys) are never written to responses or logs.
// Requests naming a foreign Host are refused (403) before anything else.
//
// Failure behaviour: handlers never throw out; every error is a JSON body
// {"error": "...", "code": "..."} with the status of kioku::http_status().
//
// Thread safety: start()/stop() may be called from any thread; the server
// handles requests on its own worker threads (see server.cpp for how
// the single-threaded stores are shared between them).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"

namespace kioku {

class AppContext;
class Companion;
class Engine;

// Gives the Companion that serves chat turns for a context. The default is
// AppContext::companion(); tests pass a scripted one.
using CompanionFactory = std::function<Companion&(AppContext&)>;

struct ServerOptions {
  std::filesystem::path data_dir;
  std::string user;  // user override ("" = [user] id of config.toml)
  EnvLookup env = process_env();
  std::string host = "127.0.0.1";
  int port = 8765;  // 0 = any free port (see Server::port())
  // Names a browser may use in the Host header besides loopback names, IP
  // literals and `host` itself (anything else is refused: DNS rebinding).
  std::vector<std::string> allowed_hosts;
  size_t max_upload_bytes = 25u << 20;
  // Worker threads. cpp-httplib keeps a thread per open keep-alive
  // connection, so this bounds the concurrent clients served without queueing.
  int threads = 64;
  // Against slow clients (see guarded_http_server.h): a request head must
  // arrive within this time; some threads stay for requests sent at once;
  // remote (non-loopback) addresses may hold this many connections.
  std::chrono::milliseconds request_head_timeout{std::chrono::seconds(5)};
  int reserved_threads = 0;  // 0 = threads / 8, at least 2
  int max_connections_per_client = 32;
  bool background = true;  // embedding queue, AI retry queue, backups
  std::chrono::milliseconds background_tick{std::chrono::seconds(5)};
  CompanionFactory companion_factory;
  // The engine to serve; null: the server opens one for data_dir. Pass one
  // to share it with a Telegram bot in the same process.
  std::shared_ptr<Engine> engine;
  // More work for the background loop, run after the built-in work on every
  // tick (the CLI adds Bluesky's pending-post retry). Each returns lines to
  // log; exceptions are logged, never fatal.
  std::vector<std::function<std::vector<std::string>()>> background_jobs;
  // One line per request (method, path, status, milliseconds) and per
  // background event; null = silent. Never receives secrets.
  std::function<void(std::string_view line)> log;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stops and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the data directory (creating it, the databases and the token when
  // missing) and binds. Returns the port. Throws kInvalidInput for a
  // non-loopback host without a token, kIo when the port cannot be bound.
  int bind();
  // Serves until stop(); starts the background thread first.
  void run();
  // bind() + run() on an internal thread; returns once the server accepts.
  void start();
  void stop();
  int port() const;

  // The routes as (method, OpenAPI path), e.g. ("GET", "/api/memory/{id}").
  std::vector<std::pair<std::string, std::string>> routes() const;
  nlohmann::json openapi() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "127.0.0.1", "::1", "localhost", "127.x.y.z".
bool is_loopback_host(std::string_view host);

// Whether a request's Host header (name or address, optional :port) is one
// this server answers: loopback names, IP literals, the listening host and
// the allowed names. A DNS-rebinding page arrives with its own domain name.
bool is_allowed_host_header(std::string_view header, std::string_view listening_host,
                            const std::vector<std::string>& allowed_hosts);

}  // namespace kioku
