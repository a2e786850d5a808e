// PNG encode/decode round trips (exact), JPEG decoding (approximate), channel conversion and
// errors that name the file.
#include "io/image.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <zlib.h>

#include <array>
#include <cstdio>  // FILE, used by jpeglib.h
#include <cstdlib>
#include <fstream>

#include <jpeglib.h>

#include <stb/stb_image_write.h>

#include "address_space_limit.h"
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

// Transparent pixels become white, opaque ones keep their colour, partial ones blend (c·α +
// 255·(1 − α), rounded), as an icon shows on a white page.
TEST(Image, CompositesAlphaOntoWhite) {
  test::TempDir dir;
  auto rgba = random_image(4, 3, 3);  // [4, H, W]
  rgba[3][0][0] = 0;                  // transparent
  rgba[3][0][1] = 255;                // opaque
  rgba[3][0][2] = 128;                // half
  const auto hwc = rgba.permute({1, 2, 0}).contiguous();
  std::string png;
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
  };
  ASSERT_TRUE(stbi_write_png_to_func(append, &png, 3, 3, 4, hwc.data_ptr(), 3 * 4));
  spit(dir.path / "rgba.png", png);
  const auto image = read_image(dir.path / "rgba.png");
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{3, 3, 3}));
  auto c = rgba.slice(0, 0, 3).to(torch::kInt32), a = rgba.slice(0, 3).to(torch::kInt32);
  const auto expected = torch::div(c * a + 255 * (255 - a) + 127, 255, "floor").to(torch::kUInt8);
  EXPECT_TRUE(torch::equal(image, expected));
  EXPECT_EQ(image[0][0][0].item<int>(), 255);  // transparent → white
  EXPECT_TRUE(
      torch::equal(image.select(1, 0).select(1, 1), rgba.slice(0, 0, 3).select(1, 0).select(1, 1)));
  // As gray: the composited colour's luma (stb_image's weights).
  const auto gray = read_image(dir.path / "rgba.png", 1);
  const auto e = expected.to(torch::kInt32);
  EXPECT_TRUE(torch::equal(
      gray,
      torch::div(e[0] * 77 + e[1] * 150 + e[2] * 29, 256, "floor").to(torch::kUInt8).unsqueeze(0)));

  png.clear();
  auto gray_alpha = random_image(2, 3, 3);
  gray_alpha[1][1][1] = 0;
  const auto ga = gray_alpha.permute({1, 2, 0}).contiguous();  // [H, W, 2]
  ASSERT_TRUE(stbi_write_png_to_func(append, &png, 3, 3, 2, ga.data_ptr(), 3 * 2));
  spit(dir.path / "ga.png", png);
  const auto g = read_image(dir.path / "ga.png");
  auto gc = gray_alpha.slice(0, 0, 1).to(torch::kInt32),
       ga_a = gray_alpha.slice(0, 1).to(torch::kInt32);
  EXPECT_TRUE(torch::equal(
      g, torch::div(gc * ga_a + 255 * (255 - ga_a) + 127, 255, "floor").to(torch::kUInt8)));
  EXPECT_EQ(g[0][1][1].item<int>(), 255);
  EXPECT_EQ(read_image(dir.path / "ga.png", 3).size(0), 3);
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

/// A 16 × 16 JPEG of 4 components (CMYK, or YCCK as Photoshop writes it) in quadrants of 8 × 8
/// of the given inks, Adobe-inverted (255 = no ink), written by libjpeg at quality 100, 4:4:4.
std::string jpeg_of_inks(J_COLOR_SPACE space, const std::array<std::array<uint8_t, 4>, 4>& inks) {
  std::vector<uint8_t> cmyk(16 * 16 * 4);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 4; ++c) cmyk[size_t((y * 16 + x) * 4 + c)] = inks[(y / 8) * 2 + x / 8][c];
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = info.image_height = 16;
  info.input_components = 4;
  info.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&info);
  jpeg_set_colorspace(&info, space);  // writes the Adobe marker that names it
  jpeg_set_quality(&info, 100, TRUE);
  for (int c = 0; c < info.num_components; ++c)
    info.comp_info[c].h_samp_factor = info.comp_info[c].v_samp_factor = 1;
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < 16) {
    JSAMPROW row = cmyk.data() + info.next_scanline * 16 * 4;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  std::string jpg(reinterpret_cast<const char*>(buffer), size);
  jpeg_destroy_compress(&info);
  std::free(buffer);
  return jpg;
}

