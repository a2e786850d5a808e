#include "io/text.h"

#include <algorithm>
#include <cmath>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace ddpm {

TextSize measure_text(const std::string& text, int64_t scale) {
  std::vector<char> s(text.begin(), text.end());
  s.push_back('\0');
  // stb_easy_font_height counts 12 units per line; the glyphs themselves are 7 tall (+2 for
  // descenders), which is what occupies pixels.
  return {int64_t(stb_easy_font_width(s.data())) * scale, 9 * scale};
}

std::vector<TextRectangle> text_rectangles(const std::string& text, int64_t scale) {
  std::vector<char> s(text.begin(), text.end());
  s.push_back('\0');
  std::vector<char> buffer(std::max<size_t>(1, text.size()) * 300 + 1024);
  const int quads = stb_easy_font_print(0, 0, s.data(), nullptr, buffer.data(), int(buffer.size()));
  const auto* v = reinterpret_cast<const float*>(buffer.data());  // 4 vertices × (x, y, z, rgba)
  std::vector<TextRectangle> out;
  out.reserve(size_t(quads));
  for (int q = 0; q < quads; ++q) {
    const float* v0 = v + q * 16;
    const float* v2 = v + q * 16 + 8;
    out.push_back(
        {std::lround(std::min(v0[0], v2[0]) * scale), std::lround(std::min(v0[1], v2[1]) * scale),
         std::lround(std::max(v0[0], v2[0]) * scale), std::lround(std::max(v0[1], v2[1]) * scale)});
  }
  return out;
}

}  // namespace ddpm
