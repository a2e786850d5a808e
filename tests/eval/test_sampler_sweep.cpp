// The sweep's settings table and its plot; the sampling itself runs in the CLI test.
#include <gtest/gtest.h>

#include "eval/sampler_sweep.h"
#include "samplers/sampler_registry.h"

namespace ddpm {
namespace {

const SamplerConfig kBase = default_sampler_config(SamplerKind::ddim);
const NoiseSchedule kSchedule = make_noise_schedule(ScheduleConfig{});

TEST(SamplerSweep, SettingsAreEveryPairThenDdpm) {
  auto s = ddim_sweep_settings(kBase, {10, 20}, {0.0, 1.0}, true, 1000);
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0].steps, 10);
  EXPECT_EQ(s[1].steps, 20);
  EXPECT_EQ(s[2].eta, 1.0);
  EXPECT_EQ(s[4].kind, SamplerKind::ddpm);
  EXPECT_EQ(network_evaluations(s[4], kSchedule), 1000);
  EXPECT_EQ(sweep_label(s[0]), "ddim");
  EXPECT_EQ(sweep_label(s[2]), "ddim eta=1.0");
  EXPECT_EQ(sweep_label(s[4]), "ddpm variance_type=fixed_small");
  EXPECT_THROW(ddim_sweep_settings(kBase, {0}, {0.0}, false, 1000), std::invalid_argument);
  EXPECT_THROW(ddim_sweep_settings(kBase, {10}, {1.5}, false, 1000), std::invalid_argument);
  EXPECT_THROW(ddim_sweep_settings(kBase, {2000}, {0.0}, false, 1000), std::invalid_argument);
}

TEST(SamplerSweep, PlotHasOneLinePerEtaAndTheDdpmLevel) {
  std::vector<SweepRow> rows;
  for (auto setting : ddim_sweep_settings(kBase, {10, 20, 50}, {0.0, 0.5}, true, 1000)) {
    SweepRow r;
    r.setting = setting;
    r.network_evaluations = network_evaluations(setting, kSchedule);
    r.fd = 100.0 / double(r.network_evaluations);
    rows.push_back(r);
  }
  auto plot = sweep_plot(rows, SweepMetric::fd, "t");
  ASSERT_EQ(plot.series.size(), 3u);
  EXPECT_EQ(plot.series[0].x.size(), 3u);
  EXPECT_EQ(plot.series[2].y[0], 0.1);  // DDPM over 1000 steps, drawn across the steps axis
  EXPECT_EQ(plot.series[2].x.front(), 10);
  EXPECT_EQ(plot.series[2].x.back(), 50);
  auto image = render_plot(plot);
  EXPECT_EQ(image.size(0), 3);
}

}  // namespace
}  // namespace ddpm
