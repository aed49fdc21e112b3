#include <gtest/gtest.h>

#include "net/retry.h"

namespace kioku {
namespace {

using net::backoff_s;
using net::parse_retry_after;
using net::RetryPolicy;

// Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110.
const auto kExampleDate = std::chrono::system_clock::from_time_t(784111777);

TEST(RetryAfter, SecondsAreReadAsTheyAre) {
  EXPECT_EQ(parse_retry_after("120"), 120.0);
  EXPECT_EQ(parse_retry_after(" 3 "), 3.0);
  EXPECT_EQ(parse_retry_after("0"), 0.0);
}

TEST(RetryAfter, AnHttpDateIsCountedFromNowInEachOfItsThreeForms) {
  const auto now = kExampleDate - std::chrono::seconds(90);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 90.0);
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 90.0);
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), 90.0);
  // A date already past means "now".
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kExampleDate + std::chrono::hours(1)), 0.0);
}

TEST(RetryAfter, AbsentOrUnreadableIsNothing) {
  EXPECT_FALSE(parse_retry_after(""));
  EXPECT_FALSE(parse_retry_after("-5"));
  EXPECT_FALSE(parse_retry_after("soon"));
  EXPECT_FALSE(parse_retry_after("1.5"));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:49:37 PST"));
  EXPECT_FALSE(parse_retry_after("Sun, 32 Nov 1994 08:49:37 GMT"));
}

TEST(Backoff, DoublesUpToTheCapWithoutJitter) {
  RetryPolicy p;
  p.initial_backoff_s = 0.5;
  p.max_backoff_s = 3;
  p.jitter = 0;
  EXPECT_DOUBLE_EQ(backoff_s(p, 1, std::nullopt, 0.3), 0.5);
  EXPECT_DOUBLE_EQ(backoff_s(p, 2, std::nullopt, 0.3), 1.0);
  EXPECT_DOUBLE_EQ(backoff_s(p, 3, std::nullopt, 0.3), 2.0);
  EXPECT_DOUBLE_EQ(backoff_s(p, 4, std::nullopt, 0.3), 3.0);
  EXPECT_DOUBLE_EQ(backoff_s(p, 40, std::nullopt, 0.3), 3.0);
}

TEST(Backoff, JitterSpreadsEachWaitWithinItsBand) {
  RetryPolicy p;
  p.initial_backoff_s = 1;
  p.jitter = 0.2;
  EXPECT_DOUBLE_EQ(backoff_s(p, 1, std::nullopt, 0.0), 0.8);
  EXPECT_DOUBLE_EQ(backoff_s(p, 1, std::nullopt, 0.5), 1.0);
  EXPECT_NEAR(backoff_s(p, 1, std::nullopt, 0.999999), 1.2, 1e-5);
  EXPECT_NE(backoff_s(p, 2, std::nullopt, 0.1), backoff_s(p, 2, std::nullopt, 0.9));
}

TEST(Backoff, NeverShorterThanWhatTheServerAskedFor) {
  RetryPolicy p;
  p.initial_backoff_s = 0.5;
  EXPECT_DOUBLE_EQ(backoff_s(p, 1, 7.0, 0.5), 7.0);
  EXPECT_DOUBLE_EQ(backoff_s(p, 1, 0.0, 0.5), 0.5);
}

}  // namespace
}  // namespace kioku
