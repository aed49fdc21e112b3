// Base URLs of remote services ("https://host:port/prefix").
#pragma once

#include <string>
#include <string_view>

namespace kioku {

struct BaseUrl {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;
  std::string path;  // prefix without a trailing slash, e.g. "/v1" or ""
  // "scheme://host:port", what cpp-httplib's Client takes.
  std::string origin() const;
};

// Throws invalid_input for anything but an http(s) URL with a host.
BaseUrl parse_base_url(std::string_view url);

// How long to wait before retrying: the larger of current_delay_s and a
// Retry-After header in seconds (capped at 60 s); an absent or unreadable
// header (e.g. an HTTP date) leaves current_delay_s.
double retry_delay_s(double current_delay_s, std::string_view retry_after_header);

}  // namespace kioku
