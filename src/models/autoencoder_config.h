// AutoencoderConfig: the image autoencoders of latent diffusion (Rombach et al. 2022), in diffusers
// 0.21.4's two classes: AutoencoderKL (src/diffusers/models/autoencoder_kl.py) and VQModel
// (vq_model.py), both an Encoder and a Decoder from models/vae.py. The field names are the
// config.json keys of those classes (runs/diffusers_autoencoder_format.h reads and writes them).
//
//   AutoencoderConfig c;                      // AutoencoderKL, 3 channels, 4 latent channels
//   c.block_out_channels = {64, 128, 128};    // three levels: images downsampled 4×
//   validate(c);                              // throws naming the bad field
//   downsample_factor(c) == 4;  latent_shape(c) == {4, 8, 8} for sample_size 32
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/enum_table.h"

namespace ddpm {

/// Which latent space the autoencoder has.
enum class AutoencoderKind {
  kl,  ///< "kl": AutoencoderKL, a diagonal Gaussian posterior; diffusion runs on its mean
  vq,  ///< "vq": VQModel, a codebook quantizer applied inside decode (as diffusers)
};
template <>
const EnumTable<AutoencoderKind>& enum_table<AutoencoderKind>();

struct AutoencoderConfig {
  AutoencoderKind kind = AutoencoderKind::kl;
  /// Image channels in and out (3 RGB; 1 for Fashion-MNIST).
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  /// Widths of the encoder levels (the decoder mirrors them); each level but the last halves the
  /// image, so L levels downsample 2^(L−1)×.
  std::vector<int64_t> block_out_channels{64};
  /// Residual blocks per encoder level; the decoder has one more per level (diffusers).
  int64_t layers_per_block = 1;
  /// Channels of the latent image the diffusion model sees (the LDM f=4/8 models use 3 or 4).
  int64_t latent_channels = 4;
  /// GroupNorm groups of every norm (eps is fixed at 1e-6, as diffusers' VAE).
  int64_t norm_num_groups = 32;
  /// The image side the autoencoder was trained at (square).
  int64_t sample_size = 32;
  /// Latents are multiplied by this before diffusion (LDM's scale-by-std: 1 / std of the
  /// training latents); 0.18215 is Stable Diffusion's value and diffusers' default.
  double scaling_factor = 0.18215;
  /// VQ: codebook entries and their width (0: latent_channels, as diffusers' None).
  int64_t num_vq_embeddings = 256;
  int64_t vq_embed_dim = 0;
};

/// Keys = field names, kind as "kl" / "vq" (this project's run files; runs/autoencoder_format.h
/// reads and writes diffusers' config.json).
nlohmann::json to_json(const AutoencoderConfig& config);
/// Strict parse (unknown keys and bad values are errors naming what is allowed); absent keys keep
/// their defaults. Does not validate(). Throws std::invalid_argument.
AutoencoderConfig autoencoder_config_from_json(const nlohmann::json& json);

/// Throws std::invalid_argument naming the first bad field (non-positive channels or sizes,
/// groups not dividing a width, sample_size not divisible by the downsample factor, ...).
void validate(const AutoencoderConfig& config);

/// 2^(levels − 1): how many pixels one latent position covers along each side.
int64_t downsample_factor(const AutoencoderConfig& config);

/// {latent_channels, sample_size / f, sample_size / f}: the shape the diffusion model works in.
std::vector<int64_t> latent_shape(const AutoencoderConfig& config);

/// The width of the quantizer's codebook vectors: vq_embed_dim, or latent_channels when 0.
int64_t codebook_dim(const AutoencoderConfig& config);

}  // namespace ddpm
