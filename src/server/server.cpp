// The cpp-httplib side of the server: routing, auth, JSON errors, SSE,
// static files, and the background thread. The handlers are in api_routes.cpp.
#include "server/server.h"

#include <arpa/inet.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "app/users.h"
#include "core/error.h"
#include "server/api.h"
#include "server/mcp_http.h"
#include "server/guarded_http_server.h"
#include "server/services.h"
#include "server/web_assets.h"

namespace kioku {

using nlohmann::json;
using server::ApiRequest;
using server::ApiResponse;
using server::Route;

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.0.0.0/8, written as four numbers.
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

bool is_allowed_host_header(std::string_view header, std::string_view listening_host,
                            const std::vector<std::string>& allowed_hosts) {
  if (header.empty()) return true;  // HTTP/1.0 clients; browsers always send one
  // An IPv6 literal names no domain a page could rebind.
  if (header.front() == '[') return header.find(']') != std::string_view::npos;
  std::string name = std::string(header.substr(0, header.find(':')));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.empty()) return false;
  if (is_loopback_host(name) || name == listening_host) return true;
  // An IPv4 literal names no domain a page could rebind.
  in_addr v4{};
  if (inet_pton(AF_INET, name.c_str(), &v4) == 1) return true;
  for (const auto& allowed : allowed_hosts) {
    std::string lower = allowed;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == name) return true;
  }
  return false;
}

namespace {

void send_error(httplib::Response& res, int status, const std::string& message, std::string_view code) {
  res.status = status;
  // Refused before routing, the request's body is still unread: closing
  // keeps it from being parsed as the next request on a kept-alive socket.
  if (status == 401 || status == 403) res.set_header("Connection", "close");
  res.set_content(json{{"error", message}, {"code", std::string(code)}}.dump(), "application/json");
}

// "/api/memory/{id}" -> "/api/memory/([^/]+)", with regex characters escaped.
std::string route_regex(const std::string& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '{') {
      i = path.find('}', i);
      out += "([^/]+)";
    } else if (std::string_view(".+*?()[]^$|\\").find(c) != std::string_view::npos) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

class SseSink final : public server::EventSink {
 public:
  explicit SseSink(httplib::DataSink& sink) : sink_(sink) {}
  bool write(std::string_view event, std::string_view data) override {
    if (!sink_.is_writable()) return false;
    std::string frame = "event: " + std::string(event) + "\n";
    // SSE data lines cannot hold newlines; JSON payloads have none, but be safe.
    size_t start = 0;
    while (true) {
      const size_t nl = data.find('\n', start);
      frame += "data: " + std::string(data.substr(start, nl == std::string_view::npos ? nl : nl - start)) + "\n";
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
    frame += "\n";
    return sink_.write(frame.data(), frame.size());
  }

 private:
  httplib::DataSink& sink_;
};

}  // namespace

// The principal the pre-routing check found for the request this thread
// serves (cpp-httplib runs pre-routing and the route on one thread): a user
// token costs a hash and a database read, once per request, not twice.
// Reset before every request, so it never outlives the one it was found for.
namespace {
struct CheckedRequest {
  const httplib::Request* req = nullptr;
  std::optional<Principal> who;
};
thread_local CheckedRequest checked_request;
}  // namespace

struct Server::Impl {
  ServerOptions options;
  std::vector<Route> routes = server::api_routes();
  std::unique_ptr<server::Services> services;
  server::GuardedHttpServer http;
  std::unique_ptr<TokenAuthenticator> auth;
  int port = 0;
  bool bound = false;
  std::vector<std::string> allowed_origins;  // [mcp] allowed_origins

  std::thread listen_thread;
  std::thread background_thread;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }

