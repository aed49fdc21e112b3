#include <gtest/gtest.h>

#include "core/error.h"
#include "media/image.h"
#include "testing/images.h"

namespace kioku {
namespace {

TEST(ShrinkToJpeg, LargePhotosShrinkToTheLongSide) {
  auto big = testing::make_image(3000, 1000, ".png");
  auto out = shrink_to_jpeg(big, 2048, 85);
  EXPECT_EQ(out.width, 2048);
  EXPECT_EQ(out.height, 683);
  EXPECT_EQ(out.jpeg.substr(0, 3), "\xFF\xD8\xFF");
  auto tall = shrink_to_jpeg(testing::make_image(500, 4096, ".jpg"), 2048, 85);
  EXPECT_EQ(tall.height, 2048);
  EXPECT_EQ(tall.width, 250);
}

TEST(ShrinkToJpeg, SmallPhotosAreNotEnlarged) {
  auto out = shrink_to_jpeg(testing::make_image(320, 200, ".webp"));
  EXPECT_EQ(out.width, 320);
  EXPECT_EQ(out.height, 200);
}

TEST(ShrinkToJpeg, NonImagesAreRejected) {
  EXPECT_THROW(shrink_to_jpeg("definitely not an image"), Error);
  EXPECT_THROW(shrink_to_jpeg(std::string("\x89PNG\r\n\x1A\n", 8) + std::string(32, '\0')), Error);
  EXPECT_THROW(shrink_to_jpeg(""), Error);
}

}  // namespace
}  // namespace kioku
