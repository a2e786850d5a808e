// Line plots drawn with Cairo (Debian's libcairo2-dev) on an image surface: anti-aliased strokes,
// real text (DejaVu Sans through fontconfig). Layout: title on top, y label (vertical) and tick
// labels on the left, tick labels and x label below, legend in the top-right corner of the plot
// area.
#include "io/plot.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

namespace ddpm {

namespace {

void set_color(cairo_t* cr, const Rgb& c, double alpha = 1.0) {
  cairo_set_source_rgba(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0, alpha);
}

const Rgb kBlack{0, 0, 0};
const Rgb kAxis{80, 80, 80};
const Rgb kGrid{225, 225, 225};
const Rgb kWhite{255, 255, 255};

/// Text on one Cairo context, in pixels: its advance width, and drawing with the baseline placed
/// so that `top` is the top of the line box.
struct Text {
  cairo_t* cr;
  double ascent = 0, line = 0;

  explicit Text(cairo_t* context, double size) : cr(context) {
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_font_extents_t f;
    cairo_font_extents(cr, &f);
    ascent = f.ascent;
    line = f.ascent + f.descent;
  }
  double width(const std::string& text) const {
    cairo_text_extents_t e;
    cairo_text_extents(cr, text.c_str(), &e);
    return e.x_advance;
  }
  void draw(const std::string& text, double x, double top, const Rgb& color) const {
    set_color(cr, color);
    cairo_move_to(cr, x, top + ascent);
    cairo_show_text(cr, text.c_str());
  }
  /// Bottom to top, centred on (x + line/2, cy).
  void draw_vertical(const std::string& text, double x, double cy, const Rgb& color) const {
    cairo_save(cr);
    cairo_translate(cr, x, cy + width(text) / 2);
    cairo_rotate(cr, -M_PI / 2);
    draw(text, 0, 0, color);
    cairo_restore(cr);
  }
};

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

