#include "core/url.h"

#include <string>

#include "core/error.h"

namespace kioku {

std::string BaseUrl::origin() const { return scheme + "://" + host + ":" + std::to_string(port); }

BaseUrl parse_base_url(std::string_view url) {
  BaseUrl out;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) throw invalid_input("'" + std::string(url) + "' is not a URL (expected http://host:port/...)");
  out.scheme = std::string(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https")
    throw invalid_input("unsupported URL scheme '" + out.scheme + "' (expected http or https)");
  std::string_view rest = url.substr(sep + 3);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw invalid_input("bad IPv6 address in URL");
    out.host = std::string(authority.substr(0, close + 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') port_text = authority.substr(close + 2);
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(authority.substr(0, colon));
    port_text = authority.substr(colon + 1);
  } else {
    out.host = std::string(authority);
  }
  if (out.host.empty()) throw invalid_input("URL '" + std::string(url) + "' has no host");
  if (!port_text.empty()) {
    try {
      out.port = std::stoi(std::string(port_text));
    } catch (...) {
      throw invalid_input("URL '" + std::string(url) + "' has a bad port");
    }
    if (out.port <= 0 || out.port > 65535) throw invalid_input("URL '" + std::string(url) + "' has a bad port");
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }
  return out;
}

}  // namespace kioku
