#include "net/retry.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>
#include <string>

namespace kioku::net {

namespace {

std::optional<std::chrono::system_clock::time_point> parse_http_date(const std::string& text) {
  // RFC 9110 5.6.7: IMF-fixdate, then the two obsolete forms recipients must accept.
  for (const char* format : {"%a, %d %b %Y %H:%M:%S", "%A, %d-%b-%y %H:%M:%S", "%a %b %d %H:%M:%S %Y"}) {
    std::tm tm{};
    std::istringstream in(text);
    in.imbue(std::locale::classic());
    in >> std::get_time(&tm, format);
    if (in.fail()) continue;
    std::string zone;
    in >> zone;
    if (!zone.empty() && zone != "GMT" && zone != "UTC") continue;
    const time_t t = timegm(&tm);
    if (t == static_cast<time_t>(-1)) continue;
    return std::chrono::system_clock::from_time_t(t);
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> parse_retry_after(std::string_view header, std::chrono::system_clock::time_point now) {
  while (!header.empty() && std::isspace(static_cast<unsigned char>(header.front()))) header.remove_prefix(1);
  while (!header.empty() && std::isspace(static_cast<unsigned char>(header.back()))) header.remove_suffix(1);
  if (header.empty()) return std::nullopt;
  if (std::all_of(header.begin(), header.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (header.size() > 9) return 1e9;  // absurdly long: "a very long time"
    return std::stod(std::string(header));
  }
  if (auto when = parse_http_date(std::string(header))) {
    const double s = std::chrono::duration<double>(*when - now).count();
    return std::max(0.0, s);
  }
  return std::nullopt;
}

double backoff_s(const RetryPolicy& policy, int retry, std::optional<double> retry_after_s, double unit_random) {
  const int doublings = std::clamp(retry - 1, 0, 30);
  const double base = std::min(policy.max_backoff_s, policy.initial_backoff_s * std::ldexp(1.0, doublings));
  const double factor = 1.0 + policy.jitter * (2.0 * std::clamp(unit_random, 0.0, 1.0) - 1.0);
  const double wait = std::max(0.0, base * factor);
  return retry_after_s ? std::max(wait, *retry_after_s) : wait;
}

}  // namespace kioku::net
