// ddpm study: train the four study variants (bk, bbno, bbano, bgano) with the same data, seed
// and budget, then write DIR/index.html comparing their losses and samples (EMA vs raw weights).
// Ctrl-C checkpoints the run in training; the same command resumes.
#include <csignal>
#include <fstream>

#include <fmt/format.h>

#include "commands.h"
#include "experiments/study.h"
#include "progress.h"
#include "runs/run_config.h"

namespace ddpm::cli {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_study_interrupt(int) {
  if (g_stop.exchange(true)) std::_Exit(130);  // a second Ctrl-C stops at once
}

struct StudyFlags {
  StudyConfig config;
  std::string config_file;
  std::string out;
};

}  // namespace

Run add_study(CLI::App& app) {
  auto flags = std::make_shared<StudyFlags>();
  auto& f = *flags;
  auto& c = f.config;
  auto* cmd = app.add_subcommand(
      "study", "Train bk, bbno, bbano, bgano alike and compare them on DIR/index.html");
  cmd->add_option("--data", c.data, "fashion-mnist (default) or a folder of PNG/JPEG images");
  cmd->add_option("--budget", c.budget, "Optimizer steps per variant (default: the presets' 20000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", f.out, "Output folder (run directories, figures, index.html)")
      ->required();
  cmd->add_option("--seed", c.seed, "Seed of every variant's training and of the figures' x_T");
  cmd->add_option("--variants", c.variants, "Presets to compare, comma separated")->delimiter(',');
  cmd->add_option("--config", f.config_file,
                  "JSON patch applied to every variant (e.g. a smaller model; // comments allowed)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--image-size", c.image_size, "Square image size (default: follows the data)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", c.batch_size, "Images per step (default: the presets' 64)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--n", c.grid_images, "Images per final grid")->check(CLI::PositiveNumber);
  cmd->add_option("--strip-n", c.strip_images, "Samples in the per-step strip")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--ddpm-steps", c.ddpm_steps, "Steps of the DDPM grid (default: all T)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--smoothing", c.smoothing, "TensorBoard smoothing of the loss plot")
      ->check(CLI::Range(0.0, 0.999999));
  cmd->add_option("--device", c.device, "auto, cpu, cuda or cuda:N");
  cmd->add_option("--threads", c.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);

  return [flags]() -> int {
    auto& f = *flags;
    if (!f.config_file.empty()) {
      std::ifstream in(f.config_file);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      f.config.patch = parse_json_with_comments(text, f.config_file);
    }
    const fs::path dir = f.out;
    fmt::print("study of {} on {} into {}\n", fmt::join(f.config.variants, ", "), f.config.data,
               dir.string());
    std::signal(SIGINT, on_study_interrupt);
    std::signal(SIGTERM, on_study_interrupt);
    ProgressLine line;
    StudyEvents events;
    events.on_stage = [&](const std::string& message) {
      line.finish();
      fmt::print("{}\n", message);
    };
    events.on_train = [&](const std::string& variant, const TrainProgress& p) {
      line.update(
          fmt::format("{} step {}/{}  loss {:.4f}  {:.1f} img/s  ETA {}", variant, p.step,
                      p.total_steps, p.loss, p.images_per_second, format_duration(p.eta_seconds)),
          p.step == p.total_steps);
    };
    const auto start = std::chrono::steady_clock::now();
    std::string current;
    auto current_start = start;
    events.on_sample = [&](const std::string& what, const SamplerStep& s) {
      if (what != current) {
        current = what;
        current_start = std::chrono::steady_clock::now();
      }
      const double done = double(s.index + 1) / double(s.num_steps);
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - current_start).count();
      line.update(fmt::format("{}  step {}/{}  ETA {}", what, s.index + 1, s.num_steps,
                              format_duration(elapsed / done * (1 - done))));
    };
    auto result = run_study(f.config, dir, events, &g_stop);
    line.finish();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (result.interrupted) {
      fmt::print("interrupted; the runs are checkpointed. Continue with the same command.\n");
      return 130;
    }
    for (const auto& v : result.variants)
      fmt::print("{}: {} steps{}, final loss {:.4f} (smoothed {:.4f})\n", v.name, v.steps,
                 v.reused ? " (reused)" : "", v.final_loss, v.final_smoothed);
    fmt::print("wrote {} ({:.0f} s)\n", (dir / "index.html").string(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return 0;
  };
}

}  // namespace ddpm::cli
