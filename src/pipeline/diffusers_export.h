// Writing a model as a diffusers model folder, the files UNet2DModel.from_pretrained and
// DDPMScheduler / DDIMScheduler.from_pretrained read (diffusers 0.21.4 ModelMixin.save_pretrained
// with safe_serialization, SchedulerMixin.save_pretrained):
//
//   OUT/config.json                           UNet2DModel config, every key (diffusers_format.h)
//   OUT/diffusion_pytorch_model.safetensors   F32 weights, current key spelling, {"format": "pt"}
//   OUT/scheduler_config.json                 DDIMScheduler or DDPMScheduler (scheduler_config.h)
//
// A latent model is written as a pipeline folder instead (DiffusionPipeline.save_pretrained's
// layout), the layout load_model reads as vae.decode(latents / scaling_factor):
//
//   OUT/model_index.json                      unet, scheduler, vae components
//   OUT/unet/  OUT/scheduler/  OUT/vae/       UNet2DModel, the scheduler, AutoencoderKL/VQModel
//
//   auto loaded = load_model("runs/fmnist", WeightsKind::ema, torch::kCPU);
//   export_diffusers(loaded.config, state_dict(*loaded.model), "fmnist-diffusers");
//   export_latent_pipeline(latent.config, state_dict(*latent.model), latent.codec,
//                          "latent-pipeline");
#pragma once
#include <filesystem>

#include "io/safetensors.h"
#include "runs/codec.h"
#include "runs/run_config.h"

namespace ddpm {

/// Checks everything first (the model must be expressible as UNet2DModel, the sampling settings
/// as a scheduler config, `weights` must hold exactly the model's tensors), then writes the three
/// files into `out`, created if needed. Throws std::invalid_argument naming the reason a model
/// cannot be exported, std::runtime_error when `out` is a file or a folder that is not empty.
void export_diffusers(const RunConfig& config, const TensorMap& weights,
                      const std::filesystem::path& out);

/// A latent model as a pipeline folder: unet/ and scheduler/ as export_diffusers writes them,
/// vae/ (the codec's autoencoder, its scaling_factor set to the codec's latent scale, so that
/// vae.decode(latents / scaling_factor) decodes as the model was trained; an LDM VQ pipeline's
/// unscaled latents export with 1) and
/// model_index.json listing the three (_class_name DiffusionPipeline: diffusers 0.21.4 has no
/// pipeline class for an unconditional UNet over an AutoencoderKL). Same checks and errors.
void export_latent_pipeline(const RunConfig& config, const TensorMap& weights, const Codec& codec,
                            const std::filesystem::path& out);

}  // namespace ddpm
