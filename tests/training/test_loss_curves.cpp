// Loss curves from a log.csv: reading, smoothing, the plot's size and the CSV behind it.
#include "training/loss_curves.h"

#include <fstream>

#include "test_util.h"
#include "training/smoothing.h"
#include "training/training_log.h"

namespace ddpm {
namespace {

TEST(LossCurves, ReadsARunsLogAndPlotsIt) {
  test::TempDir dir;
  {
    TrainingLog log(dir.path / "log.csv", 0);
    for (int s = 1; s <= 50; ++s) log.append(s, 1.0 / s, 1e-3, 1.0, 100, s * 0.1);
  }
  auto curve = read_loss_curve(dir.path, "run", 0.9);
  ASSERT_EQ(curve.steps.size(), 50u);
  EXPECT_EQ(curve.steps.front(), 1);
  EXPECT_DOUBLE_EQ(curve.loss[1], 0.5);
  EXPECT_EQ(curve.smoothed, tensorboard_smooth(curve.loss, 0.9));
  LossPlotOptions options;
  options.width = 500;
  options.height = 300;
  auto a = render_loss_plot({curve, curve}, options);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{3, 300, 500}));
  options.log_y = true;
  EXPECT_TRUE(render_loss_plot({curve}, options).defined());
  auto csv = loss_curves_csv({curve});
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "run,step,loss,smoothed");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 51);
}

TEST(LossCurves, MissingOrEmptyLogsAreErrorsNamingTheFile) {
  test::TempDir dir;
  try {
    read_loss_curve(dir.path, "x", 0.99);
    FAIL() << "no log.csv";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("log.csv"), std::string::npos) << e.what();
  }
  { TrainingLog log(dir.path / "log.csv", 0); }
  EXPECT_THROW(read_loss_curve(dir.path, "x", 0.99), std::runtime_error);
}

}  // namespace
}  // namespace ddpm
