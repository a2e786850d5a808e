// Text as pixel rectangles, from stb_easy_font (Debian's libstb-dev): a 5×7 bitmap font whose
// glyphs are axis-aligned quads in a 1-unit grid, each drawn as a scale×scale-pixel block. Used
// by the plots (io/plot.h) and the row labels of grids (io/grid.h).
//
//   for (const auto& r : text_rectangles("Sneaker", 2)) fill(x + r.x0, y + r.y0, x + r.x1, y +
//   r.y1);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ddpm {

/// A filled rectangle [x0, x1) × [y0, y1) in pixels, relative to the text's top-left corner.
struct TextRectangle {
  int64_t x0, y0, x1, y1;
};

/// The rectangles that draw `text` left to right at `scale` pixels per font unit.
std::vector<TextRectangle> text_rectangles(const std::string& text, int64_t scale);

/// Width and height in pixels of `text` at `scale` (the glyphs are 7 units tall, +2 for
/// descenders).
struct TextSize {
  int64_t width, height;
};
TextSize measure_text(const std::string& text, int64_t scale);

}  // namespace ddpm
