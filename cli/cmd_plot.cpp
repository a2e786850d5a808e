// ddpm plot: the loss curve(s) of training runs as a PNG, raw and smoothed like TensorBoard.
#include <filesystem>

#include <fmt/format.h>

#include "commands.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "training/loss_curves.h"

namespace ddpm::cli {

namespace fs = std::filesystem;

namespace {

struct PlotFlags {
  std::vector<std::string> runs;
  std::string out;
  double smoothing = 0.99;
  bool log_y = false;
  std::string title;
  int64_t width = 960;
  int64_t height = 540;
};

std::string run_name(const fs::path& run) {
  fs::path p = run.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  if (p.filename() == "log.csv") p = p.parent_path();
  const auto name = p.filename().string();
  return name.empty() || name == "." ? fs::absolute(p).lexically_normal().filename().string()
                                     : name;
}

}  // namespace

Run add_plot(CLI::App& app) {
  auto flags = std::make_shared<PlotFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "plot", "Loss curves of training runs as a PNG (raw and TensorBoard-smoothed)");
  cmd->add_option("RUN_DIR", f.runs, "Run directories (or their log.csv); several share one plot")
      ->required();
  cmd->add_option("--out", f.out, "PNG to write (default RUN_DIR/loss.png for one run)");
  cmd->add_option("--smoothing", f.smoothing, "TensorBoard smoothing weight in [0, 1)")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  cmd->add_flag("--log-y", f.log_y, "Logarithmic loss axis");
  cmd->add_option("--title", f.title, "Plot title (default: the run names)");
  cmd->add_option("--width", f.width, "Image width in pixels")->check(CLI::Range(200, 8000));
  cmd->add_option("--height", f.height, "Image height in pixels")->check(CLI::Range(150, 8000));

  return [flags]() -> int {
    auto& f = *flags;
    if (f.out.empty() && f.runs.size() > 1)
      throw std::invalid_argument("with several runs, say where the plot goes with --out FILE.png");
    std::vector<LossCurve> curves;
    std::vector<std::string> names;
    for (const auto& run : f.runs) {
      curves.push_back(read_loss_curve(run, run_name(run), f.smoothing));
      names.push_back(curves.back().name);
    }
    fs::path out = f.out;
    if (out.empty()) {
      const fs::path run = f.runs.front();
      out = (fs::is_directory(run) ? run : run.parent_path()) / "loss.png";
    }
    LossPlotOptions options;
    options.title = f.title.empty() ? fmt::format("{}: loss (smoothing {})", fmt::join(names, ", "),
                                                  f.smoothing)
                                    : f.title;
    options.log_y = f.log_y;
    options.width = f.width;
    options.height = f.height;
    auto image = render_loss_plot(curves, options);
    if (out.has_parent_path()) fs::create_directories(out.parent_path());
    write_png(out, image,
              png_parameters({{"command", "plot"},
                              {"runs", f.runs},
                              {"smoothing", f.smoothing},
                              {"log_y", f.log_y}}));
    fs::path csv = out;
    csv.replace_extension(".csv");
    write_file_atomic(csv, loss_curves_csv(curves));
    for (const auto& c : curves)
      fmt::print("{}: {} rows, steps {}..{}, last loss {:.4f} (smoothed {:.4f})\n", c.name,
                 c.steps.size(), int64_t(c.steps.front()), int64_t(c.steps.back()), c.loss.back(),
                 c.smoothed.back());
    fmt::print("wrote {} ({}x{}) and {}\n", out.string(), image.size(2), image.size(1),
               csv.string());
    return 0;
  };
}

}  // namespace ddpm::cli
