#include "media/image.h"

#include <vips/vips8>

#include <mutex>

#include "core/error.h"

namespace kioku {

namespace {
void ensure_vips() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("kioku")) throw Error(ErrorCode::kInternal, "cannot start libvips");
    vips_cache_set_max(0);  // kioku processes each photo once: no cache needed
  });
}
}  // namespace

PreparedImage shrink_to_jpeg(std::string_view bytes, int max_side, int quality) {
  ensure_vips();
  try {
    // thumbnail_buffer decodes at a reduced size when the format allows it
    // (JPEG shrink-on-load), which keeps memory low for large photos.
    VipsBlob* blob = vips_blob_new(nullptr, bytes.data(), bytes.size());
    vips::VImage image;
    try {
      image = vips::VImage::thumbnail_buffer(
          blob, max_side, vips::VImage::option()->set("height", max_side)->set("size", VIPS_SIZE_DOWN));
    } catch (...) {
      vips_area_unref(VIPS_AREA(blob));
      throw;
    }
    vips_area_unref(VIPS_AREA(blob));
    if (image.has_alpha()) image = image.flatten(vips::VImage::option()->set("background", std::vector<double>{255, 255, 255}));
    void* out = nullptr;
    size_t out_size = 0;
    image.write_to_buffer(".jpg", &out, &out_size, vips::VImage::option()->set("Q", quality)->set("strip", true));
    PreparedImage result;
    result.jpeg.assign(static_cast<const char*>(out), out_size);
    g_free(out);
    result.width = image.width();
    result.height = image.height();
    return result;
  } catch (const vips::VError& e) {
    vips_error_clear();
    throw invalid_input("not an image that can be read (" + std::string(e.what()).substr(0, 120) + ")");
  }
}

}  // namespace kioku
