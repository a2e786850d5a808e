// ddpm train: resolve the config (preset → --config → flags), load the data, train with progress,
// checkpoints and sample grids; Ctrl-C checkpoints and stops cleanly.
#include <csignal>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "commands.h"
#include "data/dataset.h"
#include "pipeline/checkpoint.h"
#include "pipeline/run_config.h"
#include "progress.h"
#include "training/trainer.h"

namespace ddpm::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_interrupt(int) {
  if (g_stop.exchange(true)) std::_Exit(130);  // a second Ctrl-C stops at once
}

struct TrainFlags {
  std::string preset;
  std::string config_file;
  std::string out;
  bool resume = false;
  json patch = json::object();  ///< every flag the user set, as a RunConfig merge patch
};

/// Registers `--name` whose value lands at patch[section][key] when given.
template <typename T>
void patch_option(CLI::App& cmd, TrainFlags& flags, const std::string& name,
                  const std::string& section, const std::string& key, const std::string& help) {
  cmd.add_option_function<T>(
      name, [&flags, section, key](const T& v) {
        if (section.empty())
          flags.patch[key] = v;
        else
          flags.patch[section][key] = v;
      },
      help);
}

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path.string() + ": cannot read the config file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_json_with_comments(text, path.string());
}

}  // namespace

