// ddpm train: resolve the config (preset → [--init / --arch model] → --config → flags), load the
// data, train with progress, checkpoints and sample grids; Ctrl-C checkpoints and stops cleanly.
// Signals: cli/stop_signals.h.
#include <signal.h>
#include <stdio.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "commands.h"
#include "config_patch.h"
#include "data/dataset.h"
#include "enum_choices.h"
#include "invocation.h"
#include "pipeline/model_source.h"
#include "progress.h"
#include "rank_launcher.h"
#include "runs/autoencoder_format.h"
#include "runs/checkpoint.h"
#include "runs/model_loading.h"
#include "runs/run_config.h"
#include "stop_signals.h"
#include "training/distributed_env.h"
#include "training/process_group.h"
#include "training/run_lock.h"
#include "training/trainer.h"

namespace ddpm::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct TrainFlags {
  std::string preset;
  std::string config_file;
  std::string out;
  bool resume = false;
  std::string init;
  std::string init_weights = "ema";
  std::string arch;
  std::string autoencoder;
  // Data-parallel launch options: not part of the run (a resume may use any world size).
  int nproc_per_node = 0;
  double dist_timeout = 60;
  double bucket_mb = 25;
  bool no_overlap = false;
  bool sync_batchnorm = false;
  json patch = json::object();  ///< every flag the user set, as a RunConfig merge patch
};

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
  auto* init = cmd->add_option(
      "--init", f.init,
      "Fine-tune: start from this model's weights, architecture, schedule and prediction type "
      "(run directory, checkpoint folder, diffusers model or pipeline folder)");
  cmd->add_option("--init-weights", f.init_weights,
                  "ema (default) or raw: which weights of --init when it is one of our runs "
                  "(a diffusers folder holds one set)")
      ->check(enum_choices<WeightsKind>());
  auto* arch = cmd->add_option("--arch", f.arch,
                               "Train a fresh model of the architecture in this diffusers "
                               "UNet2DModel config.json")
                   ->check(CLI::ExistingFile);
  init->excludes(arch);
  cmd->add_option("--autoencoder", f.autoencoder,
                  "Latent diffusion: train on this autoencoder's latents (a finished ddpm "
                  "train-autoencoder run, an AutoencoderKL/VQModel folder, or a latent pipeline's "
                  "vae/vqvae). The UNet's channels and sample_size follow the latents; the "
                  "latents of the data are computed once and cached in the run folder");
  patch_option<std::string>(*cmd, f.patch, "--data", "data", "source",
                            "fashion-mnist or a folder of PNG/JPEG images (recursive)");
  patch_option<int64_t>(*cmd, f.patch, "--image-size", "data", "image_size",
                        "Square image size (default: follows the data)");
  patch_option<int64_t>(*cmd, f.patch, "--channels", "data", "channels",
                        "1 or 3 (default: the data's)");
  patch_option<std::string>(*cmd, f.patch, "--normalization", "data", "normalization",
                            "[-1,1] (DDPM) or mean-std (Keras)");
  patch_option<bool>(*cmd, f.patch, "--hflip", "data", "hflip",
                     "Random horizontal flips (true/false)");
  cmd->add_flag_function(
         "--class-conditional", [&f](int64_t) { f.patch["classes"]["conditional"] = true; },
         "Train on the data's labels (Fashion-MNIST's ten classes; a folder's sub-folders) with "
         "a null class for classifier-free guidance")
      ->group("Classes");
  patch_option<double>(*cmd, f.patch, "--label-dropout", "training", "label_dropout",
                       "Share of labels replaced by the null class (default 0.1)");
  patch_option<double>(*cmd, f.patch, "--guidance-scale", "sampling", "guidance_scale",
                       "Guidance scale of the run's sample grids and later sampling (default 1)");
  cmd->get_option("--label-dropout")->group("Classes");
  cmd->get_option("--guidance-scale")->group("Classes");
  patch_option<int64_t>(*cmd, f.patch, "--steps", "training", "steps",
                        "Total optimizer steps, counted across resumes");
  patch_option<int64_t>(*cmd, f.patch, "--epochs", "training", "epochs",
                        "Passes over the data instead of --steps (replaces the preset's steps)");
  cmd->get_option("--steps")->excludes(cmd->get_option("--epochs"));
  patch_option<int64_t>(*cmd, f.patch, "--batch-size", "training", "batch_size", "Images per step");
  patch_option<double>(*cmd, f.patch, "--lr", "training", "lr", "AdamW learning rate");
  patch_option<double>(*cmd, f.patch, "--weight-decay", "training", "weight_decay",
                       "AdamW weight decay");
  patch_option<int64_t>(*cmd, f.patch, "--warmup-steps", "training", "warmup_steps",
                        "Linear learning-rate warmup steps");
  patch_option<double>(*cmd, f.patch, "--grad-clip", "training", "grad_clip",
                       "Max global gradient norm (0: off)");
  patch_option<int64_t>(*cmd, f.patch, "--max-bad-steps", "training", "max_bad_steps",
                        "Stop after this many consecutive steps with a non-finite loss or "
                        "gradient, each skipped (default 5)");
  patch_option<std::string>(*cmd, f.patch, "--loss", "training", "loss",
                            "mse or l1 (on the prediction), or hybrid: improved DDPM's L_simple + "
                            "L_vlb, learning the variances too (2x the output channels)");
  patch_option<double>(*cmd, f.patch, "--ema-decay", "training", "ema_decay",
                       "EMA decay in [0, 1)");
  patch_option<int64_t>(*cmd, f.patch, "--sample-every", "training", "sample_every",
                        "Steps between sample grids (0: never)");
  patch_option<int64_t>(*cmd, f.patch, "--checkpoint-every", "training", "checkpoint_every",
                        "Steps between checkpoints");
  patch_option<int64_t>(*cmd, f.patch, "--log-every", "training", "log_every",
                        "Steps between log rows");
  patch_option<int64_t>(*cmd, f.patch, "--eval-every", "training", "eval_every",
                        "Steps between validation KID/FD measurements that keep checkpoints/best "
                        "(0: never)");
  patch_option<std::string>(*cmd, f.patch, "--eval-metric", "training", "eval_metric",
                            "kid or fd: the validation metric checkpoints/best minimises");
  patch_option<int64_t>(*cmd, f.patch, "--eval-samples", "training", "eval_samples",
                        "EMA samples (and validation images) per evaluation");
  patch_option<int64_t>(*cmd, f.patch, "--eval-steps", "training", "eval_steps",
                        "DDIM steps per evaluation sample");
  patch_option<std::string>(*cmd, f.patch, "--eval-inception", "training", "eval_inception",
                            "FID Inception weights for the validation metric (default: the "
                            "shipped Fashion-MNIST classifier, 1-channel data only)");
  patch_option<uint64_t>(*cmd, f.patch, "--seed", "training", "seed",
                         "Seed of every random choice");
  patch_option<std::string>(*cmd, f.patch, "--device", "training", "device",
                            "auto, cpu, cuda or cuda:N");
  patch_option<int64_t>(*cmd, f.patch, "--threads", "training", "threads",
                        "CPU threads (0: all cores)");
  patch_option<std::string>(*cmd, f.patch, "--precision", "training", "precision",
                            "Autocast for the forward pass: fp32, bf16, or fp16 (CUDA, with loss "
                            "scaling)");
  patch_option<std::string>(*cmd, f.patch, "--prediction-type", "", "prediction_type",
                            "epsilon, sample or v_prediction");
  patch_option<std::string>(*cmd, f.patch, "--beta-schedule", "schedule", "beta_schedule",
                            "linear, scaled_linear, squaredcos_cap_v2 or keras_cosine");
  patch_option<int64_t>(*cmd, f.patch, "--num-train-timesteps", "schedule", "num_train_timesteps",
                        "Diffusion steps T");
  const std::string parallel =
      "Data-parallel (c10d: Gloo on the CPU, NCCL on CUDA; docs/distributed.md)";
  cmd->add_option("--nproc-per-node", f.nproc_per_node,
                  "Start this many ranks on this machine, each its own process (threads per "
                  "rank: cores / N unless --threads); --batch-size stays the global batch. Under "
                  "torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) each process is one "
                  "rank and this is ignored")
      ->check(CLI::Range(1, 64))
      ->group(parallel);
  cmd->add_option("--dist-timeout", f.dist_timeout,
                  "Seconds a rank waits for a silent or missing rank before stopping with an "
                  "error naming it (default 60)")
      ->check(CLI::Range(1.0, 86400.0))
      ->group(parallel);
  cmd->add_option("--bucket-mb", f.bucket_mb,
                  "Gradient all-reduce bucket size in MiB (default 25, as PyTorch DDP)")
      ->check(CLI::Range(0.01, 4096.0))
      ->group(parallel);
  cmd->add_flag("--sync-batchnorm", f.sync_batchnorm,
                "BatchNorm models: normalize with the statistics of the whole global batch, "
                "summed across ranks (torch.nn.SyncBatchNorm), so that N ranks match one process")
      ->group(parallel);
  cmd->add_flag("--no-overlap", f.no_overlap,
                "All-reduce the gradients after backward instead of bucket by bucket during it")
      ->group(parallel);

  return [flags]() -> int {
    auto& f = *flags;
    // A data-parallel job: torchrun's variables, or the built-in launcher that sets them.
    const auto job = distributed_env_from([](const char* name) { return std::getenv(name); });
    if (!job && f.nproc_per_node > 0)
      return launch_local_ranks(
          f.nproc_per_node, f.patch.contains("training") && f.patch["training"].contains("threads"),
          std::chrono::seconds(int64_t(std::ceil(f.dist_timeout))));
    const bool parallel = job && job->world_size > 1;
    const int rank = parallel ? job->rank : 0;
    if (parallel) {
      error_prefix() = fmt::format("rank {}: ", rank);
      // One voice: rank 0 prints progress; the others print errors only.
      if (rank != 0 && !std::freopen("/dev/null", "w", stdout))
        throw std::runtime_error("cannot silence rank output");
    }
    std::vector<json> patches;
    if (!f.config_file.empty()) patches.push_back(read_config_file(f.config_file));
    patches.push_back(f.patch);
    std::string preset = f.preset.empty() ? "fashion-mnist" : f.preset;
    bool preset_given = !f.preset.empty();
    for (const auto& p : patches)
      if (p.contains("preset") && f.preset.empty()) {
        preset = p["preset"].get<std::string>();
        preset_given = true;
      }
    if (!f.preset.empty()) patches.push_back({{"preset", f.preset}});

    // --init (or training.init from --config) / --arch: the model comes from elsewhere.
    std::string init_dir = f.init;
    WeightsKind init_weights = parse_enum<WeightsKind>(f.init_weights);
    for (auto& p : patches) {
      if (!p.contains("training") || !p["training"].is_object()) continue;
      auto& t = p["training"];
      if (f.init.empty() && t.contains("init") && t["init"].is_string()) {
        init_dir = t["init"].get<std::string>();
        init_weights = parse_enum<WeightsKind>(t.value("init_weights", "ema"));
      }
      t.erase("init");  // source_patch records the resolved folder
      t.erase("init_weights");
    }
    if (!init_dir.empty() || !f.arch.empty()) {
      if (f.resume)
        throw std::invalid_argument(
            "--resume continues a run from its own checkpoint; --init and --arch start new runs "
            "(drop them, or --resume)");
      if (!init_dir.empty() && !f.arch.empty())
        throw std::invalid_argument(
            "--arch and --init (training.init) both give the architecture; use one");
      const ModelSource source =
          f.arch.empty() ? init_source(init_dir, init_weights) : arch_source(f.arch);
      check_model_source(source, preset, preset_given, patches);
      patches.insert(patches.begin(), source_patch(source));
    }
    const fs::path run_dir = f.out.empty() ? fs::path("runs") / preset : fs::path(f.out);
    // One trainer per run folder: a busy folder is refused before anything in it is read. A
    // folder that does not exist yet is locked (and so created) only once the config is valid.
    std::optional<RunLock> lock;  // rank 0's: the job is one trainer
    if (fs::exists(run_dir) && rank == 0) lock.emplace(run_dir);
    const bool has_checkpoint = checkpoint_exists(run_dir / "checkpoints/latest");

    RunConfig config;
    if (f.resume) {
      if (!has_checkpoint)
        throw std::invalid_argument(run_dir.string() +
                                    " has no checkpoint to resume from "
                                    "(expected checkpoints/latest/); drop --resume to start it");
      // The run's own resolved config, with any flags given now on top (e.g. more --steps).
      json resolved = read_config_file(run_dir / "config.json");
      for (const auto& p : patches) merge_run_config_patch(resolved, p);
      config = run_config_from_json(resolved);
    } else {
      if (has_checkpoint)
        throw std::invalid_argument(run_dir.string() +
                                    " already holds a run; pass --resume to "
                                    "continue it or choose another --out");
      try {
        config = resolve_run_config(preset, patches);
      } catch (const std::exception& e) {
        if (f.config_file.empty()) throw;
        // Name the file: the fault may be in it (or in a flag given with it).
        const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
        throw std::invalid_argument((c10_error ? c10_error->what_without_backtrace() : e.what()) +
                                    std::string(" (in the config resolved from preset ") + preset +
                                    ", --config " + f.config_file + " and the flags)");
      }
    }

    if (!lock && rank == 0) lock.emplace(run_dir);
    DataParallel data_parallel;
    if (parallel) {
      const auto timeout = std::chrono::milliseconds(int64_t(f.dist_timeout * 1000));
      data_parallel.group = ProcessGroup::join(*job, parse_device(config.training.device), timeout);
      data_parallel.buckets.bucket_bytes = int64_t(f.bucket_mb * (1 << 20));
      data_parallel.buckets.first_bucket_bytes =
          std::min<int64_t>(data_parallel.buckets.bucket_bytes, 1 << 20);
      data_parallel.buckets.overlap = !f.no_overlap;
      data_parallel.sync_batch_norm = f.sync_batchnorm;
      fmt::print("data-parallel: {} ranks ({}), global batch {} = {} x {}{}\n", job->world_size,
                 data_parallel.group->backend(), config.training.batch_size, job->world_size,
                 config.training.batch_size / std::max(1, job->world_size),
                 f.no_overlap ? ", all-reduce after backward" : "");
    }
    // Latent diffusion: the run keeps its own copy of the autoencoder in RUN/autoencoder/.
    Autoencoder autoencoder{nullptr};
    if (f.resume && !config.autoencoder.empty()) {
      autoencoder = load_autoencoder(run_dir / "autoencoder", parse_device(config.training.device));
    } else if (!f.autoencoder.empty()) {
      if (f.resume)
        throw std::invalid_argument(
            "--autoencoder starts a latent run; --resume continues the run with its own copy");
      const fs::path folder = find_autoencoder_folder(f.autoencoder);
      autoencoder = load_autoencoder(folder, parse_device(config.training.device));
      const auto& a = autoencoder->config();
      if (config.data.image_size == 0) config.data.image_size = a.sample_size;
      if (config.data.channels == 0) config.data.channels = a.in_channels;
      if (config.data.image_size != a.sample_size || config.data.channels != a.in_channels)
        throw std::invalid_argument(
            fmt::format("--autoencoder {} encodes {}x{}x{} images but the data is set to {}x{}x{} "
                        "(data.channels, data.image_size)",
                        folder.string(), a.in_channels, a.sample_size, a.sample_size,
                        config.data.channels, config.data.image_size, config.data.image_size));
      config.autoencoder = folder.string();
    }
    fmt::print("loading data: {}\n", config.data.source);
    Dataset data = load_dataset(config.data);
    if (!data.skipped.empty())
      fmt::print(stderr, "warning: skipped {} unreadable image(s): {}\n", data.skipped.size(),
                 fmt::join(data.skipped, ", "));
    if (!f.resume && !autoencoder.is_empty()) {
      // The UNet works on latents: its channels and size follow them unless a patch contradicts.
      const auto& a = autoencoder->config();
      const int64_t latent = a.kind == AutoencoderKind::vq ? codebook_dim(a) : a.latent_channels;
      try {
        resolve_data_shape(config, patches, latent_shape(a)[1], latent);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(
            fmt::format("with --autoencoder {} the model works on its {}x{}x{} latents: {}",
                        f.autoencoder, latent, latent_shape(a)[1], latent_shape(a)[2], e.what()));
      }
      // Latents are scaled to unit variance, not bounded to [-1, 1]: x̂₀ is not clipped unless
      // the config asks (LDM's DDIM sampling does not clip either).
      bool clip_set = false;
      for (const auto& p : patches)
        if (p.contains("sampling") && p["sampling"].contains("clip_sample")) clip_set = true;
      if (!clip_set) config.sampling.sampler.clip_sample = false;
      resolve_classes(config, patches, data.class_names, data.train_labels.has_value(),
                      data.no_labels_reason);
    } else if (!f.resume) {
      resolve_data_shape(config, patches, data.image_size, data.channels);
      resolve_classes(config, patches, data.class_names, data.train_labels.has_value(),
                      data.no_labels_reason);
    }
    fmt::print("data: {} training / {} validation images, {}x{}x{}\n", data.train.size(0),
               data.validation.size(0), data.channels, data.image_size, data.image_size);
    if (config.classes.conditional)
      fmt::print("classes: {} ({}), null class {}, label dropout {:g}\n",
                 config.classes.num_classes, fmt::join(config.classes.names, ", "),
                 config.classes.null_class, config.training.label_dropout);

    if (!f.resume) config.data = resolved_data_config(config.data, data);
    std::optional<Codec> codec;
    if (!autoencoder.is_empty()) {
      if (!f.resume && rank == 0) save_autoencoder(autoencoder, run_dir / "autoencoder");
      codec = Codec(autoencoder, autoencoder->config().scaling_factor);
    }
    if (parallel && !f.sync_batchnorm &&
        (config.model.norm == NormType::batch || config.model.norm == NormType::batch_affine))
      fmt::print(
          "note: the model normalizes with BatchNorm: each rank uses its own batch's statistics "
          "(as PyTorch DDP without SyncBatchNorm), so {} ranks do not match one process exactly; "
          "--sync-batchnorm uses the global batch's\n",
          job->world_size);
    Trainer trainer(config, std::move(data), run_dir, codec, data_parallel);
    if (codec) {
      fmt::print("latent diffusion: {} from {}\n", codec->describe(), config.autoencoder);
      ProgressLine encoding;
      trainer.prepare_latents([&](int64_t done, int64_t total) {
        encoding.update(fmt::format("latents of the training images: {}/{}", done, total),
                        done == total);
      });
      encoding.finish();
    }
    if (f.resume) {
      trainer.resume();
      fmt::print("resumed {} at step {}\n", run_dir.string(), trainer.step());
    }
    int64_t params = 0;
    for (const auto& p : trainer.model()->parameters()) params += p.numel();
    fmt::print("model: preset {}, {:.2f}M parameters; training {} steps into {}\n", config.preset,
               double(params) / 1e6, trainer.total_steps(), run_dir.string());
    if (!f.resume && !config.training.init.empty())
      fmt::print("initialised from {} ({} weights)\n", config.training.init,
                 to_string(config.training.init_weights));
    if (!f.arch.empty()) fmt::print("architecture from {}\n", f.arch);

    install_stop_signals();
    ProgressLine line;
    TrainEvents events;
    events.on_progress = [&](const TrainProgress& p) {
      // The validation metric (training.eval_every): latest and best, once measured.
      std::string eval;
      if (!p.eval_name.empty() && !std::isnan(p.best_eval))
        eval = fmt::format("  {} {} (best {:.4g} @ {})", p.eval_name,
                           std::isnan(p.eval) ? std::string("-") : fmt::format("{:.4g}", p.eval),
                           p.best_eval, p.best_eval_step);
      const std::string communication =
          parallel ? fmt::format("  comm {:.0f}%", 100 * p.communication_share) : "";
      line.update(fmt::format("step {}/{}  loss {:.4f}  lr {:.2e}  {:.1f} img/s  {:.1f} it/s  "
                              "ETA {}{}{}",
                              p.step, p.total_steps, p.loss, p.lr, p.images_per_second,
                              p.images_per_second / double(config.training.batch_size),
                              format_duration(p.eta_seconds), communication, eval),
                  p.step == p.total_steps);
    };
    events.on_file = [&](const std::string& kind, const fs::path& path) {
      if (kind == "samples") {
        line.finish();
        fmt::print("samples: {}\n", path.string());
      }
    };
    events.on_bad_step = [&](int64_t step, const std::string& tensor, int64_t consecutive) {
      line.finish();
      fmt::print(stderr, "warning: step {}: {}{} is not finite; step skipped ({} of {} in a row)\n",
                 step, tensor == "loss" || tensor == "gradient norm" ? "" : "the gradient of ",
                 tensor, consecutive, config.training.max_bad_steps);
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
      fmt::print("{} at step {}; checkpoint saved. Continue with: ddpm train --out {} --resume\n",
                 sig == SIGTERM ? "terminated" : "interrupted", trainer.step(), run_dir.string());
      return 128 + sig;
    }
    fmt::print("done: {} steps. Checkpoint: {}\nSample with: ddpm sample --model {}\n",
               trainer.step(), (run_dir / "checkpoints/latest").string(), run_dir.string());
    return 0;
  };
}

}  // namespace ddpm::cli