  // The user of the request's bearer token (nullopt: none or unknown).
  std::optional<Principal> principal_of(const httplib::Request& req) const {
    const std::string header = req.get_header_value("Authorization");
    const std::string_view prefix = "Bearer ";
    if (header.size() <= prefix.size() || header.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    return auth->authenticate(std::string_view(header).substr(prefix.size()));
  }

  ApiRequest to_api_request(const httplib::Request& req, const Principal& who) const {
    ApiRequest a;
    a.user_id = who.user_id;
    a.admin = who.admin;
    a.method = req.method;
    a.path = req.path;
    for (size_t i = 1; i < req.matches.size(); ++i) a.path_params.push_back(req.matches[i].str());
    for (const auto& [k, v] : req.params) a.query.emplace(k, v);
    for (const auto& [name, part] : req.files) {
      if (part.filename.empty()) a.form[name] = part.content;
      else a.files.push_back({name, part.filename, part.content_type, part.content});
    }
    if (!req.is_multipart_form_data()) a.body = req.body;
    for (const auto& [name, value] : req.headers) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower != "authorization") a.headers[lower] = value;
    }
    a.wants_event_stream = req.get_header_value("Accept").find("text/event-stream") != std::string::npos ||
                           req.get_param_value("stream") == "1";
    return a;
  }

  void handle(const Route& route, const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    try {
      // The user comes from the token itself (checked before routing, on
      // this thread), never from anything else a client sends.
      std::optional<Principal> who = Principal{};
      if (route.auth) who = checked_request.req == &req ? checked_request.who : principal_of(req);
      checked_request = {};
      if (!who) {
        send_error(res, 401, "wrong API token", "unauthorized");
        return;
      }
      if (route.admin_only && !who->admin) {
        send_error(res, 403, route.method + " " + route.path + " needs an admin's token", "forbidden");
        return;
      }
      ApiResponse out = route.handler(*services, to_api_request(req, *who));
      for (const auto& [name, value] : out.headers) res.set_header(name, value);
      if (out.stream) {
        res.status = out.status;
        res.set_header("X-Accel-Buffering", "no");
        auto stream = std::move(out.stream);
        res.set_chunked_content_provider("text/event-stream", [stream](size_t, httplib::DataSink& sink) {
          SseSink sse(sink);
          stream(sse);  // never throws: the chat stream reports errors as events
          sink.done();
          return true;
        });
        return;
      }
      res.status = out.status;
      if (!out.content_type.empty()) res.set_content(out.raw, out.content_type.c_str());
      else res.set_content(out.body.dump(), "application/json");
    } catch (...) {
      send_exception(req, res, std::current_exception());
    }
  }

  // Messages name files by their place in the data directory, never by the
  // server's absolute paths (which say who runs it, and where).
  std::string without_server_paths(std::string message) const {
    std::error_code ec;
    std::vector<std::string> roots = {options.data_dir.string()};
    const auto absolute = std::filesystem::absolute(options.data_dir, ec).lexically_normal().string();
    if (!ec) roots.push_back(absolute);
    std::sort(roots.begin(), roots.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& root : roots) {
      if (root.empty() || root == "/" || root == ".") continue;
      for (size_t at = message.find(root); at != std::string::npos; at = message.find(root, at)) {
        message.replace(at, root.size(), "<data>");
      }
    }
    return message;
  }

  // The one mapping of exceptions to JSON errors: Error by its code, a JSON
  // type mismatch as bad input, anything else a 500 whose detail goes to
  // the log only.
  void send_exception(const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) const {
    try {
      std::rethrow_exception(ep);
    } catch (const Error& e) {
      send_error(res, http_status(e.code()), without_server_paths(e.what()), to_string(e.code()));
      // 503 is temporary by definition (a busy database, an unreachable
      // provider): say when to try again. 500 stays "a bug".
      if (res.status == 503) res.set_header("Retry-After", "5");
    } catch (const nlohmann::json::exception& e) {
      send_error(res, 400, std::string("bad JSON value: ") + e.what(), "invalid_input");
    } catch (const std::exception& e) {
      log(std::string("internal error on ") + req.method + " " + req.path + ": " + e.what());
      send_error(res, 500, "internal error", "internal");
    } catch (...) {
      send_error(res, 500, "internal error", "internal");
    }
  }

  void register_routes() {
    for (const Route& route : routes) {
      const std::string pattern = route_regex(route.path);
      httplib::Server::Handler h;
      if (route.path == "/api/openapi.json") {
        h = [this](const httplib::Request&, httplib::Response& res) {
          res.set_content(server::openapi_document(routes, KIOKU_VERSION).dump(2), "application/json");
        };
      } else {
        h = [this, &route](const httplib::Request& req, httplib::Response& res) { handle(route, req, res); };
      }
      if (route.method == "GET") http.Get(pattern, h);
      else if (route.method == "POST") http.Post(pattern, h);
      else if (route.method == "PUT") http.Put(pattern, h);
      else if (route.method == "DELETE") http.Delete(pattern, h);
    }
    // The web app: embedded files; "/" is index.html. Anything else is 404.
    http.Get(R"(/(.*))", [](const httplib::Request& req, httplib::Response& res) {
      std::string path = req.matches[1].str();
      if (path.empty()) path = "index.html";
      const server::WebAsset* asset = server::find_web_asset(path);
      if (!asset) {
        send_error(res, 404, "no such page: /" + path, "not_found");
        return;
      }
      res.set_header("Cache-Control", path == "index.html" ? "no-cache" : "max-age=300");
      res.set_content(std::string(asset->bytes), std::string(asset->content_type).c_str());
    });
  }

  void install_handlers() {
    // cpp-httplib's default sets SO_REUSEPORT, which lets a second `kioku
    // serve` bind the same port and take half the requests. SO_REUSEADDR
    // alone still allows a quick restart (TIME_WAIT) but refuses a port
    // another server listens on.
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    http.new_task_queue = [n = options.threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    server::ConnectionLimits limits;
    limits.threads = options.threads;
    limits.reserved_threads = options.reserved_threads > 0 ? options.reserved_threads : std::max(2, options.threads / 8);
    limits.head_timeout = options.request_head_timeout;
    limits.short_head_timeout = std::min(options.request_head_timeout, std::chrono::milliseconds(100));
    limits.max_connections_per_client = options.max_connections_per_client;
    http.set_limits(limits);
    http.set_keep_alive_max_count(1000);
    // Headers and body go out in separate writes: with Nagle's algorithm on,
    // the body waits for the client's delayed ACK, 40 ms a request on
    // keep-alive connections.
    http.set_tcp_nodelay(true);
    // The multipart envelope adds a little to the file's own size.
    http.set_payload_max_length(options.max_upload_bytes + (1u << 20));
    http.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                              {"X-Frame-Options", "DENY"},
                              {"Referrer-Policy", "no-referrer"},
                              {"Content-Security-Policy",
                               "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"}});
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      checked_request = {};
      if (!is_allowed_host_header(req.get_header_value("Host"), options.host, options.allowed_hosts)) {
        send_error(res, 403,
                   "this server does not answer for host '" + req.get_header_value("Host") +
                       "' (add it with kioku serve --allow-host NAME)",
                   "forbidden");
        return httplib::Server::HandlerResponse::Handled;
      }
      // A request without Content-Length or Transfer-Encoding has no body
      // (RFC 9112 6.3); cpp-httplib would instead read until the client
      // closes and answer 400 after its read timeout. The request is not
      // const where cpp-httplib owns it; only this header is added.
      if ((req.method == "POST" || req.method == "PUT") && !req.has_header("Content-Length") &&
          !req.has_header("Transfer-Encoding")) {
        const_cast<httplib::Request&>(req).set_header("Content-Length", "0");
      }
      const bool mcp = req.path == "/mcp";
      if (mcp && req.has_header("Origin") && !server::mcp_origin_allowed(req.get_header_value("Origin"), port, allowed_origins)) {
        // DNS rebinding: a page elsewhere must not reach the user's memory.
        send_error(res, 403, "origin " + req.get_header_value("Origin") + " may not use /mcp", "forbidden");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!mcp && (req.path.rfind("/api/", 0) != 0 || req.path == "/api/health"))
        return httplib::Server::HandlerResponse::Unhandled;
      const std::string header = req.get_header_value("Authorization");
      if (auto who = principal_of(req)) {
        checked_request = {&req, std::move(*who)};
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401,
                 header.empty() ? "missing API token: send Authorization: Bearer <token> (see kioku token)"
                                : "wrong API token",
                 "unauthorized");
      return httplib::Server::HandlerResponse::Handled;
    });
    // Errors cpp-httplib produces itself (no route, body too large, bad
    // request line) get the same JSON shape as ours.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      switch (res.status) {
        case 404: send_error(res, 404, "no route for " + req.method + " " + req.path, "not_found"); break;
        case 413:
          send_error(res, 413,
                     "the request is too large (uploads up to " + std::to_string(options.max_upload_bytes >> 20) +
                         " MiB)",
                     "too_large");
          break;
        case 405: send_error(res, 405, "method not allowed", "invalid_input"); break;
        default:
          send_error(res, res.status, res.status >= 500 ? "internal error" : "bad request",
                     res.status >= 500 ? "internal" : "invalid_input");
      }
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      send_exception(req, res, ep);
    });
    if (options.log) {
      // The path only: queries may carry search text, never secrets, but
      // they are the user's business.
      http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        log(req.method + " " + req.path + " " + std::to_string(res.status));
      });
    }
  }

  void background_loop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      // Writes wait in the spool: check for the database every second, so
      // they are replayed soon after it is back.
      std::chrono::milliseconds tick = options.background_tick;
      try {
        if (services->engine().spooling_writes()) tick = std::min(tick, std::chrono::milliseconds(1000));
      } catch (const std::exception& e) {
        log(std::string("write spool: ") + e.what());
      }
      wake.wait_for(lock, tick, [this] { return stopping; });
      if (stopping) break;
      lock.unlock();
      try {
        for (const auto& line : services->background_tick()) log(line);
      } catch (const std::exception& e) {
        log(std::string("background work failed: ") + e.what());
      }
      for (const auto& job : options.background_jobs) {
        try {
          for (const auto& line : job()) log(line);
        } catch (const std::exception& e) {
          log(std::string("background work failed: ") + e.what());
        }
      }
      lock.lock();
    }
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) { impl_->options = std::move(options); }

