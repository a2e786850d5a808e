// Line plots on a float RGB canvas. Layout: title on top, y label (vertical) and tick labels on
// the left, tick labels and x label below, legend in the top-right corner of the plot area.
#include "io/plot.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "io/text.h"

namespace ddpm {

namespace {

struct Canvas {
  int64_t width, height;
  std::vector<float> rgb;  // [height][width][3] in [0, 1]

  Canvas(int64_t w, int64_t h) : width(w), height(h), rgb(size_t(w * h * 3), 1.0f) {}

  /// Blends `color` over pixel (x, y) with weight a ∈ [0, 1].
  void blend(int64_t x, int64_t y, const Rgb& color, double a) {
    if (x < 0 || y < 0 || x >= width || y >= height || a <= 0) return;
    a = std::min(a, 1.0);
    float* p = &rgb[size_t((y * width + x) * 3)];
    for (int c = 0; c < 3; ++c) p[c] = float(p[c] * (1 - a) + color[c] / 255.0 * a);
  }

  void fill_rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1, const Rgb& color, double a = 1) {
    for (int64_t y = std::max<int64_t>(y0, 0); y < std::min(y1, height); ++y)
      for (int64_t x = std::max<int64_t>(x0, 0); x < std::min(x1, width); ++x)
        blend(x, y, color, a);
  }

  torch::Tensor to_uint8() const {
    auto out = torch::empty({3, height, width}, torch::kUInt8);
    auto* o = out.data_ptr<uint8_t>();
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < width * height; ++i)
        o[c * width * height + i] =
            uint8_t(std::lround(std::clamp(rgb[size_t(i * 3 + c)], 0.0f, 1.0f) * 255.0f));
    return out;
  }
};

const Rgb kBlack{0, 0, 0};
const Rgb kAxis{80, 80, 80};
const Rgb kGrid{225, 225, 225};
const Rgb kWhite{255, 255, 255};

// Text runs left to right from (x, y), its top-left corner, or bottom to top from (x, y) as its
// bottom-left corner when `vertical` (io/text.h).
void draw_text(Canvas& canvas, const std::string& text, int64_t x, int64_t y, int64_t scale,
               const Rgb& color, bool vertical = false) {
  for (const auto& r : text_rectangles(text, scale)) {
    if (!vertical)
      canvas.fill_rect(x + r.x0, y + r.y0, x + r.x1, y + r.y1, color);
    else  // rotated 90° counter-clockwise: text space (u, w) → canvas (x + w, y − u)
      canvas.fill_rect(x + r.y0, y - r.x1, x + r.y1, y - r.x0, color);
  }
}

/// Anti-aliased strokes of one series: coverage max-combined over segments, then one blend, so
/// that joints and overlapping segments are not darkened twice.
void draw_polyline(Canvas& canvas, const std::vector<std::pair<double, double>>& points,
                   const std::vector<bool>& breaks, const Rgb& color, double opacity, double width,
                   int64_t clip_x0, int64_t clip_y0, int64_t clip_x1, int64_t clip_y1) {
  std::vector<float> coverage(size_t(canvas.width * canvas.height), 0.0f);
  const double half = width / 2;
  auto stamp_segment = [&](double ax, double ay, double bx, double by, double radius) {
    const int64_t x0 =
        std::max<int64_t>(clip_x0, int64_t(std::floor(std::min(ax, bx) - radius - 1)));
    const int64_t x1 =
        std::min<int64_t>(clip_x1, int64_t(std::ceil(std::max(ax, bx) + radius + 1)));
    const int64_t y0 =
        std::max<int64_t>(clip_y0, int64_t(std::floor(std::min(ay, by) - radius - 1)));
    const int64_t y1 =
        std::min<int64_t>(clip_y1, int64_t(std::ceil(std::max(ay, by) + radius + 1)));
    const double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) {
        const double px = x + 0.5, py = y + 0.5;  // pixel centre
        double s = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0.0;
        s = std::clamp(s, 0.0, 1.0);
        const double d = std::hypot(px - (ax + s * dx), py - (ay + s * dy));
        const double c = std::clamp(radius + 0.5 - d, 0.0, 1.0);
        float& cell = coverage[size_t(y * canvas.width + x)];
        cell = std::max(cell, float(c));
      }
  };
  for (size_t i = 0; i < points.size(); ++i) {
    if (breaks[i]) continue;
    const bool prev = i > 0 && !breaks[i - 1];
    const bool next = i + 1 < points.size() && !breaks[i + 1];
    if (next)
      stamp_segment(points[i].first, points[i].second, points[i + 1].first, points[i + 1].second,
                    half);
    else if (!prev)  // an isolated point: a dot
      stamp_segment(points[i].first, points[i].second, points[i].first, points[i].second,
                    std::max(half, 2.0));
  }
  for (int64_t y = clip_y0; y < clip_y1; ++y)
    for (int64_t x = clip_x0; x < clip_x1; ++x) {
      const float c = coverage[size_t(y * canvas.width + x)];
      if (c > 0) canvas.blend(x, y, color, opacity * c);
    }
}

