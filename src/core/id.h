// Sortable unique ids (UUIDv7, RFC 9562): 48-bit millisecond timestamp, then
// random bits, so ids sort by creation time and index well in B-trees.
#pragma once

#include <string>
#include <string_view>

#include "core/time.h"

namespace kioku {

std::string new_uuid_v7(TimePoint at);
std::string new_uuid_v7();  // at the system clock
bool looks_like_uuid(std::string_view s);

}  // namespace kioku