// Adobe CMYK and YCCK JPEGs become RGB as stb_image made them: R = C·K/255 of the stored
// (inverted) inks, and so on; gray is stb_image's luma of that RGB.
TEST(Image, DecodesCmykAndYcckJpegAsRgb) {
  const std::array<std::array<uint8_t, 4>, 4> inks{
      {{255, 255, 255, 255}, {255, 0, 0, 255}, {200, 100, 50, 128}, {255, 255, 255, 0}}};
  const std::vector<std::array<int, 3>> rgb{{255, 255, 255}, {255, 0, 0}, {100, 50, 25}, {0, 0, 0}};
  const std::vector<int> gray{255, 76, 62, 0};  // (77 R + 150 G + 29 B) >> 8
  for (const J_COLOR_SPACE space : {JCS_CMYK, JCS_YCCK}) {
    const std::string jpg = jpeg_of_inks(space, inks);
    const auto image = decode_image(jpg, "inks.jpg");
    ASSERT_EQ(image.sizes(), (std::vector<int64_t>{3, 16, 16})) << "colour space " << space;
    const auto luma = decode_image(jpg, "inks.jpg", 1);
    ASSERT_EQ(luma.sizes(), (std::vector<int64_t>{1, 16, 16}));
    for (int q = 0; q < 4; ++q) {
      const int64_t y = 4 + 8 * (q / 2), x = 4 + 8 * (q % 2);  // middle of the quadrant
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(image[c][y][x].item<int>(), rgb[size_t(q)][size_t(c)], 2)
            << "colour space " << space << ", quadrant " << q << ", channel " << c;
      EXPECT_NEAR(luma[0][y][x].item<int>(), gray[size_t(q)], 2)
          << "colour space " << space << ", quadrant " << q;
    }
  }
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

// Hostile input (issue #13): each refused with a message naming the file and the fault.

/// A PNG chunk: length, type, data, CRC-32 of type and data (PNG spec 5.3).
std::string png_chunk(const std::string& type, const std::string& data) {
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  const std::string body = type + data;
  const auto crc =
      uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size())));
  return be32(uint32_t(data.size())) + body + be32(crc);
}

/// A PNG whose IHDR claims width × height RGB pixels, with one tiny IDAT: a few dozen bytes.
std::string png_claiming(uint32_t width, uint32_t height) {
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  const std::string ihdr = be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) +
         png_chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) +
         png_chunk("IEND", "");
}

/// A baseline JPEG whose SOF0 claims width × height with 3 components, and nothing after it.
std::string jpeg_claiming(uint16_t width, uint16_t height) {
  std::string sof = "\xff\xc0";
  sof += std::string{
      0, 17, 8, char(height >> 8), char(height & 0xff), char(width >> 8), char(width & 0xff), 3};
  for (char id = 1; id <= 3; ++id) sof += std::string{id, 0x11, 0};
  return std::string("\xff\xd8", 2) + sof + std::string("\xff\xd9", 2);
}

std::string read_error(const fs::path& path) {
  try {
    read_image(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no std::runtime_error)";
}

TEST(ImageHostile, ZeroByteAndTruncatedFilesAreRefused) {
  test::TempDir dir;
  spit(dir.path / "empty.png", "");
  EXPECT_THAT(read_error(dir.path / "empty.png"),
              HasSubstr("empty.png: cannot decode image: the file is empty"));
  const std::string png = encode_png(random_image(3, 16, 16));
  for (size_t keep : {size_t(4), size_t(20), png.size() / 2, png.size() - 13}) {
    spit(dir.path / "cut.png", png.substr(0, keep));
    const std::string message = read_error(dir.path / "cut.png");
    EXPECT_THAT(message, HasSubstr("cut.png: cannot decode image: "))
        << "kept " << keep << " of " << png.size() << " bytes";
    EXPECT_NE(message.back(), ' ') << "a reason follows: " << message;
  }
}

TEST(ImageHostile, OtherFormatsThanPngAndJpegAreRefused) {
  test::TempDir dir;
  spit(dir.path / "a.gif", "GIF89a\x01\x00\x01\x00\x00\x00\x00;");
  EXPECT_THAT(read_error(dir.path / "a.gif"), HasSubstr("a.gif: cannot decode image: not a PNG or "
                                                        "JPEG file"));
  spit(dir.path / "a.pgm", "P5 1 1 255\n\x07");
  EXPECT_THAT(read_error(dir.path / "a.pgm"), HasSubstr("not a PNG or JPEG file"));
}

// A JPEG cut anywhere is refused, not decoded grey below the cut: libjpeg's "Premature end of
// JPEG file" is a warning to libjpeg, an error here. So is a missing EOI marker (as stb_image).
TEST(ImageHostile, TruncatedJpegIsRefused) {
  test::TempDir dir;
  std::string jpg;
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
  };
  const auto hwc = random_image(3, 16, 16).permute({1, 2, 0}).contiguous();
  ASSERT_TRUE(stbi_write_jpg_to_func(append, &jpg, 16, 16, 3, hwc.data_ptr(), 90));
  spit(dir.path / "whole.jpg", jpg);
  EXPECT_EQ(read_image(dir.path / "whole.jpg").sizes(), (std::vector<int64_t>{3, 16, 16}));
  for (size_t keep : {size_t(3), size_t(20), jpg.size() / 2, jpg.size() - 2, jpg.size() - 1}) {
    spit(dir.path / "cut.jpg", jpg.substr(0, keep));
    EXPECT_THAT(read_error(dir.path / "cut.jpg"),
                HasSubstr("cut.jpg: cannot decode image: libjpeg: Premature end of JPEG file"))
        << "kept " << keep << " of " << jpg.size() << " bytes";
  }
}

