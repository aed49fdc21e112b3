#include "llm/http_transport.h"

#include <optional>

#include "core/error.h"

namespace kioku::llm {

namespace {

net::ClientOptions client_options(const LlmConfig& config, std::string label) {
  net::ClientOptions o;
  o.base_url = config.url;
  o.service.name = std::move(label);
  o.service.secrets = {config.api_key};
  o.connect_timeout_s = config.connect_timeout_s;
  o.read_timeout_s = config.timeout_s;
  o.retry.max_attempts = config.max_retries + 1;
  o.retry.initial_backoff_s = config.backoff_s;
  return o;
}

}  // namespace

HttpTransport::HttpTransport(const LlmConfig& config, std::string provider_label)
    : http_(client_options(config, std::move(provider_label))) {}

void HttpTransport::fail(const std::string& what) const { throw http_.protocol_error(what); }

HttpReply HttpTransport::post(const std::string& path, const Headers& headers, const std::string& body,
                              const std::function<void(std::string_view)>& on_line) {
  net::Request r;
  r.method = "POST";
  r.path = path;
  r.headers = headers;
  r.body = body;
  r.content_type = "application/json";
  return request(std::move(r), on_line);
}

HttpReply HttpTransport::get(const std::string& path, const Headers& headers) {
  net::Request r;
  r.path = path;
  r.headers = headers;
  return request(std::move(r), {});
}

HttpReply HttpTransport::request(net::Request request, const std::function<void(std::string_view)>& on_line) {
  std::optional<net::LineSplitter> lines;
  if (on_line) {
    lines.emplace(on_line);
    request.on_body = [&](std::string_view chunk) {
      lines->feed(chunk);
      return true;
    };
  }
  net::Response r = http_.send(request);
  if (!r.ok()) throw http_.error_for(r);
  if (lines) lines->finish();
  return {r.status, on_line ? std::string() : std::move(r.body)};
}

}  // namespace kioku::llm
