// libFuzzer target: decode_image (src/io/image.cpp, stb_image compiled here with the sanitizers)
// on arbitrary bytes, asking for the stored channels, gray or RGB by the input's length. The
// pixel limit is 2^16 instead of kMaxImagePixels so each input decodes quickly (the check before
// allocation is the same code). Accepted input gives uint8 [C, H, W]
// with C = 1 or 3 and H·W within the limit. The same bytes go through read_png_text (the tEXt
// chunks `ddpm info` and `sample --from-png` read): an error or chunks that survive a rewrite.
#include <array>

#include "fuzz_util.h"
#include "io/image.h"
#include "io/png_text.h"

using namespace ddpm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kLimit = int64_t(1) << 16;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const int channels = std::array<int, 3>{0, 1, 3}[size % 3];  // as stored, gray, RGB
  fuzz::expect_clean([&] {
    const auto image = decode_image(bytes, "fuzz.png", channels, kLimit);
    fuzz::check(image.scalar_type() == torch::kUInt8 && image.dim() == 3 &&
                    (image.size(0) == 1 || image.size(0) == 3) &&
                    (channels == 0 || image.size(0) == channels),
                "uint8 [C, H, W], C = 1 or 3 as asked");
    fuzz::check(image.size(1) >= 1 && image.size(2) >= 1 && image.size(1) * image.size(2) <= kLimit,
                "H·W within the pixel limit");
  });
  fuzz::expect_clean([&] {
    const auto text = read_png_text(bytes, "fuzz.png");
    for (const auto& [keyword, value] : text)
      fuzz::check(
          !keyword.empty() && keyword.size() <= 79 && keyword.find('\0') == std::string::npos,
          "a tEXt keyword of 1-79 bytes without NUL");
  });
  return 0;
}
