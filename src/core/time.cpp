#include "core/time.h"

#include <cstdio>
#include <ctime>

#include "core/error.h"

namespace kioku {

namespace {

// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool is_leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : kDays[m - 1];
}

bool read_int(std::string_view s, size_t& pos, size_t digits, int& out) {
  if (pos + digits > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < digits; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += digits;
  out = v;
  return true;
}

}  // namespace

std::string format_iso8601(TimePoint t) {
  const int64_t ms = to_millis(t);
  int64_t secs = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(frac));
  return buf;
}

std::string format_for_path(TimePoint t) {
  std::string s = format_iso8601(t).substr(0, 19);  // 2024-05-08T13:56:00
  for (char& c : s)
    if (c == ':') c = '-';
  return s;
}

std::optional<TimePoint> parse_iso8601(std::string_view s) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!read_int(s, pos, 4, year)) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!read_int(s, pos, 2, month)) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!read_int(s, pos, 2, day)) return std::nullopt;
  // 2024-02-30 is refused, not rolled over into March.
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ' || s[pos] == 't')) {
    ++pos;
    if (!read_int(s, pos, 2, hour)) return std::nullopt;
    if (pos >= s.size() || s[pos++] != ':') return std::nullopt;
    if (!read_int(s, pos, 2, minute)) return std::nullopt;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!read_int(s, pos, 2, second)) return std::nullopt;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int scale = 100;
        size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          millis += (s[pos] - '0') * scale;
          scale /= 10;
          ++pos;
        }
        if (pos == start) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (pos < s.size()) {
      char c = s[pos];
      if (c == 'Z' || c == 'z') {
        ++pos;
      } else if (c == '+' || c == '-') {
        ++pos;
        int oh = 0, om = 0;
        if (!read_int(s, pos, 2, oh)) return std::nullopt;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (!read_int(s, pos, 2, om)) return std::nullopt;
        // Real offsets run from -12:00 to +14:00.
        if (oh > 14 || om > 59) return std::nullopt;
        offset_minutes = (oh * 60 + om) * (c == '+' ? 1 : -1);
      }
    }
  }
  if (pos != s.size()) return std::nullopt;
  int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t total_ms = ((days * 24 + hour) * 60 + minute - offset_minutes) * 60000LL + second * 1000LL + millis;
  return from_millis(total_ms);
}

TimePoint parse_iso8601_or_throw(std::string_view text, std::string_view field) {
  auto t = parse_iso8601(text);
  if (!t) {
    throw invalid_input(std::string(field) + ": '" + std::string(text) +
                        "' is not an ISO-8601 date or time (e.g. 2024-05-08 or 2024-05-08T13:56:00Z)");
  }
  return *t;
}

int64_t to_millis(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_millis(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

TimePoint SystemTimeSource::now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now());
}

const TimeSource& system_time() {
  static const SystemTimeSource source;
  return source;
}

}  // namespace kioku
