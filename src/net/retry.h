// When and how often an HTTP request is tried again (see net/http_client.h).
//
// One policy for every remote service: exponential backoff with jitter, and
// a server's Retry-After (in seconds or as an HTTP date) honoured: the wait
// is never shorter than what the server asked for, and a server that asks
// for longer than max_retry_after_s is not waited for at all (the request
// ends as rate-limited, so the caller can reschedule it instead of blocking
// a thread for minutes). Plain values; no state, no locking.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace kioku::net {

struct RetryPolicy {
  int max_attempts = 3;            // tries in all, the first included (1 = never retry)
  double initial_backoff_s = 0.5;  // before the second try; doubled for each later one
  double max_backoff_s = 30;       // cap of the exponential part
  double jitter = 0.2;             // each wait is scaled by a random factor in [1 - jitter, 1 + jitter]
  double max_retry_after_s = 60;   // a longer Retry-After ends the request (rate-limited) instead

  static RetryPolicy never() { return RetryPolicy{1}; }
};

// The pause a Retry-After header asks for, in seconds: delta-seconds ("120")
// or an HTTP date ("Wed, 21 Oct 2026 07:28:00 GMT", also the RFC 850 and
// asctime forms) counted from now; a date in the past is 0. nullopt when the
// header is absent or unreadable.
std::optional<double> parse_retry_after(std::string_view header,
                                        std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The wait before retry number `retry` (1 = the second attempt):
// initial_backoff_s * 2^(retry-1), capped, scaled by the jitter factor that
// unit_random (in [0, 1)) picks, and at least retry_after_s when given.
double backoff_s(const RetryPolicy& policy, int retry, std::optional<double> retry_after_s, double unit_random);

}  // namespace kioku::net