Server::~Server() {
  stop();
  if (impl_->listen_thread.joinable()) impl_->listen_thread.join();
  if (impl_->background_thread.joinable()) impl_->background_thread.join();
}

int Server::bind() {
  Impl& d = *impl_;
  const bool loopback = is_loopback_host(d.options.host);
  {
    // Before anything creates a token: an exposed server must have been
    // given one on purpose (kioku init, then kioku token).
    std::ifstream in(d.options.data_dir / "token");
    std::string existing;
    in >> existing;
    if (!loopback && existing.empty()) {
      throw invalid_input("refusing to listen on " + d.options.host +
                          " without an API token: run `kioku init` first (it creates one; `kioku token` prints it)");
    }
  }
  server::ServicesOptions so;
  so.data_dir = d.options.data_dir;
  so.user = d.options.user;
  so.env = d.options.env;
  so.max_upload_bytes = d.options.max_upload_bytes;
  so.companion_factory = d.options.companion_factory;
  so.log = d.options.log;
  so.engine = d.options.engine;
  d.services = std::make_unique<server::Services>(std::move(so));  // creates data dir and token
  {
    auto probe = d.services->system_context();
    const std::string legacy_token = probe->api_token();
    if (legacy_token.empty()) throw io_error("no API token in " + (d.options.data_dir / "token").string());
    d.auth = std::make_unique<TokenAuthenticator>(probe->open_user_store(), legacy_token, probe->default_user_id());
    const auto& data = probe->config().data();
    if (data.contains("mcp") && data["mcp"].is_object() && data["mcp"].contains("allowed_origins") &&
        data["mcp"]["allowed_origins"].is_array())
      for (const auto& o : data["mcp"]["allowed_origins"])
        if (o.is_string()) d.allowed_origins.push_back(o.get<std::string>());
  }
  d.install_handlers();
  d.register_routes();
  if (d.options.port == 0) {
    d.port = d.http.bind_to_any_port(d.options.host);
  } else {
    d.port = d.http.bind_to_port(d.options.host, d.options.port) ? d.options.port : -1;
  }
  if (d.port <= 0) {
    throw io_error("cannot listen on " + d.options.host + ":" + std::to_string(d.options.port) +
                   " (is another kioku serve or program using the port? try --port)");
  }
  d.bound = true;
  // Only once the port is ours: a second server that fails to bind must not
  // touch the running one's uploads in flight.
  if (const int swept = server::sweep_interrupted_uploads(d.options.data_dir); swept > 0) {
    d.log("removed " + std::to_string(swept) + " file(s) of interrupted uploads");
  }
  return d.port;
}

void Server::run() {
  Impl& d = *impl_;
  if (!d.bound) bind();
  if (d.options.background) d.background_thread = std::thread([&d] { d.background_loop(); });
  d.http.listen_after_bind();
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    d.stopping = true;
  }
  d.wake.notify_all();
  if (d.background_thread.joinable()) d.background_thread.join();
}

void Server::start() {
  Impl& d = *impl_;
  if (!d.bound) bind();
  d.listen_thread = std::thread([this] { run(); });
  for (int i = 0; i < 2000 && !d.http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Server::stop() {
  Impl& d = *impl_;
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    d.stopping = true;
  }
  d.wake.notify_all();
  d.http.stop();
}

int Server::port() const { return impl_->port; }

std::vector<std::pair<std::string, std::string>> Server::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : impl_->routes) out.emplace_back(r.method, r.path);
  return out;
}

nlohmann::json Server::openapi() const { return server::openapi_document(impl_->routes, KIOKU_VERSION); }

}  // namespace kioku
