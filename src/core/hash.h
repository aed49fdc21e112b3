#pragma once

#include <string>
#include <string_view>

namespace kioku {

// Lower-case hex SHA-256 of the bytes (OpenSSL).
std::string sha256_hex(std::string_view data);

}  // namespace kioku
