// Photos: shrinking for storage and for vision models (libvips).
#pragma once

#include <string>
#include <string_view>

namespace kioku {

struct PreparedImage {
  std::string jpeg;  // the re-encoded image
  int width = 0;
  int height = 0;
};

// Decodes any format libvips reads (JPEG, PNG, GIF, WebP, HEIC when built
// in), applies the EXIF orientation, shrinks so that neither side exceeds
// max_side (never enlarges) and encodes as JPEG at `quality`. Throws
// kInvalidInput when the bytes are not an image libvips can decode.
// Thread-safe (libvips is).
PreparedImage shrink_to_jpeg(std::string_view bytes, int max_side = 2048, int quality = 85);

}  // namespace kioku
