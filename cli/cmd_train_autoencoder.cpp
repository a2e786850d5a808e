// ddpm train-autoencoder: resolve the config (preset → --config → flags), load the data, train
// an AutoencoderKL or VQModel with progress, checkpoints and reconstruction grids, then measure
// held-out PSNR and the latent scale and write RUN/autoencoder/ for `ddpm train --autoencoder`.
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "config_patch.h"
#include "data/dataset.h"
#include "enum_choices.h"
#include "progress.h"
#include "runs/autoencoder_run_config.h"
#include "runs/checkpoint.h"
#include "runs/run_config.h"
#include "stop_signals.h"
#include "training/autoencoder_trainer.h"
#include "training/run_lock.h"

namespace ddpm::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct TrainAutoencoderFlags {
  std::string preset;
  std::string config_file;
  std::string out;
  bool resume = false;
  int64_t downsample = 0;  ///< 0: the preset's
  json patch = json::object();
};

}  // namespace

Run add_train_autoencoder(CLI::App& app) {
  auto flags = std::make_shared<TrainAutoencoderFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "train-autoencoder",
      "Train the autoencoder of latent diffusion (AutoencoderKL or VQModel, diffusers layout)");
  cmd->footer(
      "The run folder holds config.json, log.csv, samples/ (validation images over their "
      "reconstructions), checkpoints/latest/ and, when training ends, autoencoder/ (diffusers' "
      "AutoencoderKL/VQModel layout with scaling_factor = 1/std of the latents) and "
      "metrics.json (held-out PSNR). Then: ddpm train --autoencoder RUN.\nPresets: " +
      fmt::format("{}", fmt::join(autoencoder_preset_names(), ", ")));
  cmd->add_option("--preset", f.preset, "Named recipe (default fashion-mnist-kl)");
  cmd->add_option("--config", f.config_file, "JSON file with config keys (// comments allowed)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", f.out, "Run directory (default runs/<preset>)");
  cmd->add_flag("--resume", f.resume, "Continue the run in --out from checkpoints/latest");
  patch_option<std::string>(*cmd, f.patch, "--data", "data", "source",
                            "fashion-mnist or a folder of PNG/JPEG images (recursive)");
  patch_option<std::string>(*cmd, f.patch, "--kind", "model", "kind",
                            "kl (AutoencoderKL, the default) or vq (VQModel)");
  patch_option<int64_t>(*cmd, f.patch, "--latent-channels", "model", "latent_channels",
                        "Channels of the latent images (default 4)");
  cmd->add_option("--downsample", f.downsample,
                  "Pixels per latent position along a side: 1, 2, 4 (the presets), 8, ...");
  patch_option<int64_t>(*cmd, f.patch, "--num-vq-embeddings", "model", "num_vq_embeddings",
                        "VQ codebook size (default 256)");
  patch_option<int64_t>(*cmd, f.patch, "--steps", "training", "steps",
                        "Total optimizer steps, counted across resumes");
  patch_option<int64_t>(*cmd, f.patch, "--batch-size", "training", "batch_size", "Images per step");
  patch_option<double>(*cmd, f.patch, "--lr", "training", "lr", "Adam learning rate");
  patch_option<std::string>(*cmd, f.patch, "--reconstruction-loss", "training",
                            "reconstruction_loss", "l1 (LDM's, the default) or mse");
  patch_option<double>(*cmd, f.patch, "--kl-weight", "training", "kl_weight",
                       "AutoencoderKL: weight of the KL term per image (default 1e-6, LDM's)");
  patch_option<double>(*cmd, f.patch, "--vq-beta", "training", "vq_beta",
                       "VQModel: commitment weight (default 0.25)");
  patch_option<double>(*cmd, f.patch, "--ema-decay", "training", "ema_decay",
                       "EMA decay in [0, 1)");
  patch_option<double>(*cmd, f.patch, "--grad-clip", "training", "grad_clip",
                       "Max global gradient norm (0: off)");
  patch_option<int64_t>(*cmd, f.patch, "--max-bad-steps", "training", "max_bad_steps",
                        "Stop after this many consecutive non-finite steps (default 5)");
  patch_option<int64_t>(*cmd, f.patch, "--sample-every", "training", "sample_every",
                        "Steps between reconstruction grids (0: only at the end)");
  patch_option<int64_t>(*cmd, f.patch, "--checkpoint-every", "training", "checkpoint_every",
                        "Steps between checkpoints");
  patch_option<int64_t>(*cmd, f.patch, "--log-every", "training", "log_every",
                        "Steps between log rows");
  patch_option<int64_t>(*cmd, f.patch, "--eval-images", "training", "eval_images",
                        "Held-out images for the final PSNR (default 1000)");
  patch_option<uint64_t>(*cmd, f.patch, "--seed", "training", "seed",
                         "Seed of every random choice");
  patch_option<std::string>(*cmd, f.patch, "--device", "training", "device",
                            "auto, cpu, cuda or cuda:N");
  patch_option<int64_t>(*cmd, f.patch, "--threads", "training", "threads",
                        "CPU threads (0: all cores)");

  return [flags]() -> int {
    auto& f = *flags;
    std::vector<json> patches;
    if (!f.config_file.empty()) patches.push_back(read_config_file(f.config_file));
    patches.push_back(f.patch);
    std::string preset = f.preset.empty() ? "fashion-mnist-kl" : f.preset;
    for (const auto& p : patches)
      if (f.preset.empty() && p.contains("preset") && p["preset"].is_string())
        preset = p["preset"].get<std::string>();
    if (!f.preset.empty()) patches.push_back({{"preset", f.preset}});
    const fs::path run_dir = f.out.empty() ? fs::path("runs") / preset : fs::path(f.out);
    std::optional<RunLock> lock;
    if (fs::exists(run_dir)) lock.emplace(run_dir);
    const bool has_checkpoint = checkpoint_exists(run_dir / "checkpoints/latest");

    AutoencoderRunConfig config;
    if (f.resume) {
      if (!has_checkpoint)
        throw std::invalid_argument(run_dir.string() +
                                    " has no checkpoint to resume from (expected "
                                    "checkpoints/latest/); drop --resume to start it");
      if (f.downsample > 0)
        throw std::invalid_argument("--downsample changes the architecture; not with --resume");
      json resolved = read_config_file(run_dir / "config.json");
      for (const auto& p : patches) resolved.merge_patch(p);
      config = autoencoder_run_config_from_json(resolved);
    } else {
      if (has_checkpoint)
        throw std::invalid_argument(run_dir.string() +
                                    " already holds a run; pass --resume to continue it or "
                                    "choose another --out");
      config = resolve_autoencoder_run_config(preset, patches);
      if (f.downsample > 0) set_downsample_factor(config.model, f.downsample);
      // The data follows the model unless set: its size and channels.
      if (config.data.image_size == 0) config.data.image_size = config.model.sample_size;
      if (config.data.channels == 0) config.data.channels = config.model.in_channels;
      config.model.sample_size = config.data.image_size;
      config.model.in_channels = config.model.out_channels = config.data.channels;
      validate(config.model);
    }
    if (!lock) lock.emplace(run_dir);
    fmt::print("loading data: {}\n", config.data.source);
    Dataset data = load_dataset(config.data);
    if (!data.skipped.empty())
      fmt::print(stderr, "warning: skipped {} unreadable image(s): {}\n", data.skipped.size(),
                 fmt::join(data.skipped, ", "));
    fmt::print("data: {} training / {} validation images, {}x{}x{}\n", data.train.size(0),
               data.validation.size(0), data.channels, data.image_size, data.image_size);
    if (!f.resume) config.data = resolved_data_config(config.data, data);
    AutoencoderTrainer trainer(config, std::move(data), run_dir);
    if (f.resume) {
      trainer.resume();
      fmt::print("resumed {} at step {}\n", run_dir.string(), trainer.step());
    }
    int64_t params = 0;
    for (const auto& p : trainer.model()->parameters()) params += p.numel();
    const auto& mc = config.model;
    const auto shape = latent_shape(mc);
    fmt::print(
        "autoencoder: {} ({}), {:.2f}M parameters, {}x{}x{} images -> {}x{}x{} latents; "
        "training {} steps into {}\n",
        mc.kind == AutoencoderKind::kl ? "AutoencoderKL" : "VQModel", config.preset,
        double(params) / 1e6, mc.in_channels, mc.sample_size, mc.sample_size, shape[0], shape[1],
        shape[2], trainer.total_steps(), run_dir.string());

    install_stop_signals();
    ProgressLine line;
    TrainEvents events;
    events.on_progress = [&](const TrainProgress& p) {
      line.update(fmt::format("step {}/{}  loss {:.4f}  lr {:.2e}  {:.1f} img/s  ETA {}", p.step,
                              p.total_steps, p.loss, p.lr, p.images_per_second,
                              format_duration(p.eta_seconds)),
                  p.step == p.total_steps);
    };
    events.on_file = [&](const std::string& kind, const fs::path& path) {
      if (kind == "samples") {
        line.finish();
        fmt::print("reconstructions: {}\n", path.string());
      }
    };
    events.on_bad_step = [&](int64_t step, const std::string& tensor, int64_t consecutive) {
      line.finish();
      fmt::print(stderr, "warning: step {}: {} is not finite; step skipped ({} of {} in a row)\n",
                 step, tensor, consecutive, config.training.max_bad_steps);
    };
    try {
      trainer.run(events, &stop_requested());
    } catch (...) {
      line.finish();
      throw;
    }
    line.finish();
    restore_default_signals();
    if (stop_requested()) {
      const int sig = stop_signal();
      fmt::print(
          "{} at step {}; checkpoint saved. Continue with: ddpm train-autoencoder --out {} "
          "--resume\n",
          sig == SIGTERM ? "terminated" : "interrupted", trainer.step(), run_dir.string());
      return 128 + sig;
    }
    fmt::print("measuring held-out PSNR and the latent scale...\n");
    const auto r = trainer.finish();
    fmt::print(
        "done: {} steps. Held-out PSNR {:.2f} dB ({} images); latent std {:.4g} -> "
        "scaling_factor {:.4g}\nAutoencoder: {}\nTrain a latent model with: ddpm train "
        "--autoencoder {}\n",
        r.step, r.psnr_db, r.eval_images, r.latent_std, r.scaling_factor,
        (run_dir / "autoencoder").string(), run_dir.string());
    return 0;
  };
}

}  // namespace ddpm::cli
