// Line plots rasterised to an RGB image (for PNG), with axes, ticks, grid lines, a legend, a
// title and axis labels: the loss curves of `ddpm plot` and `ddpm study`, the sweep and
// conditional-evaluation figures. Drawn by Cairo (Debian's libcairo2-dev): anti-aliased strokes
// and real text (DejaVu Sans, fonts-dejavu-core). The web pages draw the same descriptions with
// Chart.js (web/report_page.h: chart_of_plot).
//
//   Plot p;
//   p.title = "loss";  p.x_label = "step";  p.y_label = "loss";
//   p.series.push_back({"bk (raw)", steps, loss, {31, 119, 180}, 0.25, 1.0, false});
//   p.series.push_back({"bk", steps, smoothed, {31, 119, 180}, 1.0, 1.5, true});
//   write_png("loss.png", render_plot(p));   // uint8 [3, height, width]
#pragma once
#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

namespace ddpm {

using Rgb = std::array<uint8_t, 3>;

struct PlotSeries {
  std::string name;       ///< legend text
  std::vector<double> x;  ///< same length as y; non-finite points break the line
  std::vector<double> y;
  Rgb color{31, 119, 180};
  double opacity = 1.0;  ///< 0..1; TensorBoard draws the raw curve faint behind the smoothed one
  double width = 1.5;    ///< stroke width in pixels
  bool in_legend = true;
};

struct Plot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<PlotSeries> series;
  /// Image size in pixels; 960×540 holds 4 legend entries and readable 2× text.
  int64_t width = 960;
  int64_t height = 540;
  /// Logarithmic y axis (every y must then be > 0): losses fall over decades.
  bool log_y = false;
  /// Text size: a 6.5 × text_scale pixel font; 2 reads well at 960 px.
  int64_t text_scale = 2;
};

/// The plot as uint8 [3, height, width]. The axes span every finite point of every series.
/// Throws std::invalid_argument when there is nothing finite to draw, a series' x and y differ in
/// length, the size is too small for the frame (< 200×150), or log_y meets a y ≤ 0.
torch::Tensor render_plot(const Plot& plot);

/// Tick values for [lo, hi], all inside: multiples of the smallest step of 1, 2 or 5 × 10^k that
/// is at least (hi − lo)/target, so at most target + 1 of them.
std::vector<double> nice_ticks(double lo, double hi, int64_t target = 6);

/// Tab10 (matplotlib's default cycle), entry i modulo 10.
Rgb palette_color(size_t i);

}  // namespace ddpm