std::string tick_label(double v, double step) {
  if (v == 0) return "0";
  const double magnitude = std::max(std::abs(v), std::abs(step));
  if (std::abs(step) >= 1e-3 && magnitude < 1e6) {
    const int decimals = std::max(0, int(-std::floor(std::log10(std::abs(step)) + 1e-9)));
    return fmt::format("{:.{}f}", v, decimals);
  }
  return fmt::format("{:.3g}", v);
}

struct Range {
  double lo, hi;
};

}  // namespace

Rgb palette_color(size_t i) {
  static const Rgb tab10[10] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                {188, 189, 34},  {23, 190, 207}};
  return tab10[i % 10];
}

std::vector<double> nice_ticks(double lo, double hi, int64_t target) {
  if (!(std::isfinite(lo) && std::isfinite(hi)) || hi <= lo || target < 1)
    throw std::invalid_argument(
        fmt::format("nice_ticks: expected finite lo < hi and target >= 1, got [{}, {}] and {}", lo,
                    hi, target));
  const double raw = (hi - lo) / double(target);
  const double base = std::pow(10.0, std::floor(std::log10(raw)));
  double step = base;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * base;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  const auto first = int64_t(std::ceil(lo / step - 1e-9)),
             last = int64_t(std::floor(hi / step + 1e-9));
  for (int64_t i = first; i <= last; ++i) ticks.push_back(double(i) * step);
  return ticks;
}

