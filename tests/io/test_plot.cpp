// render_plot (Cairo): size, determinism, where the series' colours land, legend text, log axes,
// and the errors; nice_ticks values.
#include "io/plot.h"

#include <gtest/gtest.h>

namespace ddpm {
namespace {

/// Pixels of exactly `color` in an RGB uint8 [3, H, W] image.
int64_t count_color(const torch::Tensor& image, const Rgb& c) {
  auto m = (image[0] == c[0]) & (image[1] == c[1]) & (image[2] == c[2]);
  return m.sum().item<int64_t>();
}

/// Grey pixels darker than mid-grey: text and its anti-aliased edges.
int64_t count_dark_grey(const torch::Tensor& image) {
  auto grey = (image[0] == image[1]) & (image[1] == image[2]) & (image[0] < 128);
  return grey.sum().item<int64_t>();
}

Plot two_lines() {
  Plot p;
  p.title = "loss";
  p.x_label = "step";
  p.y_label = "loss";
  std::vector<double> x, up, down;
  for (int i = 0; i <= 100; ++i) {
    x.push_back(i * 10);
    up.push_back(0.1 + i * 0.01);
    down.push_back(1.1 - i * 0.01);
  }
  p.series.push_back({"rising", x, up, {255, 0, 0}, 1.0, 3.0, true});
  p.series.push_back({"falling", x, down, {0, 0, 255}, 1.0, 3.0, true});
  return p;
}

TEST(Plot, HasTheRequestedSizeAndIsDeterministic) {
  auto p = two_lines();
  p.width = 640;
  p.height = 400;
  auto a = render_plot(p), b = render_plot(p);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{3, 400, 640}));
  EXPECT_EQ(a.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(a, b));
}

TEST(Plot, DrawsEachSeriesWhereItsDataIs) {
  auto image = render_plot(two_lines());
  // Solid strokes leave pure-colour pixels (plus the legend swatches).
  EXPECT_GT(count_color(image, {255, 0, 0}), 300);
  EXPECT_GT(count_color(image, {0, 0, 255}), 300);
  // The rising line is red in the top-right and the falling one blue in the top-left of the plot
  // area: compare the left and right thirds of the image's upper half.
  auto upper = image.slice(1, 0, image.size(1) / 2);
  auto red = (upper[0] == 255) & (upper[1] == 0) & (upper[2] == 0);
  auto blue = (upper[0] == 0) & (upper[1] == 0) & (upper[2] == 255);
  const int64_t w = image.size(2);
  EXPECT_GT(red.slice(1, 2 * w / 3, w).sum().item<int64_t>(),
            red.slice(1, 0, w / 3).sum().item<int64_t>());
  EXPECT_GT(blue.slice(1, 0, w / 3).sum().item<int64_t>(),
            blue.slice(1, 2 * w / 3, w).sum().item<int64_t>());
  // Text (title, labels, ticks, legend) is black, anti-aliased: dark grey pixels, and more of
  // them for a longer title.
  EXPECT_GT(count_dark_grey(image), 500);
  auto longer = two_lines();
  longer.title = "training loss of every variant, raw and smoothed";
  EXPECT_GT(count_dark_grey(render_plot(longer)), count_dark_grey(image) + 300);
}

TEST(Plot, FaintSeriesBlendAndLogAxesWork) {
  auto p = two_lines();
  p.series[0].opacity = 0.25;
  p.series[0].in_legend = false;
  auto image = render_plot(p);
  EXPECT_EQ(count_color(image, {255, 0, 0}), 0) << "a 25% stroke never reaches the pure colour";
  p.log_y = true;
  EXPECT_EQ(render_plot(p).size(1), p.height);
  p.series[1].y[3] = 0;
  EXPECT_THROW(render_plot(p), std::invalid_argument);
}

TEST(Plot, SinglePointsNonFiniteValuesAndErrors) {
  Plot p;
  p.series.push_back({"one", {5}, {0.3}, {255, 0, 0}, 1.0, 2.0, true});
  EXPECT_GT(count_color(render_plot(p), {255, 0, 0}), 10);  // a dot, and the legend swatch
  p.series[0] = {"gap", {0, 1, 2, 3}, {1, NAN, 2, 3}, {255, 0, 0}, 1.0, 2.0, true};
  EXPECT_NO_THROW(render_plot(p));
  p.series[0] = {"none", {0, 1}, {NAN, INFINITY}, {255, 0, 0}, 1.0, 2.0, true};
  EXPECT_THROW(render_plot(p), std::invalid_argument);
  p.series[0] = {"ragged", {0, 1}, {1}, {255, 0, 0}, 1.0, 2.0, true};
  EXPECT_THROW(render_plot(p), std::invalid_argument);
  p.series[0] = {"ok", {0, 1}, {1, 2}, {255, 0, 0}, 1.0, 2.0, true};
  p.width = 100;
  EXPECT_THROW(render_plot(p), std::invalid_argument);
}

TEST(Plot, NiceTicksAreRoundNumbersInsideTheRange) {
  auto unit = nice_ticks(0, 1, 5);
  ASSERT_EQ(unit.size(), 6u);
  for (size_t i = 0; i < unit.size(); ++i) EXPECT_NEAR(unit[i], 0.2 * double(i), 1e-12);
  auto t = nice_ticks(0.013, 0.087, 6);
  ASSERT_GE(t.size(), 3u);
  for (double v : t) {
    EXPECT_GE(v, 0.013);
    EXPECT_LE(v, 0.087);
  }
  // 0.074/6 = 0.0123 per tick: the smallest 1, 2 or 5 × 10^k at least that is 0.02.
  EXPECT_NEAR(t[1] - t[0], 0.02, 1e-12);
  EXPECT_LE(t.size(), 6u);
  // 20000/8 = 2500 per tick is not 1, 2 or 5 × 10^k: the next larger, 5000.
  EXPECT_EQ(nice_ticks(0, 20000, 8), (std::vector<double>{0, 5000, 10000, 15000, 20000}));
  EXPECT_THROW(nice_ticks(1, 1), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm
