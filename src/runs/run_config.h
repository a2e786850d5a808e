// RunConfig: everything that defines a training run and how its model is sampled, as plain
// structs with in-class defaults (DESIGN rule 5). One resolution path for files and flags:
//
//   defaults → configs/<preset>.json → --config FILE.json → flags
//
// each layer a JSON merge patch (RFC 7386) over the previous one, then one strict parse, so an
// unknown key or bad value anywhere is an error naming what is allowed. The resolved config is
// written as config.json into the run directory.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/beta_schedule.h"
#include "core/prediction.h"
#include "core/timesteps.h"
#include "data/dataset.h"
#include "models/precision.h"
#include "models/unet_config.h"
#include "samplers/sampler_config.h"

namespace ddpm {

/// mse: L_simple (DDPM eq. 14); l1: the Keras example's mean absolute error; hybrid: improved
/// DDPM's L_simple + L_vlb with learned variances (§3.1; a network of 2·C output channels).
enum class LossType { mse, l1, hybrid };
template <>
const EnumTable<LossType>& enum_table<LossType>();

/// The quick validation metric of training (training.eval_metric): KID or the Fréchet distance.
enum class EvalMetric { kid, fd };
template <>
const EnumTable<EvalMetric>& enum_table<EvalMetric>();

/// Which weights of one of our checkpoints: the EMA copy (what sampling uses) or the online ones.
enum class WeightsKind { ema, raw };
template <>
const EnumTable<WeightsKind>& enum_table<WeightsKind>();

struct TrainingConfig {
  /// Optimizer steps to run in total (0: use epochs). Counted across resumes.
  int64_t steps = 0;
  /// Passes over the training split when steps is 0.
  int64_t epochs = 0;
  /// Images per step; DDPM used 128, 64 suits 2 CPU cores.
  int64_t batch_size = 64;
  /// AdamW learning rate; DDPM's 2e-4.
  double lr = 2e-4;
  /// AdamW decoupled weight decay; the Keras example's 1e-4, DDPM used none.
  double weight_decay = 0.0;
  /// AdamW β₁, β₂ and ε (PyTorch defaults).
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  /// Linear learning-rate warmup over this many steps (DDPM: 5000 on CIFAR-10).
  int64_t warmup_steps = 0;
  /// Clip the global gradient norm to this (DDPM: 1.0); 0 disables.
  double grad_clip = 1.0;
  /// Stop the run with an error after this many consecutive steps whose loss or gradient is
  /// not finite (each such step is skipped: weights, EMA and optimizer state untouched). 5 rides
  /// out a rare overflow; a diverged run stops within seconds. fp16 loss-scaling overflows are
  /// the scaler's own skips and do not count.
  int64_t max_bad_steps = 5;
  /// The objective: mse (DDPM L_simple), l1 (Keras example) or hybrid (improved DDPM L_hybrid).
  LossType loss = LossType::mse;
  /// EMA decay of the weights used for sampling (DDPM: 0.9999; Keras: 0.999).
  double ema_decay = 0.9999;
  /// Use decay min(ema_decay, (1 + step)/(10 + step)) so short runs get a useful EMA.
  bool ema_warmup = true;
  /// Write a sample grid every this many steps (0: never).
  int64_t sample_every = 1000;
  /// Write checkpoints/latest every this many steps (and always at the end).
  int64_t checkpoint_every = 1000;
  /// Append a log.csv row every this many steps.
  int64_t log_every = 10;
  /// Images in each periodic grid and DDIM steps used to draw them.
  int64_t sample_images = 64;
  int64_t sample_steps = 50;
  /// Seed of every random choice in the run (init, batches, t, noise, dropout).
  uint64_t seed = 0;
  /// "auto" (cuda when available), "cpu", "cuda" or "cuda:N".
  std::string device = "auto";
  /// Autocast for the forward pass and the loss (models/precision.h): fp32, bf16, or fp16 (CUDA
  /// only, with dynamic loss scaling, training/loss_scaler.h). Weights, gradients and the
  /// optimizer stay float32.
  Precision precision = Precision::fp32;
  /// Weights a fresh run starts from (ddpm train --init): a run directory, checkpoint folder or
  /// diffusers model/pipeline folder whose architecture the model must have. Empty: LibTorch's
  /// initialisation, seeded. Resuming ignores it (the checkpoint holds the weights).
  std::string init;
  /// Which weights of `init` when it is one of our runs: ema (what sampling uses) or raw.
  WeightsKind init_weights = WeightsKind::ema;
  /// CPU threads for intra-op parallelism (0: every core).
  int64_t threads = 0;
  /// Measure sample quality every this many steps (0: never), keep checkpoints/best/ by it, log
  /// it in log.csv (eval_<metric>) and the progress line (eval/validation_metric.h).
  int64_t eval_every = 0;
  /// kid (the Keras DDIM example's choice: unbiased, meaningful with few samples) or fd.
  EvalMetric eval_metric = EvalMetric::kid;
  /// EMA samples drawn per evaluation, compared with as many validation images; 256 keeps an
  /// evaluation to a few seconds on a CPU.
  int64_t eval_samples = 256;
  /// DDIM steps per sample; the Keras example's kid_diffusion_steps = 5.
  int64_t eval_steps = 5;
  /// FID Inception weights for the metric's features; empty: the shipped Fashion-MNIST
  /// classifier (1-channel 28/32 px data only).
  std::string eval_inception;
  /// Class-conditional runs: the share of labels replaced by the null class, drawn per image
  /// from the run's generator (classifier-free guidance training, Ho & Salimans 2022; 0.1 as
  /// their ImageNet runs and DiT).
  double label_dropout = 0.1;
};

/// The classes of a class-conditional run (ddpm train --class-conditional): K real classes
/// taken from the data (Fashion-MNIST's ten, or one per sub-folder of an image folder) and one
/// null class at index K for classifier-free guidance, so model.num_class_embeds = K + 1.
struct ClassesConfig {
  /// Train and sample with class labels.
  bool conditional = false;
  /// K, set from the data when the run starts.
  int64_t num_classes = 0;
  /// The label of the null class (K for our runs); −1: none known (a diffusers folder; sampling
  /// then takes --null-class).
  int64_t null_class = -1;
  /// Class names, K of them, in label order; empty when unknown (labels are then named by number).
  std::vector<std::string> names;
};

struct SamplingConfig {
  /// The sampler and its options (samplers/sampler_config.h); written flat into the "sampling"
  /// section of config.json beside the two fields below.
  SamplerConfig sampler;
  /// Autocast for the network (models/precision.h); the sampler's arithmetic stays float32.
  Precision precision = Precision::fp32;
  /// Replay the network from a CUDA graph (models/cuda_graph_denoiser.h); CUDA devices only.
  bool cuda_graphs = false;
  /// Classifier-free guidance scale w of class-conditional models (samplers/guidance.h): 1 is
  /// the conditional model alone, 0 the unconditional one.
  double guidance_scale = 1.0;
};

struct RunConfig {
  /// The named recipe this run started from (configs/<preset>.json).
  std::string preset = "fashion-mnist";
  UNetConfig model;
  ScheduleConfig schedule;
  /// What the network predicts: epsilon (DDPM), sample or v_prediction.
  PredictionType prediction_type = PredictionType::epsilon;
  DataConfig data;
  ClassesConfig classes;
  TrainingConfig training;
  SamplingConfig sampling;
  /// Latent diffusion (ddpm train --autoencoder): the autoencoder folder the run was started
  /// with, for the record; the run keeps its own copy in RUN/autoencoder/, which loading uses.
  /// Empty (and absent from config.json): the model works on pixels.
  std::string autoencoder;
};

nlohmann::json to_json(const RunConfig& config);
/// Strict parse of a complete config (as written by to_json).
RunConfig run_config_from_json(const nlohmann::json& json);

/// Names of the recipes in configs/ (embedded in the binary at build time).
std::vector<std::string> preset_names();
/// The recipe's JSON (comments stripped); throws naming the allowed presets.
nlohmann::json preset_json(const std::string& name);

/// JSON merge patch of `patch` onto a resolved config, with one rule for the run's length: a
/// patch that sets training.epochs but not training.steps sets steps to 0, so `--epochs N`
/// replaces a preset's step count instead of being ignored under it. A patch that sets both
/// above 0 is an error (the run is measured in one or the other).
void merge_run_config_patch(nlohmann::json& resolved, const nlohmann::json& patch);

/// Resolves defaults → preset → each patch in order (config file, then flags). The preset is
/// patches' "preset" key if any, else `preset`. Model size and channels follow the data later,
/// in resolve_data_shape, unless a patch sets them.
RunConfig resolve_run_config(const std::string& preset, const std::vector<nlohmann::json>& patches);

/// Sets model.sample_size/in_channels/out_channels from the data unless `patches` set them, then
/// validates the model against that image size. Throws naming the mismatch.
/// A class-conditional run (classes.conditional) takes its classes from the data: K and the
/// names, null class K, and model.num_class_embeds K + 1 unless a patch set it (then it must be
/// K + 1). Throws std::invalid_argument when the data has no labels (`no_labels_reason` says
/// why) or fewer than 2 classes, and when classes.conditional is false but the model has
/// num_class_embeds.
void resolve_classes(RunConfig& config, const std::vector<nlohmann::json>& patches,
                     const std::vector<std::string>& class_names, bool has_labels,
                     const std::string& no_labels_reason);

void resolve_data_shape(RunConfig& config, const std::vector<nlohmann::json>& patches,
                        int64_t image_size, int64_t channels);

/// Parses JSON text that may hold // comments (the configs/ recipes do).
nlohmann::json parse_json_with_comments(const std::string& text, const std::string& origin);

}  // namespace ddpm