  // Cairo surface and text of the plot's size; text_scale 2 is a 13-pixel font.
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, int(plot.width), int(plot.height)),
      cairo_surface_destroy);
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw std::runtime_error(
        fmt::format("render_plot: cannot make a {}x{} image: {}", plot.width, plot.height,
                    cairo_status_to_string(cairo_surface_status(surface.get()))));
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> context(cairo_create(surface.get()),
                                                             cairo_destroy);
  cairo_t* cr = context.get();
  set_color(cr, kWhite);
  cairo_paint(cr);
  const double s = double(plot.text_scale);
  const Text text(cr, 6.5 * s);

  // Margins from the text that has to fit.
  const double pad = 4 * s, tick = 5, line = text.line;
  double y_label_width = 0;
  for (const auto& l : y_labels) y_label_width = std::max(y_label_width, text.width(l));
  const double left = pad + (plot.y_label.empty() ? 0 : line + pad) + y_label_width + tick + pad;
  const double top = plot.title.empty() ? 2 * pad : line + 3 * pad;
  const double bottom = tick + pad + line + (plot.x_label.empty() ? pad : pad + line + pad);
  const double right =
      6 * s +
      text.width(tick_label(x_ticks.back(), x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1)) / 2;
  const double x0 = std::round(left), y0 = std::round(top),
               x1 = std::round(double(plot.width) - right),
               y1 = std::round(double(plot.height) - bottom);
  if (x1 - x0 < 50 || y1 - y0 < 50)
    throw std::invalid_argument(
        fmt::format("render_plot: {}x{} pixels leave no room for the plot area at text_scale {}",
                    plot.width, plot.height, plot.text_scale));
  auto px = [&](double x) { return x0 + (x - xr.lo) / (xr.hi - xr.lo) * (x1 - x0); };
  auto py = [&](double y) { return y1 - (y - yr.lo) / (yr.hi - yr.lo) * (y1 - y0); };
  // A crisp one-pixel line between pixel centres.
  auto hairline = [&](double ax, double ay, double bx, double by, const Rgb& color) {
    set_color(cr, color);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, ax, ay);
    cairo_line_to(cr, bx, by);
    cairo_stroke(cr);
  };

  // Grid lines, ticks and their labels.
  for (double value : x_ticks) {
    const double x = std::round(px(value)) + 0.5;
    hairline(x, y0, x, y1, kGrid);
    hairline(x, y1, x, y1 + tick, kAxis);
    const auto label = tick_label(value, x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1);
    text.draw(label, x - text.width(label) / 2, y1 + tick + pad / 2, kBlack);
  }
  for (size_t i = 0; i < y_ticks.size(); ++i) {
    const double y = std::round(py(y_ticks[i])) + 0.5;
    hairline(x0, y, x1, y, kGrid);
    hairline(x0 - tick, y, x0, y, kAxis);
    text.draw(y_labels[i], x0 - tick - pad / 2 - text.width(y_labels[i]), y - line / 2, kBlack);
  }
  // Frame.
  set_color(cr, kAxis);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0);
  cairo_stroke(cr);
  // Title and labels.
  if (!plot.title.empty())
    text.draw(plot.title, (x0 + x1) / 2 - text.width(plot.title) / 2, pad, kBlack);
  if (!plot.x_label.empty())
    text.draw(plot.x_label, (x0 + x1) / 2 - text.width(plot.x_label) / 2,
              double(plot.height) - pad - line, kBlack);
  if (!plot.y_label.empty()) text.draw_vertical(plot.y_label, pad, (y0 + y1) / 2, kBlack);

  // Series, in order (later ones on top), clipped to the plot area; non-finite points break the
  // line, an isolated point is a dot.
  cairo_save(cr);
  cairo_rectangle(cr, x0 + 1, y0 + 1, x1 - x0 - 1, y1 - y0 - 1);
  cairo_clip(cr);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  for (const auto& series : plot.series) {
    set_color(cr, series.color, std::clamp(series.opacity, 0.0, 1.0));
    cairo_set_line_width(cr, series.width);
    const size_t n = series.x.size();
    auto ok = [&](size_t i) {
      return i < n && std::isfinite(series.x[i]) && std::isfinite(series.y[i]);
    };
    auto at = [&](size_t i) {
      return std::pair{px(series.x[i]), py(plot.log_y ? std::log10(series.y[i]) : series.y[i])};
    };
    for (size_t i = 0; i < n; ++i) {
      if (!ok(i)) continue;
      const auto [x, y] = at(i);
      if (i == 0 || !ok(i - 1)) {
        if (!ok(i + 1)) {  // an isolated point
          cairo_new_sub_path(cr);
          cairo_arc(cr, x, y, std::max(series.width / 2, 2.0), 0, 2 * M_PI);
          cairo_fill(cr);
          continue;
        }
        cairo_move_to(cr, x, y);
      } else {
        cairo_line_to(cr, x, y);
      }
    }
    cairo_stroke(cr);  // one path per series: overlapping segments are not darkened twice
  }
  cairo_restore(cr);

  // Legend: a sample stroke and the name per entry, in a white box at the top right.
  std::vector<const PlotSeries*> entries;
  for (const auto& series : plot.series)
    if (series.in_legend) entries.push_back(&series);
  if (!entries.empty()) {
    const double swatch = 12 * s, gap = 3 * s;
    double text_width = 0;
    for (const auto* e : entries) text_width = std::max(text_width, text.width(e->name));
    const double box_w = std::round(gap + swatch + gap + text_width + gap);
    const double row = line + gap;
    const double box_h = std::round(gap + double(entries.size()) * row);
    const double bx1 = x1 - 2 * gap, bx0 = bx1 - box_w, by0 = y0 + 2 * gap;
    set_color(cr, kWhite, 0.85);
    cairo_rectangle(cr, bx0, by0, box_w, box_h);
    cairo_fill(cr);
    set_color(cr, kAxis);
    cairo_rectangle(cr, bx0 + 0.5, by0 + 0.5, box_w, box_h);
    cairo_stroke(cr);
    for (size_t i = 0; i < entries.size(); ++i) {
      const double ty = by0 + gap + double(i) * row;
      const double mid = ty + line / 2;
      set_color(cr, entries[i]->color);
      cairo_set_line_width(cr, 2 * s);
      cairo_move_to(cr, bx0 + gap, mid);
      cairo_line_to(cr, bx0 + gap + swatch, mid);
      cairo_stroke(cr);
      text.draw(entries[i]->name, bx0 + 2 * gap + swatch, ty, kBlack);
    }
  }

  // xRGB words (native byte order) → uint8 [3, height, width].
  cairo_surface_flush(surface.get());
  const unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  auto out = torch::empty({3, plot.height, plot.width}, torch::kUInt8);
  auto* o = out.data_ptr<uint8_t>();
  const int64_t plane = plot.width * plot.height;
  for (int64_t y = 0; y < plot.height; ++y) {
    const auto* row = reinterpret_cast<const uint32_t*>(data + y * stride);
    for (int64_t x = 0; x < plot.width; ++x) {
      const uint32_t v = row[x];
      o[y * plot.width + x] = uint8_t(v >> 16);
      o[plane + y * plot.width + x] = uint8_t(v >> 8);
      o[2 * plane + y * plot.width + x] = uint8_t(v);
    }
  }
  return out;
}

}  // namespace ddpm
