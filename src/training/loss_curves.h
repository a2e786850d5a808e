// Loss curves of training runs as a picture: each run's log.csv, raw (faint) and smoothed with
// TensorBoard's debiased EMA (training/smoothing.h), drawn with io/plot on one set of axes.
//
//   auto curve = read_loss_curve("runs/fmnist", "fmnist", 0.99);
//   write_png("runs/fmnist/loss.png", render_loss_plot({curve}, {}));
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "io/plot.h"

namespace ddpm {

struct LossCurve {
  std::string name;              ///< legend text (a run's folder name by default)
  std::vector<double> steps;     ///< optimizer steps of the log rows
  std::vector<double> loss;      ///< the logged loss (mean over the log_every window)
  std::vector<double> smoothed;  ///< tensorboard_smooth(loss, smoothing)
};

/// RUN/log.csv (or a log.csv given directly) with `smoothing` ∈ [0, 1). Throws
/// std::runtime_error naming the file when it is missing, is not a training log, or has no rows.
LossCurve read_loss_curve(const std::filesystem::path& run_or_log, const std::string& name,
                          double smoothing);

struct LossPlotOptions {
  std::string title = "training loss";
  /// Logarithmic y axis; off by default like TensorBoard.
  bool log_y = false;
  int64_t width = 960;
  int64_t height = 540;
};

/// The curves on one plot, run i in palette colour i: the raw loss at 25 % opacity under the
/// smoothed one, as TensorBoard draws them. The description (a page draws it as a chart:
/// web/report_page.h chart_of_plot) ...
Plot loss_plot(const std::vector<LossCurve>& curves, const LossPlotOptions& options);

/// ... and as a picture, uint8 [3, height, width].
torch::Tensor render_loss_plot(const std::vector<LossCurve>& curves,
                               const LossPlotOptions& options);

/// CSV of the curves, "run,step,loss,smoothed" rows: the numbers behind the picture.
std::string loss_curves_csv(const std::vector<LossCurve>& curves);

}  // namespace ddpm
