// The training loop (DDPM Algorithm 1) with AdamW, warmup, gradient clipping, EMA, periodic
// sample grids and atomic checkpoints in a run directory:
//
//   RUN/config.json                      the resolved RunConfig
//   RUN/log.csv                          step,loss,lr,grad_norm,images_per_s,seconds
//   RUN/samples/step_000500.png          grids drawn with the EMA weights (DDIM, fixed seed)
//   RUN/checkpoints/latest/              model, ema, optimizer .safetensors + state.json
//
//   Trainer trainer(config, dataset, "runs/fmnist");
//   if (resume) trainer.resume();
//   trainer.run(events, &stop_flag);
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>

#include "core/noise_schedule.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "models/unet.h"
#include "pipeline/run_config.h"
#include "training/adamw.h"
#include "training/ema.h"
#include "training/training_log.h"

namespace ddpm {

struct TrainProgress {
  int64_t step = 0;         ///< optimizer steps done
  int64_t total_steps = 0;  ///< steps the run will reach
  double loss = 0;          ///< mean loss since the last report
  double lr = 0;
  double images_per_second = 0;
  double elapsed_seconds = 0;  ///< training time, summed across resumes
  double eta_seconds = 0;
};

struct TrainEvents {
  /// Every log_every steps and at the end.
  std::function<void(const TrainProgress&)> on_progress;
  /// A file a person may want to open: ("samples", path) or ("checkpoint", path).
  std::function<void(const std::string& kind, const std::filesystem::path&)> on_file;
};

class Trainer {
 public:
  /// Creates the run directory and writes config.json. The dataset's shape must match the model.
  Trainer(RunConfig config, Dataset data, std::filesystem::path run_dir);

  /// Continues from RUN/checkpoints/latest: weights, EMA, optimizer, step, RNG and loader state.
  void resume();

  /// Trains until total_steps(), or until *stop turns true (then checkpoints and returns).
  void run(const TrainEvents& events = {}, const std::atomic<bool>* stop = nullptr);

  int64_t step() const { return step_; }
  int64_t total_steps() const { return total_steps_; }
  UNet& model() { return model_; }
  EMA& ema() { return *ema_; }
  const std::filesystem::path& run_dir() const { return run_dir_; }

  /// Writes RUN/checkpoints/latest now.
  void save_checkpoint();
  /// Draws the periodic grid with the EMA weights; returns its path.
  std::filesystem::path save_sample_grid();

 private:
  RunConfig config_;
  Dataset data_;
  std::filesystem::path run_dir_;
  torch::Device device_;
  NoiseSchedule schedule_;
  UNet model_{nullptr};
  std::unique_ptr<EMA> ema_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<BatchLoader> loader_;
  torch::Generator generator_;  ///< t, ε and flips
  int64_t step_ = 0;
  int64_t total_steps_ = 0;
  double elapsed_seconds_ = 0;
};

}  // namespace ddpm
