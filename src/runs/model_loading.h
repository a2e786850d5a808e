// Loading a model for sampling, prediction, export or fine-tuning, from any of the folder layouts
// below, detected by the files present:
//
//   run directory        config.json (RunConfig) + checkpoints/latest/          (ddpm train)
//   checkpoint folder    state.json + model.safetensors [+ ema.safetensors], with the run's
//                        config.json beside it or two levels up               (ddpm train)
//   diffusers model      config.json (UNet2DModel) + diffusion_pytorch_model.safetensors, with
//                        scheduler_config.json beside it, in scheduler/, or in ../scheduler/ of
//                        a pipeline                                (save_pretrained, ddpm export)
//   diffusers pipeline   model_index.json + unet/ (a diffusers model) + scheduler/, and for
//                        latent diffusion an autoencoder: vqvae/ (LDMPipeline: decoded as
//                        vqvae.decode(latents), unscaled) or vae/ (decoded as
//                        vae.decode(latents / scaling_factor), as Stable Diffusion)
//   ermongroup/ddim      config.yml + ckpt.pth (training list) or one *.ckpt state dict
//                        (runs/ddim_official_format.h; DDIM's and pytorch_diffusion's releases)
//   improved-diffusion   args.json (training flags) + *.pt state dict
//                        (runs/improved_diffusion_format.h)
//
//   auto loaded = load_model("runs/fmnist", WeightsKind::ema, torch::kCPU);
//   auto google = load_model("ddpm-cifar10-32", WeightsKind::ema, torch::kCPU);  // diffusers
//   generate(loaded.model, loaded.schedule, loaded.config.prediction_type, ...);
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/noise_schedule.h"
#include "models/unet.h"
#include "runs/codec.h"
#include "runs/run_config.h"

namespace ddpm {

/// Which of the layouts above a folder is.
enum class ModelLayout {
  run_directory,
  checkpoint,
  diffusers_model,
  diffusers_pipeline,
  ddim_official,
  improved_diffusion
};
template <>
const EnumTable<ModelLayout>& enum_table<ModelLayout>();

struct LoadedModel {
  /// Our run's config; for diffusers folders the model from config.json, schedule, prediction
  /// type and sampling defaults from scheduler_config.json (RunConfig's defaults without one),
  /// and data shaped like the model's samples (a latent pipeline's: the decoded images) in
  /// [-1, 1].
  RunConfig config;
  UNet model{nullptr};  ///< in eval mode, on the requested device
  /// Between images and the model's space: config.data's pixel normalization, or a latent
  /// pipeline's autoencoder (on the same device, eval mode). Encode and decode only through it.
  Codec codec;
  /// A latent model's autoencoder folder; empty for pixel models.
  std::filesystem::path autoencoder_dir;
  NoiseSchedule schedule;
  ModelLayout layout = ModelLayout::run_directory;
  std::filesystem::path checkpoint_dir;  ///< the folder the weights are in
  std::filesystem::path weights_file;    ///< the .safetensors file the weights came from
  /// diffusers: the scheduler_config.json read, empty when none was found.
  std::filesystem::path scheduler_config;
  int64_t step = 0;  ///< training step the weights come from (0 for diffusers folders)
  /// Things a person should know but that did not stop the load ("unknown key ... ignored").
  std::vector<std::string> warnings;
};

/// Reads the config and the weights of `path` (any layout above), builds the UNet and copies the
/// weights in, every tensor checked by name and shape (a missing, extra or mis-shaped one is an
/// error naming it); the model is moved to `device` and put in eval mode. `weights` picks ema or
/// raw in our checkpoints (ema needs ema.safetensors); a diffusers folder holds one set of
/// weights and ignores it; ermongroup/ddim's ckpt.pth holds both (ema: its EMA shadow when
/// config.yml's model.ema is true, as its sampler) and an improved-diffusion folder may hold
/// model*.pt and ema_*.pt. The papers' formats are converted to this project's names, every
/// original key checked against the architecture their config describes. Throws naming the path and
/// what is wrong; an unrecognised folder is an error listing the accepted layouts.
LoadedModel load_model(const std::filesystem::path& path, WeightsKind weights,
                       const torch::Device& device);

/// The config load_model(path, ...) would use (architecture, schedule, prediction type,
/// sampling), read without building the model or reading its weights.
RunConfig read_model_config(const std::filesystem::path& path);

/// "auto" → cuda when available else cpu; otherwise torch::Device(text), checked for availability.
torch::Device parse_device(const std::string& text);

}  // namespace ddpm
