// The training loop (DDPM Algorithm 1) with AdamW, warmup, gradient clipping, EMA, periodic
// sample grids and atomic checkpoints in a run directory:
//
//   RUN/config.json                      the resolved RunConfig
//   RUN/log.csv                          step,loss,lr,grad_norm,images_per_s,seconds
//                                        [,eval_kid|eval_fd when training.eval_every > 0]
//   RUN/samples/step_000500.png          grids drawn with the EMA weights (DDIM, fixed seed)
//   RUN/checkpoints/latest/              model, ema, optimizer .safetensors + state.json
//   RUN/checkpoints/best/                the same, at the step with the best validation
//                                        metric (training.eval_every; eval/validation_metric.h)
//
//   Trainer trainer(config, dataset, "runs/fmnist");
//   if (resume) trainer.resume();
//   trainer.run(events, &stop_flag);
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>

#include "core/noise_schedule.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "eval/validation_metric.h"
#include "models/unet.h"
#include "pipeline/checkpoint.h"
#include "pipeline/run_config.h"
#include "training/adamw.h"
#include "training/ema.h"
#include "training/loss_scaler.h"
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
  /// Validation metric (training.eval_every > 0): its name ("kid", "fd"; empty when off), the
  /// latest value and the best so far with its step (NaN / −1 before the first evaluation), and
  /// the seconds the latest evaluation took.
  std::string eval_name;
  double eval = std::numeric_limits<double>::quiet_NaN();
  double best_eval = std::numeric_limits<double>::quiet_NaN();
  int64_t best_eval_step = -1;
  double eval_seconds = 0;
};

struct TrainEvents {
  /// Every log_every steps and at the end.
  std::function<void(const TrainProgress&)> on_progress;
  /// A file a person may want to open: ("samples", path), ("checkpoint", path) or ("best",
  /// path) when checkpoints/best was rewritten.
  std::function<void(const std::string& kind, const std::filesystem::path&)> on_file;
};

class Trainer {
 public:
  /// Creates the run directory and writes config.json. The dataset's shape must match the model.
  Trainer(RunConfig config, Dataset data, std::filesystem::path run_dir);

  /// Continues from RUN/checkpoints/latest: weights, EMA, optimizer, step, RNG and loader state.
  void resume();

  /// Trains until total_steps(), or until *stop turns true (then checkpoints and returns). A
  /// fresh run (no resume()) with training.init first copies those weights into the model and
  /// the EMA (see load_init_weights).
  void run(const TrainEvents& events = {}, const std::atomic<bool>* stop = nullptr);

  int64_t step() const { return step_; }
  int64_t total_steps() const { return total_steps_; }
  UNet& model() { return model_; }
  EMA& ema() { return *ema_; }
  const std::filesystem::path& run_dir() const { return run_dir_; }

  /// Copies the weights of training.init (load_model; ema or raw per training.init_weights) into
  /// the model and the EMA. Throws std::invalid_argument when that model's architecture differs
  /// from the run's (architecture_differences), as load_model does for missing files or tensors.
  void load_init_weights();

  /// Writes RUN/checkpoints/latest now.
  void save_checkpoint();
  /// Measures the validation metric with the EMA weights (training.eval_every must be > 0);
  /// returns its value and rewrites RUN/checkpoints/best when it beats the best so far.
  double evaluate();
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
  LossScaler loss_scaler_{false};  ///< enabled for training.precision fp16
  std::unique_ptr<BatchLoader> loader_;
  torch::Generator generator_;  ///< t, ε and flips
  int64_t step_ = 0;
  int64_t total_steps_ = 0;
  bool started_ = false;  ///< the weights are settled: training.init loaded, or resumed
  double elapsed_seconds_ = 0;
  std::unique_ptr<ValidationMetric> metric_;  ///< set when training.eval_every > 0
  double best_eval_ = std::numeric_limits<double>::quiet_NaN();
  int64_t best_eval_step_ = -1;
  /// latest / best checkpoint contents (state.json carries the best metric, so resume keeps it).
  Checkpoint make_checkpoint();
};

}  // namespace ddpm