// Corrupt data inside a scan (a bad Huffman code, a lost restart marker) is refused too, and
// libjpeg prints nothing: its warnings and errors all end up in the one exception.
TEST(ImageHostile, CorruptJpegDataIsRefusedSilently) {
  std::string jpg;
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
  };
  const auto hwc = random_image(3, 32, 32).permute({1, 2, 0}).contiguous();
  ASSERT_TRUE(stbi_write_jpg_to_func(append, &jpg, 32, 32, 3, hwc.data_ptr(), 90));
  // The entropy-coded data runs from after the SOS segment to the EOI marker; fill its middle
  // with all-ones, a Huffman code no table of stb_image_write's defines.
  const size_t sos = jpg.find("\xff\xda");
  ASSERT_NE(sos, std::string::npos);
  const size_t data = sos + 2 + (size_t(uint8_t(jpg[sos + 2])) << 8 | uint8_t(jpg[sos + 3]));
  const size_t end = jpg.size() - 2;
  std::string corrupt = jpg;
  for (size_t i = data + (end - data) / 4; i < data + (end - data) / 2; ++i)
    corrupt[i] = (i % 2 == 0) ? '\xff' : '\x00';  // FF 00: a stuffed FF byte, all ones
  testing::internal::CaptureStderr();
  try {
    decode_image(corrupt, "corrupt.jpg");
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("corrupt.jpg: cannot decode image: libjpeg: Corrupt JPEG data"));
  }
  // Bytes between the last scan and EOI (some encoders pad there) are skipped: no pixel is lost.
  std::string padded = jpg;
  padded.insert(end, "\x00\x00\x00");
  EXPECT_EQ(decode_image(padded, "padded.jpg").sizes(), (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// Found by fuzz/image_fuzzer in Debian's stb_image 2.27, which no longer decodes JPEG: a DHT
// segment whose 16 code counts sum past 256 (stbi__build_huffman wrote past its size list),
// an over-subscribed table (values[] read at a negative index) and a progressive file whose
// Huffman tables overflowed it again. libjpeg refuses each, naming the fault.
TEST(ImageHostile, JpegsThatBrokeStbImageAreRefused) {
  test::TempDir dir;
  std::string dht = std::string("\xff\xd8\xff\xc4\x00\x13\x00", 7) + std::string(16, '\xff');
  spit(dir.path / "dht.jpg", dht + "\xff\xd9");
  EXPECT_THAT(read_error(dir.path / "dht.jpg"),
              HasSubstr("dht.jpg: cannot decode image: libjpeg: Bogus Huffman table definition"));
  const std::vector<std::pair<std::string, std::string>> found{
      {"fuzz-dht-oversubscribed.jpg",
       "libjpeg: Inconsistent progression sequence for component 0 coefficient 0"},
      {"fuzz-progressive-huffman-overflow.jpg", "libjpeg: Quantization table 0x01 was not defined"},
  };
  for (const auto& [name, fault] : found) {
    const fs::path path = test::repo_fixture("images/" + name);
    EXPECT_THAT(read_error(path), HasSubstr(path.string() + ": cannot decode image: " + fault));
    for (int channels : {1, 3}) EXPECT_THROW(read_image(path, channels), std::runtime_error);
  }
}

// A 57-byte PNG and a 33-byte JPEG claiming 60000 × 60000 (3.6 Gpx, 10.8 GB as RGB) are refused
// from the header: in a child whose address space may grow by only 64 MiB, the message is the
// pixel limit's, not an out-of-memory failure of the decoder.
TEST(ImageHostile, HeaderClaiming60000x60000IsRefusedBeforeAllocating) {
  test::TempDir dir;
  spit(dir.path / "huge.png", png_claiming(60000, 60000));
  spit(dir.path / "huge.jpg", jpeg_claiming(60000, 60000));
  for (const char* name : {"huge.png", "huge.jpg"}) {
    const fs::path path = dir.path / name;
    const std::string outcome =
        test::run_with_address_space_limit(size_t(64) << 20, [&] { read_image(path); });
    EXPECT_THAT(outcome, HasSubstr(path.string() + ": cannot decode image: header claims "
                                                   "60000x60000 = 3600000000 pixels, over the "
                                                   "limit of 67108864 (kMaxImagePixels)"));
  }
  // The limit is on the header's claim, before any decoding: a real 100 × 100 image under a
  // limit of 9999 pixels is refused the same way.
  const std::string small = encode_png(random_image(1, 100, 100));
  try {
    decode_image(small, "small.png", 0, 9999);
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("small.png: cannot decode image: header claims 100x100"));
  }
  EXPECT_EQ(decode_image(small, "small.png", 0, 10000).sizes(),
            (std::vector<int64_t>{1, 100, 100}));
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
