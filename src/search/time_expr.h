// Time expressions in a search query ("in May 2023", "on 3 June, 2023",
// "last year", "yesterday") turned into event-time periods, for time-aware
// retrieval. English only; relative phrases are read against `now`. A month
// without a year ("in June") matches that month of any year.
// Pure functions: thread-safe, never throw.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace kioku {

struct TimePeriod {
  TimePoint begin;  // inclusive
  TimePoint end;    // exclusive
};

// Every period the query names (empty when it names none). A month without a
// year gives one period per year in [first_year, last_year].
std::vector<TimePeriod> query_time_periods(std::string_view query, TimePoint now, int first_year = 1990,
                                           int last_year = 2100);

bool in_any(const std::vector<TimePeriod>& periods, TimePoint t);

}  // namespace kioku