torch::Tensor render_plot(const Plot& plot) {
  if (plot.width < 200 || plot.height < 150)
    throw std::invalid_argument(
        fmt::format("render_plot: the image must be at least 200x150 pixels, got {}x{}", plot.width,
                    plot.height));
  if (plot.text_scale < 1) throw std::invalid_argument("render_plot: text_scale must be >= 1");
  // Data ranges over every finite point; y in log10 when log_y.
  Range xr{INFINITY, -INFINITY}, yr{INFINITY, -INFINITY};
  for (const auto& s : plot.series) {
    if (s.x.size() != s.y.size())
      throw std::invalid_argument(fmt::format("render_plot: series '{}' has {} x but {} y values",
                                              s.name, s.x.size(), s.y.size()));
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if (plot.log_y && s.y[i] <= 0)
        throw std::invalid_argument(fmt::format(
            "render_plot: a logarithmic y axis needs y > 0, but series '{}' has y = {} at x = {}",
            s.name, s.y[i], s.x[i]));
      const double y = plot.log_y ? std::log10(s.y[i]) : s.y[i];
      xr = {std::min(xr.lo, s.x[i]), std::max(xr.hi, s.x[i])};
      yr = {std::min(yr.lo, y), std::max(yr.hi, y)};
    }
  }
  if (!(xr.lo <= xr.hi))
    throw std::invalid_argument("render_plot: no finite point to draw in any series");
  if (xr.hi == xr.lo) xr = {xr.lo - 1, xr.hi + 1};
  if (yr.hi == yr.lo) {
    const double pad = plot.log_y ? 0.5 : std::max(std::abs(yr.lo) * 0.1, 1e-3);
    yr = {yr.lo - pad, yr.hi + pad};
  } else {
    const double pad = (yr.hi - yr.lo) * 0.05;
    yr = {yr.lo - pad, yr.hi + pad};
  }

  // Ticks (values in data units; positions in axis units, log10 for a log axis).
  std::vector<double> x_ticks = nice_ticks(xr.lo, xr.hi, 8);
  std::vector<double> y_ticks;
  std::vector<std::string> y_labels;
  if (plot.log_y) {
    std::vector<double> decades;
    for (auto k = int64_t(std::ceil(yr.lo)); k <= int64_t(std::floor(yr.hi)); ++k)
      decades.push_back(double(k));
    std::vector<double> mantissas{1.0};
    if (decades.size() < 3) mantissas = {1.0, 2.0, 5.0};
    for (auto k = int64_t(std::floor(yr.lo)); k <= int64_t(std::ceil(yr.hi)); ++k)
      for (double m : mantissas) {
        const double p = std::log10(m) + double(k);
        if (p >= yr.lo && p <= yr.hi) {
          y_ticks.push_back(p);
          y_labels.push_back(fmt::format("{:g}", m * std::pow(10.0, double(k))));
        }
      }
    if (y_ticks.size() < 2) {  // less than a factor of 2: linear ticks on the log axis
      y_ticks.clear();
      y_labels.clear();
      const auto values = nice_ticks(std::pow(10.0, yr.lo), std::pow(10.0, yr.hi), 5);
      for (double v : values)
        if (v > 0) {
          y_ticks.push_back(std::log10(v));
          y_labels.push_back(tick_label(v, values.size() > 1 ? values[1] - values[0] : v));
        }
    }
  } else {
    y_ticks = nice_ticks(yr.lo, yr.hi, 6);
    for (double v : y_ticks)
      y_labels.push_back(tick_label(v, y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : v));
  }

  // Margins from the text that has to fit.
  const int64_t s = plot.text_scale, pad = 4 * s, tick = 5;
  const int64_t line = measure_text("Ag", s).height;
  int64_t y_label_width = 0;
  for (const auto& l : y_labels) y_label_width = std::max(y_label_width, measure_text(l, s).width);
  const int64_t left = pad + (plot.y_label.empty() ? 0 : line + pad) + y_label_width + tick + pad;
  const int64_t top = plot.title.empty() ? 2 * pad : line + 3 * pad;
  const int64_t bottom = tick + pad + line + (plot.x_label.empty() ? pad : pad + line + pad);
  const int64_t right =
      6 * s +
      measure_text(tick_label(x_ticks.back(), x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1), s)
              .width /
          2;
  const int64_t x0 = left, y0 = top, x1 = plot.width - right, y1 = plot.height - bottom;
  if (x1 - x0 < 50 || y1 - y0 < 50)
    throw std::invalid_argument(
        fmt::format("render_plot: {}x{} pixels leave no room for the plot area at text_scale {}",
                    plot.width, plot.height, plot.text_scale));
  auto px = [&](double x) { return x0 + (x - xr.lo) / (xr.hi - xr.lo) * double(x1 - x0); };
  auto py = [&](double y) { return y1 - (y - yr.lo) / (yr.hi - yr.lo) * double(y1 - y0); };

  Canvas canvas(plot.width, plot.height);
  // Grid lines and ticks.
  for (size_t i = 0; i < x_ticks.size(); ++i) {
    const auto x = int64_t(std::lround(px(x_ticks[i])));
    canvas.fill_rect(x, y0, x + 1, y1, kGrid);
    canvas.fill_rect(x, y1, x + 1, y1 + tick, kAxis);
    const auto label = tick_label(x_ticks[i], x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1);
    draw_text(canvas, label, x - measure_text(label, s).width / 2, y1 + tick + pad / 2, s, kBlack);
  }
  for (size_t i = 0; i < y_ticks.size(); ++i) {
    const auto y = int64_t(std::lround(py(y_ticks[i])));
    canvas.fill_rect(x0, y, x1, y + 1, kGrid);
    canvas.fill_rect(x0 - tick, y, x0, y + 1, kAxis);
    draw_text(canvas, y_labels[i], x0 - tick - pad / 2 - measure_text(y_labels[i], s).width,
              y - line / 2 + s, s, kBlack);
  }
  // Frame.
  canvas.fill_rect(x0, y0, x1, y0 + 1, kAxis);
  canvas.fill_rect(x0, y1, x1 + 1, y1 + 1, kAxis);
  canvas.fill_rect(x0, y0, x0 + 1, y1, kAxis);
  canvas.fill_rect(x1, y0, x1 + 1, y1, kAxis);
  // Title and labels.
  if (!plot.title.empty())
    draw_text(canvas, plot.title, (x0 + x1) / 2 - measure_text(plot.title, s).width / 2, pad, s,
              kBlack);
  if (!plot.x_label.empty())
    draw_text(canvas, plot.x_label, (x0 + x1) / 2 - measure_text(plot.x_label, s).width / 2,
              plot.height - pad - line, s, kBlack);
  if (!plot.y_label.empty())
    draw_text(canvas, plot.y_label, pad, (y0 + y1) / 2 + measure_text(plot.y_label, s).width / 2, s,
              kBlack, /*vertical=*/true);

  // Series, in order (later ones on top).
  for (const auto& series : plot.series) {
    std::vector<std::pair<double, double>> points;
    std::vector<bool> breaks;
    for (size_t i = 0; i < series.x.size(); ++i) {
      const bool ok = std::isfinite(series.x[i]) && std::isfinite(series.y[i]);
      const double y = ok ? (plot.log_y ? std::log10(series.y[i]) : series.y[i]) : 0.0;
      points.emplace_back(ok ? px(series.x[i]) : 0.0, ok ? py(y) : 0.0);
      breaks.push_back(!ok);
    }
    draw_polyline(canvas, points, breaks, series.color, std::clamp(series.opacity, 0.0, 1.0),
                  series.width, x0 + 1, y0 + 1, x1, y1);
  }

  // Legend: a sample stroke and the name per entry, in a white box at the top right.
  std::vector<const PlotSeries*> entries;
  for (const auto& series : plot.series)
    if (series.in_legend) entries.push_back(&series);
  if (!entries.empty()) {
    const int64_t swatch = 12 * s, gap = 3 * s;
    int64_t text_width = 0;
    for (const auto* e : entries) text_width = std::max(text_width, measure_text(e->name, s).width);
    const int64_t box_w = gap + swatch + gap + text_width + gap;
    const int64_t row = line + gap;
    const int64_t box_h = gap + int64_t(entries.size()) * row;
    const int64_t bx1 = x1 - 2 * gap, bx0 = bx1 - box_w, by0 = y0 + 2 * gap, by1 = by0 + box_h;
    canvas.fill_rect(bx0, by0, bx1, by1, kWhite, 0.85);
    canvas.fill_rect(bx0, by0, bx1, by0 + 1, kAxis);
    canvas.fill_rect(bx0, by1, bx1, by1 + 1, kAxis);
    canvas.fill_rect(bx0, by0, bx0 + 1, by1, kAxis);
    canvas.fill_rect(bx1, by0, bx1 + 1, by1 + 1, kAxis);
    for (size_t i = 0; i < entries.size(); ++i) {
      const int64_t ty = by0 + gap + int64_t(i) * row;
      const int64_t mid = ty + line / 2 - s;
      canvas.fill_rect(bx0 + gap, mid - s, bx0 + gap + swatch, mid + s, entries[i]->color);
      draw_text(canvas, entries[i]->name, bx0 + 2 * gap + swatch, ty, s, kBlack);
    }
  }
  return canvas.to_uint8();
}

}  // namespace ddpm
