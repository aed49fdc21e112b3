#include "llm/http_transport.h"

#include <httplib.h>

#include <chrono>
#include <random>
#include <thread>

#include "core/error.h"

namespace kioku::llm {

HttpTransport::HttpTransport(const LlmConfig& config, std::string provider_label)
    : config_(config), label_(std::move(provider_label)), base_(parse_base_url(config.url)) {}

void HttpTransport::fail(const std::string& what) const {
  throw unavailable(label_ + " at " + base_.origin() + ": " + what);
}

std::optional<std::string_view> sse_data(std::string_view line) {
  if (line.rfind("data:", 0) != 0) return std::nullopt;
  line.remove_prefix(5);
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  return line;
}

HttpReply HttpTransport::post(const std::string& path, const Headers& headers, const std::string& body,
                              const std::function<void(std::string_view)>& on_line) {
  return request(true, path, headers, body, on_line);
}

HttpReply HttpTransport::get(const std::string& path, const Headers& headers) {
  return request(false, path, headers, "", {});
}

HttpReply HttpTransport::request(bool is_post, const std::string& path, const Headers& headers,
                                 const std::string& body, const std::function<void(std::string_view)>& on_line) {
  thread_local std::mt19937 rng{std::random_device{}()};
  double delay = config_.backoff_s;
  std::string last_error;
  for (int attempt = 0; attempt <= config_.max_retries; ++attempt) {
    if (attempt > 0) {
      // Jitter keeps several clients from retrying in lockstep.
      const double jittered = delay * std::uniform_real_distribution<double>(0.8, 1.2)(rng);
      std::this_thread::sleep_for(std::chrono::duration<double>(jittered));
      delay *= 2;
    }
    httplib::Client client(base_.origin());
    const auto secs = [](double s) { return std::make_pair(static_cast<time_t>(s), static_cast<time_t>((s - static_cast<time_t>(s)) * 1e6)); };
    auto [cs, cus] = secs(config_.connect_timeout_s);
    auto [rs, rus] = secs(config_.timeout_s);
    client.set_connection_timeout(cs, cus);
    client.set_read_timeout(rs, rus);
    client.set_write_timeout(rs, rus);

    httplib::Request req;
    req.method = is_post ? "POST" : "GET";
    req.path = base_.path + path;
    for (const auto& [k, v] : headers) req.headers.emplace(k, v);
    if (is_post) {
      req.body = body;
      req.headers.emplace("Content-Type", "application/json");
    }
    int status = 0;
    std::string error_body;
    std::string pending;  // a partial line
    bool delivered = false;
    if (on_line) {
      req.response_handler = [&](const httplib::Response& r) {
        status = r.status;
        return true;
      };
      req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
        if (status != 200) {
          error_body.append(data, len);
          return error_body.size() < (1 << 20);
        }
        pending.append(data, len);
        size_t start = 0;
        for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
          std::string_view line(pending.data() + start, nl - start);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          if (line.empty()) continue;
          delivered = true;
          on_line(line);
        }
        pending.erase(0, start);
        return true;
      };
    }
    auto res = client.send(req);
    if (!res) {
      if (delivered) fail("the reply stream was cut (" + httplib::to_string(res.error()) + ")");
      last_error = "cannot reach the server (" + httplib::to_string(res.error()) + ")";
      continue;
    }
    if (!on_line) status = res->status;
    if (status == 429 || status >= 500) {
      last_error = "HTTP " + std::to_string(status);
      delay = retry_delay_s(delay, res->get_header_value("Retry-After"));
      continue;
    }
    if (status != 200) {
      std::string detail = on_line ? error_body : res->body;
      auto j = nlohmann::json::parse(detail, nullptr, false);
      if (j.is_object() && j.contains("error")) {
        const auto& e = j["error"];
        detail = e.is_string() ? e.get<std::string>() : e.is_object() ? e.value("message", e.dump()) : e.dump();
      }
      if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
      if (!config_.api_key.empty()) {
        for (size_t p; (p = detail.find(config_.api_key)) != std::string::npos;) detail.replace(p, config_.api_key.size(), "***");
      }
      fail("HTTP " + std::to_string(status) + (detail.empty() ? "" : ": " + detail));
    }
    if (on_line && !pending.empty()) {
      std::string_view line(pending);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) on_line(line);
    }
    return {status, on_line ? std::string() : res->body};
  }
  fail("gave up after " + std::to_string(config_.max_retries + 1) + " attempts: " + last_error);
}

}  // namespace kioku::llm
