#include "search/time_expr.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <regex>
#include <string>

namespace kioku {

namespace {

using namespace std::chrono;

TimePoint at_day(int y, unsigned m, unsigned d) {
  return TimePoint(duration_cast<TimePoint::duration>(sys_days(year(y) / month(m) / day(d)).time_since_epoch()));
}

TimePeriod month_period(int y, unsigned m) {
  const int ny = m == 12 ? y + 1 : y;
  const unsigned nm = m == 12 ? 1 : m + 1;
  return {at_day(y, m, 1), at_day(ny, nm, 1)};
}

int month_of(const std::string& word) {
  static const char* names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i)
    if (word.rfind(names[i], 0) == 0) return i + 1;
  return 0;
}

const std::string kMonth =
    "(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|"
    "aug|sep|sept|oct|nov|dec)";

// Every expression below needs a digit, a month's name or one of these
// words; most queries have none, and the regexes cost more than the rest of
// a vector search's ranking (issue 15: 3.5 % of the vector path).
bool may_name_a_time(std::string_view lower) {
  if (std::any_of(lower.begin(), lower.end(), [](char c) { return c >= '0' && c <= '9'; })) return true;
  static constexpr std::string_view kWords[] = {"yesterday", "today", "last", "this", "jan", "feb", "mar", "apr",
                                                "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  return std::any_of(std::begin(kWords), std::end(kWords),
                     [&](std::string_view w) { return lower.find(w) != std::string_view::npos; });
}

}  // namespace

std::vector<TimePeriod> query_time_periods(std::string_view query, TimePoint now, int first_year, int last_year) {
  std::string q(query);
  for (char& c : q) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<TimePeriod> out;
  if (!may_name_a_time(q)) return out;
  const auto today = floor<days>(now);
  const TimePoint day0(duration_cast<TimePoint::duration>(today.time_since_epoch()));
  const year_month_day ymd{sys_days(today)};
  const int this_year = static_cast<int>(ymd.year());
  const unsigned this_month = static_cast<unsigned>(ymd.month());
  // A named day is the centre of a few days: a conversation dated the 3rd
  // often tells of the evening before.
  const auto around_day = [&](int y, unsigned m, unsigned d) {
    const TimePoint t = at_day(y, m, d);
    out.push_back({t - hours(48), t + hours(72)});
  };
  static const std::regex day_month_year("\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+" + kMonth + "\\.?,?\\s+(\\d{4})\\b");
  static const std::regex month_day_year("\\b" + kMonth + "\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b");
  static const std::regex month_year("\\b" + kMonth + "\\.?,?\\s+(\\d{4})\\b");
  static const std::regex month_alone("\\b(?:in|during|since|of|last|this)\\s+" + kMonth + "\\b");
  static const std::regex year_alone("\\b(?:in|during|of|since)\\s+((?:19|20)\\d\\d)\\b");
  static const std::regex yesterday_re("\\byesterday\\b");
  static const std::regex today_re("\\btoday\\b");
  static const std::regex last_week_re("\\blast\\s+(week|weekend)\\b");
  static const std::regex last_month_re("\\blast\\s+month\\b");
  static const std::regex last_year_re("\\blast\\s+year\\b");
  static const std::regex this_year_re("\\bthis\\s+year\\b");
  std::smatch m;
  bool dated = false;
  for (auto it = std::sregex_iterator(q.begin(), q.end(), day_month_year); it != std::sregex_iterator(); ++it) {
    around_day(std::stoi((*it)[3]), static_cast<unsigned>(month_of((*it)[2])), static_cast<unsigned>(std::stoi((*it)[1])));
    dated = true;
  }
  for (auto it = std::sregex_iterator(q.begin(), q.end(), month_day_year); it != std::sregex_iterator(); ++it) {
    around_day(std::stoi((*it)[3]), static_cast<unsigned>(month_of((*it)[1])), static_cast<unsigned>(std::stoi((*it)[2])));
    dated = true;
  }
  if (!dated) {
    for (auto it = std::sregex_iterator(q.begin(), q.end(), month_year); it != std::sregex_iterator(); ++it) {
      out.push_back(month_period(std::stoi((*it)[2]), static_cast<unsigned>(month_of((*it)[1]))));
      dated = true;
    }
  }
  if (!dated) {
    for (auto it = std::sregex_iterator(q.begin(), q.end(), month_alone); it != std::sregex_iterator(); ++it) {
      const unsigned mo = static_cast<unsigned>(month_of((*it)[1]));
      // "may" is also a verb: only after a preposition, as matched here.
      for (int y = first_year; y <= last_year; ++y) out.push_back(month_period(y, mo));
      dated = true;
    }
    for (auto it = std::sregex_iterator(q.begin(), q.end(), year_alone); it != std::sregex_iterator(); ++it) {
      const int y = std::stoi((*it)[1]);
      out.push_back({at_day(y, 1, 1), at_day(y + 1, 1, 1)});
      dated = true;
    }
  }
  if (std::regex_search(q, m, yesterday_re)) out.push_back({day0 - hours(24), day0});
  if (std::regex_search(q, m, today_re)) out.push_back({day0, day0 + hours(24)});
  if (std::regex_search(q, m, last_week_re)) out.push_back({day0 - hours(24 * 10), day0});
  if (std::regex_search(q, m, last_month_re))
    out.push_back(month_period(this_month == 1 ? this_year - 1 : this_year, this_month == 1 ? 12 : this_month - 1));
  if (std::regex_search(q, m, last_year_re))
    out.push_back({at_day(this_year - 1, 1, 1), at_day(this_year, 1, 1)});
  if (std::regex_search(q, m, this_year_re)) out.push_back({at_day(this_year, 1, 1), at_day(this_year + 1, 1, 1)});
  return out;
}

bool in_any(const std::vector<TimePeriod>& periods, TimePoint t) {
  for (const auto& p : periods)
    if (t >= p.begin && t < p.end) return true;
  return false;
}

}  // namespace kioku
