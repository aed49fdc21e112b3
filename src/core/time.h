// Time points, ISO-8601 text and an injectable clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kioku {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::milliseconds>;

// Formats as UTC "2024-05-08T13:56:00.000Z" (sortable as text).
std::string format_iso8601(TimePoint t);
// UTC "2024-05-08T13-56-00": a file or folder name that sorts by time.
std::string format_for_path(TimePoint t);
// Accepts "2024-05-08", "2024-05-08T13:56", "2024-05-08 13:56:00", fractional
// seconds and "Z" / "+02:00" offsets. Returns nullopt on anything else.
std::optional<TimePoint> parse_iso8601(std::string_view text);
// Like parse_iso8601 but throws invalid_input naming the field.
TimePoint parse_iso8601_or_throw(std::string_view text, std::string_view field);

int64_t to_millis(TimePoint t);
TimePoint from_millis(int64_t ms);

// The source of "now". Production uses SystemClock; tests pass a FakeClock so
// recency ranking and journal timeouts are deterministic.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint now() const = 0;
};

class SystemTimeSource final : public TimeSource {
 public:
  TimePoint now() const override;
};

class FakeTimeSource final : public TimeSource {
 public:
  explicit FakeTimeSource(TimePoint t) : now_(t) {}
  TimePoint now() const override { return now_; }
  void set(TimePoint t) { now_ = t; }
  void advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  TimePoint now_;
};

const TimeSource& system_time();

}  // namespace kioku
