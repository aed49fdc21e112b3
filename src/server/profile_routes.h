// Routes of what the companion learned about the user (seed 004) under
// /api/profile (profile_routes.cpp): the whole document, and a correction
// or an erase for every part of it. Each route sees only the caller's user.
#pragma once

#include <vector>

#include "server/api.h"

namespace kioku::server {

std::vector<Route> profile_routes();

}  // namespace kioku::server
