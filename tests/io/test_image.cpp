// PNG encode/decode round trips (exact), JPEG decoding (approximate), channel conversion and
// errors that name the file.
#include "io/image.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include <stb/stb_image_write.h>

#include "test_util.h"

namespace ddpm {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

void spit(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

torch::Tensor random_image(int64_t c, int64_t h, int64_t w) {
  return torch::randint(0, 256, {c, h, w}, torch::kUInt8);
}

TEST(Image, PngRoundTripsGrayAndRgbExactly) {
  test::TempDir dir;
  torch::manual_seed(0);
  for (int64_t c : {1, 3}) {
    const auto image = random_image(c, 7, 11);  // odd sizes: no stride assumptions
    const fs::path path = dir.path / ("img" + std::to_string(c) + ".png");
    write_png(path, image);
    const auto back = read_image(path);
    EXPECT_EQ(back.scalar_type(), torch::kUInt8);
    EXPECT_EQ(back.sizes(), image.sizes());
    EXPECT_TRUE(torch::equal(back, image)) << "C = " << c;
    EXPECT_TRUE(back.is_contiguous());
  }
}

TEST(Image, EncodePngMatchesWrittenFile) {
  test::TempDir dir;
  const auto image = random_image(3, 4, 5);
  write_png(dir.path / "a.png", image.permute({0, 2, 1}));  // non-contiguous input
  std::ifstream in(dir.path / "a.png", std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_EQ(bytes, encode_png(image.permute({0, 2, 1}).contiguous()));
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
}

TEST(Image, ConvertsChannelsOnRequest) {
  test::TempDir dir;
  const auto gray = random_image(1, 5, 6);
  write_png(dir.path / "gray.png", gray);
  const auto as_rgb = read_image(dir.path / "gray.png", 3);
  ASSERT_EQ(as_rgb.sizes(), (std::vector<int64_t>{3, 5, 6}));
  for (int64_t c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(as_rgb[c], gray[0]));

  const auto flat = torch::full({3, 4, 4}, 90, torch::kUInt8);
  write_png(dir.path / "rgb.png", flat);
  const auto as_gray = read_image(dir.path / "rgb.png", 1);
  ASSERT_EQ(as_gray.sizes(), (std::vector<int64_t>{1, 4, 4}));
  EXPECT_TRUE(torch::equal(as_gray, torch::full({1, 4, 4}, 90, torch::kUInt8)));
  EXPECT_THROW(read_image(dir.path / "rgb.png", 2), std::invalid_argument);
}

TEST(Image, DropsAlpha) {
  test::TempDir dir;
  const auto rgba = random_image(4, 3, 3).permute({1, 2, 0}).contiguous();  // [H, W, 4]
  std::string png;
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
  };
  ASSERT_TRUE(stbi_write_png_to_func(append, &png, 3, 3, 4, rgba.data_ptr(), 3 * 4));
  spit(dir.path / "rgba.png", png);
  const auto image = read_image(dir.path / "rgba.png");
  EXPECT_TRUE(torch::equal(image, rgba.permute({2, 0, 1}).slice(0, 0, 3)));

  png.clear();
  const auto gray_alpha = random_image(2, 3, 3).permute({1, 2, 0}).contiguous();  // [H, W, 2]
  ASSERT_TRUE(stbi_write_png_to_func(append, &png, 3, 3, 2, gray_alpha.data_ptr(), 3 * 2));
  spit(dir.path / "ga.png", png);
  EXPECT_TRUE(
      torch::equal(read_image(dir.path / "ga.png"), gray_alpha.permute({2, 0, 1})[0].unsqueeze(0)));
}

TEST(Image, DecodesJpeg) {
  test::TempDir dir;
  // A smooth RGB gradient survives JPEG compression within a few levels.
  const auto y = torch::arange(16, torch::kFloat32).view({16, 1}).expand({16, 24});
  const auto x = torch::arange(24, torch::kFloat32).view({1, 24}).expand({16, 24});
  const auto hwc = torch::stack({y * 8, x * 8, torch::full({16, 24}, 128.0f)}, 2)
                       .to(torch::kUInt8)
                       .contiguous();  // [H, W, 3]
  std::string jpg;
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
  };
  ASSERT_TRUE(stbi_write_jpg_to_func(append, &jpg, 24, 16, 3, hwc.data_ptr(), 95));
  spit(dir.path / "photo.jpg", jpg);
  const auto image = read_image(dir.path / "photo.jpg");
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{3, 16, 24}));
  const auto gap = (image.to(torch::kInt32) - hwc.permute({2, 0, 1}).to(torch::kInt32)).abs();
  EXPECT_LE(gap.to(torch::kFloat32).mean().item<float>(), 3.0f);
  EXPECT_LE(gap.max().item<int>(), 16);
  EXPECT_EQ(read_image(dir.path / "photo.jpg", 1).size(0), 1);
}

TEST(Image, CorruptOrMissingFilesNameTheFile) {
  test::TempDir dir;
  spit(dir.path / "corrupt.png", "\x89PNG\r\n\x1a\nthis is not a png");
  try {
    read_image(dir.path / "corrupt.png");
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("corrupt.png: cannot decode image: "));
  }
  try {
    read_image(dir.path / "missing.png");
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing.png"));
  }
}

TEST(Image, RejectsTensorsThatAreNotImages) {
  test::TempDir dir;
  const auto bad = [&](const torch::Tensor& t, const char* found) {
    try {
      write_png(dir.path / "bad.png", t);
      ADD_FAILURE() << "expected an error for " << found;
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr(found));
      EXPECT_THAT(e.what(), HasSubstr("bad.png"));
    }
  };
  bad(torch::zeros({3, 4, 4}), "Float [3, 4, 4]");
  bad(torch::zeros({4, 4}, torch::kUInt8), "Byte [4, 4]");
  bad(torch::zeros({2, 4, 4}, torch::kUInt8), "Byte [2, 4, 4]");
  bad(torch::zeros({4, 4, 4}, torch::kUInt8), "Byte [4, 4, 4]");
  EXPECT_THROW(encode_png(torch::zeros({1, 0, 4}, torch::kUInt8)), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir.path / "bad.png"));
}

}  // namespace
}  // namespace ddpm
