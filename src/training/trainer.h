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
//
// Faults (issue 13): a step whose loss or gradient is not finite is skipped (weights, EMA and
// optimizer state untouched) and training.max_bad_steps of them in a row stop the run with a
// TrainingDiverged naming the first step and tensor; a checkpoint is never written with
// non-finite values (checked before writing), so checkpoints/latest stays the last finite state.
//
// Data-parallel (issue 16, DataParallel below): every rank of the job runs a Trainer on the same
// config and data. training.batch_size is the global batch: each step every rank draws the global
// batch's rows, flips, label drops, t and ε from the same generators, takes its slice, and the
// gradients are averaged across ranks (training/gradient_reducer.h), so N ranks reach the weights
// one process would (to float rounding; BatchNorm normalizes per rank and dropout masks differ,
// as with PyTorch DDP). Rank 0 alone writes the run folder (config, log, grids, checkpoints,
// evaluations); the others wait for it with ProcessGroup::meet. The run folder and the data must
// be reachable from every rank (one machine, or a shared filesystem).
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/noise_schedule.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "eval/validation_metric.h"
#include "models/unet.h"
#include "runs/checkpoint.h"
#include "runs/codec.h"
#include "runs/run_config.h"
#include "training/adamw.h"
#include "training/bad_steps.h"
#include "training/ema.h"
#include "training/gradient_reducer.h"
#include "training/loss_scaler.h"
#include "training/process_group.h"
#include "training/sync_batch_norm.h"
#include "training/train_step.h"
#include "training/training_log.h"

namespace ddpm {

struct TrainProgress {
  int64_t step = 0;         ///< optimizer steps done
  int64_t total_steps = 0;  ///< steps the run will reach
  double loss = 0;          ///< mean finite loss since the last report (NaN: every step skipped)
  double lr = 0;
  double images_per_second = 0;
  double elapsed_seconds = 0;  ///< training time, summed across resumes
  double eta_seconds = 0;
  /// Data-parallel: the share of step time spent waiting for the gradient all-reduce after
  /// backward (the communication backward did not hide); 0 in one process.
  double communication_share = 0;
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
  /// A skipped step: its number, what went non-finite ("loss" or a parameter's name, whose
  /// gradient it was) and how many steps in a row have now been skipped.
  std::function<void(int64_t step, const std::string& tensor, int64_t consecutive)> on_bad_step;
};

/// How this trainer shares the work: alone (no group), or as one rank of a c10d job.
struct DataParallel {
  std::shared_ptr<ProcessGroup> group;  ///< null: one process
  BucketOptions buckets;                ///< gradient all-reduce buckets and overlap
  /// BatchNorm with the whole global batch's statistics (training/sync_batch_norm.h); off:
  /// each rank normalizes with its own slice, as PyTorch DDP does by default.
  bool sync_batch_norm = false;
};

class Trainer {
 public:
  /// Creates the run directory and writes config.json. `codec` maps the images to the model's
  /// space: the data's pixel normalization when absent, or an autoencoder (latent diffusion; the
  /// training images are then encoded once, see prepare_latents). The decoded shape must match
  /// the data's images.
  /// With `parallel.group`, this is one rank of a data-parallel job (see the head of this file);
  /// training.batch_size must then be a multiple of the world size.
  Trainer(RunConfig config, Dataset data, std::filesystem::path run_dir,
          std::optional<Codec> codec = std::nullopt, DataParallel parallel = {});

  /// Latent runs: encodes the training images through the codec's autoencoder, or reads them
  /// from RUN/latents.safetensors when that cache holds this autoencoder's latents of this data
  /// (training/latent_cache.h). run() calls it when it has not been; `progress(done, total)`.
  void prepare_latents(const std::function<void(int64_t, int64_t)>& progress = {});

  /// Continues from RUN/checkpoints/latest: weights, EMA, optimizer, step, RNG and loader state.
  void resume();

  /// Trains until total_steps(), or until *stop turns true (then finishes the step in hand,
  /// checkpoints and returns). A fresh run (no resume()) with training.init first copies those
  /// weights into the model and the EMA (see load_init_weights). Throws TrainingDiverged (see
  /// the head of this file), and std::runtime_error naming the file when a checkpoint, grid or
  /// log row cannot be written; the previous checkpoint is then left as it was.
  void run(const TrainEvents& events = {}, const std::atomic<bool>* stop = nullptr);

  int64_t step() const { return step_; }
  int64_t total_steps() const { return total_steps_; }
  UNet& model() { return model_; }
  EMA& ema() { return *ema_; }
  const std::filesystem::path& run_dir() const { return run_dir_; }
  int rank() const { return group_ ? group_->rank() : 0; }
  int world_size() const { return group_ ? group_->size() : 1; }
  /// Seconds the last step waited for gradient communication (0 in one process).
  double last_communication_seconds() const { return reducer_ ? reducer_->last_wait_seconds() : 0; }

  /// Copies the weights of training.init (load_model; ema or raw per training.init_weights) into
  /// the model and the EMA. Throws std::invalid_argument when that model's architecture differs
  /// from the run's (architecture_differences), as load_model does for missing files or tensors.
  void load_init_weights();

  /// Writes RUN/checkpoints/latest now (refused, throwing, when a weight is not finite).
  void save_checkpoint();
  /// Measures the validation metric with the EMA weights (training.eval_every must be > 0);
  /// returns its value and rewrites RUN/checkpoints/best when it beats the best so far.
  double evaluate();
  /// Draws the periodic grid with the EMA weights; returns its path.
  std::filesystem::path save_sample_grid();

 private:
  RunConfig config_;
  Dataset data_;
  Codec codec_;                  ///< images ↔ model space: pixels, or an autoencoder's latents
  torch::Tensor train_latents_;  ///< latent runs: float [N_train, C', s, s] (prepare_latents)
  std::filesystem::path run_dir_;
  torch::Device device_;
  NoiseSchedule schedule_;
  UNet model_{nullptr};
  std::unique_ptr<EMA> ema_;
  std::unique_ptr<AdamW> optimizer_;
  LossScaler loss_scaler_{false};  ///< enabled for training.precision fp16
  std::unique_ptr<BatchLoader> loader_;
  /// One generator per source of randomness, each drawn for the global batch.
  torch::Generator noise_generator_;     ///< t and ε
  torch::Generator augment_generator_;   ///< horizontal flips
  torch::Generator labels_generator_;    ///< label dropout
  std::shared_ptr<ProcessGroup> group_;  ///< data-parallel job, or null
  std::unique_ptr<BucketedAllReduce> reducer_;
  std::unique_ptr<SyncBatchNorm> sync_batch_norm_;
  std::unique_ptr<TrainStep> train_step_;
  /// Rank 0 does the work of the run folder; every rank then meets (no-op in one process).
  void meet(const std::string& tag);
  bool writes_files() const { return rank() == 0; }
  int64_t step_ = 0;
  int64_t total_steps_ = 0;
  bool started_ = false;  ///< the weights are settled: training.init loaded, or resumed
  double elapsed_seconds_ = 0;
  std::unique_ptr<ValidationMetric> metric_;  ///< set when training.eval_every > 0
  double best_eval_ = std::numeric_limits<double>::quiet_NaN();
  int64_t best_eval_step_ = -1;
  int64_t latest_step_ = -1;  ///< step of RUN/checkpoints/latest (-1: none yet), for messages
  /// latest / best checkpoint contents (state.json carries the best metric, so resume keeps it).
  Checkpoint make_checkpoint();
};

}  // namespace ddpm
