// tEXt chunks in PNG files (io/png_text.h): written after IHDR, read back, the image unchanged,
// and hostile bytes refused with the file named.
#include <gmock/gmock.h>

#include "core/version.h"
#include "io/image.h"
#include "io/png_text.h"
#include "test_util.h"

namespace ddpm {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(PngText, ChunksRoundTripAndTheImageStaysTheSame) {
  const auto image = torch::randint(0, 256, {3, 5, 7}, torch::kUInt8);
  const PngText text{{"parameters", R"({"seed": 3, "path": "caf\u00e9"})"}, {"Comment", "two"}};
  const auto png = encode_png(image, text);
  EXPECT_EQ(read_png_text(png, "x.png"), text);
  EXPECT_TRUE(torch::equal(decode_image(png, "x.png"), image));
  // Same request, same bytes.
  EXPECT_EQ(png, encode_png(image, text));
  EXPECT_TRUE(read_png_text(encode_png(image), "plain.png").empty());
}

TEST(PngText, ParametersCarryTheVersionInAscii) {
  const auto text = png_parameters({{"command", "sample"}, {"model", "runs/caf\u00e9"}});
  ASSERT_EQ(text.size(), 1u);
  EXPECT_EQ(text[0].first, "parameters");
  for (char c : text[0].second) EXPECT_LT(static_cast<unsigned char>(c), 128u);
  const auto j = nlohmann::json::parse(text[0].second);
  EXPECT_EQ(j.at("ddpm"), kVersion);
  EXPECT_EQ(j.at("model"), "runs/caf\u00e9");
}

TEST(PngText, HostileBytesAreRefusedNamingTheFile) {
  const auto png = encode_png(torch::zeros({1, 2, 2}, torch::kUInt8), {{"k", "v"}});
  EXPECT_THAT(error_of([&] { read_png_text("GIF89a", "a.gif"); }),
              HasSubstr("a.gif: not a PNG file"));
  EXPECT_THAT(error_of([&] { read_png_text(png.substr(0, png.size() - 20), "cut.png"); }),
              HasSubstr("cut.png"));
  std::string huge = png;  // the tEXt chunk (right after IHDR, byte 33) claims 2^32 - 1 bytes
  huge[33] = huge[34] = huge[35] = huge[36] = char(0xff);
  EXPECT_THAT(error_of([&] { read_png_text(huge, "huge.png"); }),
              HasSubstr("past the end of the file"));
  EXPECT_THAT(error_of([&] {
                encode_png(torch::zeros({1, 2, 2}, torch::kUInt8), {{"", "v"}});
              }),
              HasSubstr("keyword must be 1-79 bytes"));
}

}  // namespace
}  // namespace ddpm
