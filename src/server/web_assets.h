// The web app's files (web/), compiled into the binary by embed_web.cmake so
// `kioku serve` works from any directory.
#pragma once

#include <string_view>

namespace kioku::server {

struct WebAsset {
  std::string_view path;  // "index.html", "js/app.js"
  std::string_view content_type;
  std::string_view bytes;
};

// nullptr when there is no such file. Paths are matched exactly (no
// filesystem access), so "../" tricks cannot reach anything else.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace kioku::server