Run add_train(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  auto* cmd = app.add_subcommand("train", "Train a diffusion model (DDPM Algorithm 1)");
  cmd->footer(
      "Every training key can also come from --config FILE.json (sections model, schedule, "
      "data, training, sampling; see a run's config.json for all of them). Flags override the "
      "file, the file overrides the preset.\nPresets: " +
      fmt::format("{}", fmt::join(preset_names(), ", ")));
  auto& f = *flags;
  cmd->add_option("--preset", f.preset, "Named recipe to start from (default fashion-mnist)");
  cmd->add_option("--config", f.config_file, "JSON file with config keys (// comments allowed)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", f.out, "Run directory (default runs/<preset>)");
  cmd->add_flag("--resume", f.resume, "Continue the run in --out from checkpoints/latest");
  patch_option<std::string>(*cmd, f, "--data", "data", "source",
                            "fashion-mnist or a folder of PNG/JPEG images (recursive)");
  patch_option<int64_t>(*cmd, f, "--image-size", "data", "image_size",
                        "Square image size (default: follows the data)");
  patch_option<int64_t>(*cmd, f, "--channels", "data", "channels", "1 or 3 (default: the data's)");
  patch_option<std::string>(*cmd, f, "--normalization", "data", "normalization",
                            "[-1,1] (DDPM) or mean-std (Keras)");
  patch_option<bool>(*cmd, f, "--hflip", "data", "hflip", "Random horizontal flips (true/false)");
  patch_option<int64_t>(*cmd, f, "--steps", "training", "steps", "Total optimizer steps");
  patch_option<int64_t>(*cmd, f, "--epochs", "training", "epochs",
                        "Passes over the data (when --steps is 0)");
  patch_option<int64_t>(*cmd, f, "--batch-size", "training", "batch_size", "Images per step");
  patch_option<double>(*cmd, f, "--lr", "training", "lr", "AdamW learning rate");
  patch_option<double>(*cmd, f, "--weight-decay", "training", "weight_decay", "AdamW weight decay");
  patch_option<int64_t>(*cmd, f, "--warmup-steps", "training", "warmup_steps",
                        "Linear learning-rate warmup steps");
  patch_option<double>(*cmd, f, "--grad-clip", "training", "grad_clip",
                       "Max global gradient norm (0: off)");
  patch_option<std::string>(*cmd, f, "--loss", "training", "loss", "mse or l1");
  patch_option<double>(*cmd, f, "--ema-decay", "training", "ema_decay", "EMA decay in [0, 1)");
  patch_option<int64_t>(*cmd, f, "--sample-every", "training", "sample_every",
                        "Steps between sample grids (0: never)");
  patch_option<int64_t>(*cmd, f, "--checkpoint-every", "training", "checkpoint_every",
                        "Steps between checkpoints");
  patch_option<int64_t>(*cmd, f, "--log-every", "training", "log_every", "Steps between log rows");
  patch_option<uint64_t>(*cmd, f, "--seed", "training", "seed", "Seed of every random choice");
  patch_option<std::string>(*cmd, f, "--device", "training", "device", "auto, cpu, cuda or cuda:N");
  patch_option<int64_t>(*cmd, f, "--threads", "training", "threads", "CPU threads (0: all cores)");
  patch_option<std::string>(*cmd, f, "--prediction-type", "", "prediction_type",
                            "epsilon, sample or v_prediction");
  patch_option<std::string>(*cmd, f, "--beta-schedule", "schedule", "beta_schedule",
                            "linear, scaled_linear, squaredcos_cap_v2 or keras_cosine");
  patch_option<int64_t>(*cmd, f, "--num-train-timesteps", "schedule", "num_train_timesteps",
                        "Diffusion steps T");

  return [flags]() -> int {
    auto& f = *flags;
    std::vector<json> patches;
    if (!f.config_file.empty()) patches.push_back(read_json_file(f.config_file));
    patches.push_back(f.patch);
    std::string preset = f.preset.empty() ? "fashion-mnist" : f.preset;
    for (const auto& p : patches)
      if (p.contains("preset") && f.preset.empty()) preset = p["preset"].get<std::string>();
    if (!f.preset.empty()) patches.push_back({{"preset", f.preset}});
    const fs::path run_dir = f.out.empty() ? fs::path("runs") / preset : fs::path(f.out);
    const bool has_checkpoint = checkpoint_exists(run_dir / "checkpoints/latest");

    RunConfig config;
    if (f.resume) {
      if (!has_checkpoint)
        throw std::invalid_argument(run_dir.string() + " has no checkpoint to resume from "
                                    "(expected checkpoints/latest/); drop --resume to start it");
      // The run's own resolved config, with any flags given now on top (e.g. more --steps).
      json resolved = read_json_file(run_dir / "config.json");
      for (const auto& p : patches) resolved.merge_patch(p);
      config = run_config_from_json(resolved);
    } else {
      if (has_checkpoint)
        throw std::invalid_argument(run_dir.string() + " already holds a run; pass --resume to "
                                    "continue it or choose another --out");
      config = resolve_run_config(preset, patches);
    }

    fmt::print("loading data: {}\n", config.data.source);
    Dataset data = load_dataset(config.data);
    if (!data.skipped.empty())
      fmt::print(stderr, "warning: skipped {} unreadable image(s): {}\n", data.skipped.size(),
                 fmt::join(data.skipped, ", "));
    if (!f.resume) resolve_data_shape(config, patches, data.image_size, data.channels);
    fmt::print("data: {} training / {} validation images, {}x{}x{}\n", data.train.size(0),
               data.validation.size(0), data.channels, data.image_size, data.image_size);

    if (!f.resume) config.data = resolved_data_config(config.data, data);
    Trainer trainer(config, std::move(data), run_dir);
    if (f.resume) {
      trainer.resume();
      fmt::print("resumed {} at step {}\n", run_dir.string(), trainer.step());
    }
    int64_t params = 0;
    for (const auto& p : trainer.model()->parameters()) params += p.numel();
    fmt::print("model: preset {}, {:.2f}M parameters; training {} steps into {}\n", config.preset,
               double(params) / 1e6, trainer.total_steps(), run_dir.string());

    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    ProgressLine line;
    TrainEvents events;
    events.on_progress = [&](const TrainProgress& p) {
      line.update(fmt::format("step {}/{}  loss {:.4f}  lr {:.2e}  {:.1f} img/s  {:.1f} it/s  "
                              "ETA {}",
                              p.step, p.total_steps, p.loss, p.lr, p.images_per_second,
                              p.images_per_second / double(config.training.batch_size),
                              format_duration(p.eta_seconds)),
                  p.step == p.total_steps);
    };
    events.on_file = [&](const std::string& kind, const fs::path& path) {
      if (kind == "samples") {
        line.finish();
        fmt::print("samples: {}\n", path.string());
      }
    };
    trainer.run(events, &g_stop);
    line.finish();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (g_stop) {
      fmt::print("interrupted at step {}; checkpoint saved. Continue with: ddpm train --out {} "
                 "--resume\n",
                 trainer.step(), run_dir.string());
      return 130;
    }
    fmt::print("done: {} steps. Checkpoint: {}\nSample with: ddpm sample --model {}\n",
               trainer.step(), (run_dir / "checkpoints/latest").string(), run_dir.string());
    return 0;
  };
}

}  // namespace ddpm::cli
