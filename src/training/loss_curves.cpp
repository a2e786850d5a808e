#include "training/loss_curves.h"

#include <fmt/format.h>

#include "io/plot.h"
#include "training/smoothing.h"
#include "training/training_log.h"

namespace ddpm {

namespace fs = std::filesystem;

LossCurve read_loss_curve(const fs::path& run_or_log, const std::string& name, double smoothing) {
  const fs::path log = fs::is_directory(run_or_log) ? run_or_log / "log.csv" : run_or_log;
  if (!fs::is_regular_file(log))
    throw std::runtime_error(log.string() +
                             ": no training log (expected a run directory with "
                             "log.csv, as ddpm train writes)");
  LossCurve curve;
  curve.name = name;
  for (const auto& row : read_training_log(log)) {
    curve.steps.push_back(double(row.step));
    curve.loss.push_back(row.loss);
  }
  if (curve.steps.empty())
    throw std::runtime_error(log.string() + ": the training log has no rows yet");
  curve.smoothed = tensorboard_smooth(curve.loss, smoothing);
  return curve;
}

Plot loss_plot(const std::vector<LossCurve>& curves, const LossPlotOptions& options) {
  Plot plot;
  plot.title = options.title;
  plot.x_label = "step";
  plot.y_label = options.log_y ? "loss (log scale)" : "loss";
  plot.log_y = options.log_y;
  plot.width = options.width;
  plot.height = options.height;
  for (size_t i = 0; i < curves.size(); ++i)
    plot.series.push_back({curves[i].name + " raw", curves[i].steps, curves[i].loss,
                           palette_color(i), 0.25, 1.0, false});
  for (size_t i = 0; i < curves.size(); ++i)
    plot.series.push_back(
        {curves[i].name, curves[i].steps, curves[i].smoothed, palette_color(i), 1.0, 2.0, true});
  return plot;
}

torch::Tensor render_loss_plot(const std::vector<LossCurve>& curves,
                               const LossPlotOptions& options) {
  return render_plot(loss_plot(curves, options));
}

std::string loss_curves_csv(const std::vector<LossCurve>& curves) {
  std::string out = "run,step,loss,smoothed\n";
  for (const auto& c : curves)
    for (size_t i = 0; i < c.steps.size(); ++i)
      out += fmt::format("{},{},{},{}\n", c.name, int64_t(c.steps[i]), c.loss[i], c.smoothed[i]);
  return out;
}

}  // namespace ddpm
