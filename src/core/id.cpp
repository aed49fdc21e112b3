#include "core/id.h"

#include "core/hash.h"

#include <atomic>
#include <random>

namespace kioku {

std::string new_uuid_v7(TimePoint at) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // A per-process counter in the random bits keeps ids made in the same
  // millisecond distinct and ordered even if the RNG repeated.
  static std::atomic<uint32_t> counter{0};
  const uint64_t ms = static_cast<uint64_t>(to_millis(at));
  const uint64_t r1 = rng();
  const uint64_t r2 = rng();
  uint8_t b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  const uint32_t seq = counter.fetch_add(1, std::memory_order_relaxed) & 0x0FFF;
  b[6] = static_cast<uint8_t>(0x70 | (seq >> 8));
  b[7] = static_cast<uint8_t>(seq & 0xFF);
  b[8] = static_cast<uint8_t>(0x80 | (r1 & 0x3F));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<uint8_t>(r2 >> (8 * (i - 9)));
  // Spliced by hand: snprintf with 16 conversions was most of an add's id.
  const std::string hex = lower_hex(b, sizeof b);
  std::string out;
  out.reserve(36);
  out.append(hex, 0, 8).append(1, '-').append(hex, 8, 4).append(1, '-').append(hex, 12, 4).append(1, '-');
  out.append(hex, 16, 4).append(1, '-').append(hex, 20, 12);
  return out;
}

std::string new_uuid_v7() { return new_uuid_v7(system_time().now()); }

bool looks_like_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace kioku
