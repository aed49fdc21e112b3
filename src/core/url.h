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

}  // namespace kioku
