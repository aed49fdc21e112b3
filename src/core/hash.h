#pragma once

#include <string>
#include <string_view>

namespace kioku {

// Lower-case hex SHA-256 of the bytes (OpenSSL).
std::string sha256_hex(std::string_view data);

// Lower-case hex of n bytes.
std::string lower_hex(const void* data, size_t n);
// The bytes of an even-length hex string (either case); the caller has
// checked that it is hex.
std::string bytes_of_hex(std::string_view hex);

}  // namespace kioku
