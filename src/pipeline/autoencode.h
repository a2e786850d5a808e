// One pass of an autoencoder over given images (ddpm autoencode): its latents and reconstruction,
// to compare this implementation with diffusers' AutoencoderKL / VQModel tensor for tensor.
//
//   auto ae = load_autoencoder(find_autoencoder_folder("ldm-pipeline"), torch::kCPU);
//   auto x = read_autoencode_input("in.safetensors", ae->config());
//   write_safetensors("out.safetensors", autoencode(ae, x, 16));
#pragma once
#include <torch/torch.h>

#include <filesystem>

#include "io/safetensors.h"
#include "models/autoencoder.h"

namespace ddpm {

/// Tensor "x" (float [B, in_channels, H, W], H and W positive multiples of the downsample factor,
/// values finite) from a safetensors file, as float32. Throws std::runtime_error naming the file
/// and the fault.
torch::Tensor read_autoencode_input(const std::filesystem::path& file,
                                    const AutoencoderConfig& config);

/// Without gradients, `batch_size` images at a time, on the CPU as float32:
///   AutoencoderKL: latent_mean, latent_logvar and reconstruction (the decode of the mean);
///   VQModel:       latents (encoder + quant_conv), quantized, and reconstruction (decode of
///                  the latents, which quantizes them, as diffusers).
TensorMap autoencode(Autoencoder& autoencoder, const torch::Tensor& x, int64_t batch_size);

}  // namespace ddpm
