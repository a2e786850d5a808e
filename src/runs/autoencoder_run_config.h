// AutoencoderRunConfig: everything that defines an autoencoder training run (ddpm
// train-autoencoder), resolved like RunConfig: defaults → configs/autoencoders/<preset>.json →
// --config FILE.json → flags, each a JSON merge patch, then one strict parse. Written as
// config.json into the run folder.
//
//   auto c = resolve_autoencoder_run_config("fashion-mnist-kl", {flags_patch});
//   nlohmann::json j = to_json(c);
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/autoencoder_config.h"

namespace ddpm {

/// The reconstruction term: l1 (LDM's autoencoders; sharper) or mse (L2).
enum class ReconstructionLoss { l1, mse };
template <>
const EnumTable<ReconstructionLoss>& enum_table<ReconstructionLoss>();

struct AutoencoderTrainingConfig {
  /// Optimizer steps in total, counted across resumes.
  int64_t steps = 4000;
  /// Images per step.
  int64_t batch_size = 32;
  /// Adam learning rate, and β₁ β₂ = 0.5, 0.9 as LDM's autoencoders (taming-transformers).
  double lr = 2e-4;
  double adam_beta1 = 0.5;
  double adam_beta2 = 0.9;
  double adam_eps = 1e-8;
  double weight_decay = 0.0;
  /// Linear learning-rate warmup steps.
  int64_t warmup_steps = 100;
  /// Clip the global gradient norm to this; 0 disables.
  double grad_clip = 1.0;
  /// Stop after this many consecutive steps with a non-finite loss or gradient (each skipped).
  int64_t max_bad_steps = 5;
  /// The reconstruction loss, summed over pixels per image as LDM does (reported per pixel).
  ReconstructionLoss reconstruction_loss = ReconstructionLoss::l1;
  /// KL (AutoencoderKL) weight against the reconstruction, per image: LDM's kl_weight 1e-6 keeps
  /// the latents close to deterministic while bounding their scale.
  double kl_weight = 1e-6;
  /// VQ commitment weight β of ‖z − sg[e]‖² (VQ-VAE's 0.25).
  double vq_beta = 0.25;
  /// EMA decay of the weights that are exported and evaluated.
  double ema_decay = 0.999;
  /// Use decay min(ema_decay, (1 + step)/(10 + step)) so short runs get a useful EMA.
  bool ema_warmup = true;
  /// Write a reconstruction grid (validation images over their EMA reconstructions) every this
  /// many steps (0: only at the end), a checkpoint every checkpoint_every, a log row every
  /// log_every.
  int64_t sample_every = 1000;
  int64_t checkpoint_every = 500;
  int64_t log_every = 10;
  /// Validation images in each reconstruction grid.
  int64_t sample_images = 16;
  /// Held-out images the final PSNR is measured on (all of the validation split when fewer).
  int64_t eval_images = 1000;
  /// Training images whose latents give scaling_factor = 1 / std (LDM's scale_by_std uses one
  /// batch; more gives a steadier estimate).
  int64_t scale_images = 1024;
  /// Seed of every random choice (init, batches, posterior samples).
  uint64_t seed = 0;
  /// "auto", "cpu", "cuda" or "cuda:N".
  std::string device = "auto";
  /// CPU threads (0: every core).
  int64_t threads = 0;
};

struct AutoencoderRunConfig {
  /// The recipe this run started from (configs/autoencoders/<preset>.json).
  std::string preset = "fashion-mnist-kl";
  /// The network, in diffusers' AutoencoderKL / VQModel terms (in_channels and sample_size
  /// follow the data when the recipe leaves them 0).
  AutoencoderConfig model;
  DataConfig data;
  AutoencoderTrainingConfig training;
};

nlohmann::json to_json(const AutoencoderRunConfig& config);
/// Strict parse: unknown keys and bad values throw std::invalid_argument naming what is allowed.
AutoencoderRunConfig autoencoder_run_config_from_json(const nlohmann::json& json);

/// The names of configs/autoencoders/*.json.
std::vector<std::string> autoencoder_preset_names();

/// Defaults, then the preset, then each patch in order (JSON merge patches), then the strict
/// parse. A patch may name another "preset". Throws std::invalid_argument.
AutoencoderRunConfig resolve_autoencoder_run_config(const std::string& preset,
                                                    const std::vector<nlohmann::json>& patches);

/// Sets the number of levels so the images are downsampled `factor`× (a power of two ≥ 1): the
/// recipe's block_out_channels cut or extended with their last width. Throws for other factors.
void set_downsample_factor(AutoencoderConfig& config, int64_t factor);

}  // namespace ddpm
