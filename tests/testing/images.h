// Real images made by libvips for tests.
#pragma once

#include <vips/vips8>

#include <string>

namespace kioku::testing {

// A width x height gradient in the given format (".png", ".jpg", ".webp").
inline std::string make_image(int width, int height, const std::string& format = ".png") {
  static const bool started = VIPS_INIT("kioku-test") == 0;
  (void)started;
  vips::VImage image = vips::VImage::xyz(width, height)[0].linear(255.0 / width, 0).cast(VIPS_FORMAT_UCHAR);
  image = image.bandjoin(image).bandjoin(image);
  void* buf = nullptr;
  size_t size = 0;
  image.write_to_buffer(format.c_str(), &buf, &size);
  std::string out(static_cast<const char*>(buf), size);
  g_free(buf);
  return out;
}

}  // namespace kioku::testing
