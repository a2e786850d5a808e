// Training the autoencoder of latent diffusion (ddpm train-autoencoder), in the same run-folder
// layout as the diffusion trainer (training/trainer.h):
//
//   RUN/config.json                  the resolved AutoencoderRunConfig
//   RUN/log.csv                      step,loss,lr,grad_norm,images_per_s,seconds
//   RUN/samples/step_003000.png      validation images (top) over their EMA reconstructions
//   RUN/checkpoints/latest/          model, ema, optimizer .safetensors + state.json
//   RUN/autoencoder/                 the EMA weights in diffusers' layout (config.json with the
//                                    measured scaling_factor + diffusion_pytorch_model.safetensors)
//   RUN/metrics.json                 held-out PSNR, latent std and scaling_factor
//
// Objective (Rombach et al. 2022, ldm/modules/losses; Esser et al. 2021 for VQ): AutoencoderKL
// minimises the reconstruction loss of a posterior sample z = μ + σ·ε plus kl_weight × KL(q(z|x)
// ‖ N(0, I)) per image; VQModel the reconstruction of the straight-through quantized latents plus
// the codebook and β-weighted commitment terms. Both report the loss per pixel. After training,
// scaling_factor = 1 / std of the (mean) latents of the training images (LDM's scale_by_std).
//
//   AutoencoderTrainer t(config, dataset, "runs/ae");
//   t.run(events, &stop);
//   auto result = t.finish();      // PSNR, scaling factor; writes RUN/autoencoder/
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <memory>

#include "data/dataset.h"
#include "data/loader.h"
#include "models/autoencoder.h"
#include "runs/autoencoder_run_config.h"
#include "runs/codec.h"
#include "training/adamw.h"
#include "training/trainer.h"

namespace ddpm {

struct AutoencoderResult {
  int64_t step = 0;
  double psnr_db = 0;  ///< held-out images vs their EMA reconstructions, 8-bit pixels
  double mse = 0;      ///< the same as a mean squared error of pixels in [0, 1]
  int64_t eval_images = 0;
  double latent_std = 0;  ///< std of the training latents (KL: posterior means)
  double scaling_factor = 0;
};

class AutoencoderTrainer {
 public:
  /// Creates the run folder and writes config.json. The data must be [-1, 1] images of the
  /// model's channels and sample_size.
  AutoencoderTrainer(AutoencoderRunConfig config, Dataset data, std::filesystem::path run_dir);
  /// Continues from RUN/checkpoints/latest: weights, EMA, optimizer, step, RNG and loader state.
  void resume();
  /// Trains until training.steps or until *stop turns true (finishes the step in hand,
  /// checkpoints, returns). Throws TrainingDiverged after max_bad_steps non-finite steps in a
  /// row, std::runtime_error naming the file when a write fails.
  void run(const TrainEvents& events = {}, const std::atomic<bool>* stop = nullptr);
  /// Measures PSNR on held-out images and the latent scale with the EMA weights, and writes
  /// RUN/autoencoder/ and RUN/metrics.json.
  AutoencoderResult finish();

  void save_checkpoint();
  std::filesystem::path save_reconstruction_grid();

  int64_t step() const { return step_; }
  int64_t total_steps() const { return config_.training.steps; }
  Autoencoder& model() { return model_; }
  Autoencoder& ema_model() { return ema_; }
  const std::filesystem::path& run_dir() const { return run_dir_; }

 private:
  /// The per-pixel loss of one batch x [B, C, S, S] in [-1, 1].
  torch::Tensor loss(const torch::Tensor& x);
  /// The images grids and PSNR are measured on: the validation split, or the training split when
  /// a folder holds none out.
  const torch::Tensor& held_out() const;

  AutoencoderRunConfig config_;
  Dataset data_;
  std::filesystem::path run_dir_;
  torch::Device device_;
  Autoencoder model_{nullptr}, ema_{nullptr};
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<BatchLoader> loader_;
  torch::Generator generator_;  ///< posterior samples
  int64_t step_ = 0;
  int64_t latest_step_ = -1;  ///< step of checkpoints/latest (−1: none written)
  double elapsed_seconds_ = 0;
};

}  // namespace ddpm
