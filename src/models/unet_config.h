// UNetConfig: one plain struct describing every UNet this project builds, in two layouts.
//
// "diffusers" follows diffusers 0.21.4 UNet2DModel (src/diffusers/models/unet_2d.py), itself the
// DDPM network of Ho et al. 2020 (Appendix B; diffusion_tf/models/unet.py); its field names and
// JSON keys are the diffusers config.json keys, so a diffusers config maps onto it key for key.
// "keras" follows the Keras example "Denoising Diffusion Implicit Models" (A. Béres, 2022,
// keras.io/examples/generative/ddim): widths + block_depth residual blocks with a pre-BatchNorm,
// average-pool down, bilinear up, and the noise variance embedded once at the input.
//
//   UNetConfig c = model_preset("fashion-mnist");   // models/presets.h
//   c.in_channels = 1;
//   validate(c);                                     // throws naming the bad field
//   nlohmann::json j = to_json(c);                   // keys = field names
//   UNetConfig back = unet_config_from_json(j);      // unknown keys and bad enums throw
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/enum_table.h"

namespace ddpm {

/// Which published arrangement of blocks the UNet follows.
enum class UNetLayout {
  diffusers,  ///< diffusers UNet2DModel / DDPM: L down blocks, mid (resnet, attn, resnet), L up
  keras,      ///< Keras DDIM example: L−1 down blocks, block_depth mid resnets, L−1 up blocks
};
template <>
const EnumTable<UNetLayout>& enum_table<UNetLayout>();

/// The normalisation used in every residual block, attention block and before conv_out.
enum class NormType {
  group,         ///< "group": GroupNorm(norm_num_groups), affine (DDPM, diffusers)
  batch,         ///< "batch": BatchNorm2d without weight and bias (Keras center=False, scale=False)
  batch_affine,  ///< "batch-affine": BatchNorm2d with weight and bias
};
template <>
const EnumTable<NormType>& enum_table<NormType>();

/// What the network is conditioned on (the scalar per sample that forward() receives).
enum class Conditioning {
  timestep,        ///< "timestep": the step index t as a float, positional embedding (DDPM)
  noise_variance,  ///< "noise-variance": 1 − ᾱ_t, sinusoidal embedding (Keras example)
};
template <>
const EnumTable<Conditioning>& enum_table<Conditioning>();

/// Where the conditioning embedding enters the network.
enum class Injection {
  input_only,   ///< "input-only": embedding broadcast to H×W, concatenated after conv_in (Keras)
  every_block,  ///< "every-block": MLP → added in every residual block (DDPM, diffusers)
};
template <>
const EnumTable<Injection>& enum_table<Injection>();

/// How up blocks double the resolution.
enum class Upsampling {
  nearest,   ///< "nearest": nearest ×2 then a 3×3 conv (diffusers Upsample2D, use_conv)
  bilinear,  ///< "bilinear": bilinear ×2 (half-pixel centres), no conv (Keras UpSampling2D)
};
template <>
const EnumTable<Upsampling>& enum_table<Upsampling>();

/// How down blocks halve the resolution.
enum class Downsampling {
  conv,      ///< "conv": 3×3 conv, stride 2 (diffusers Downsample2D, use_conv)
  avg_pool,  ///< "avg-pool": 2×2 average pooling, no parameters (Keras AveragePooling2D)
};
template <>
const EnumTable<Downsampling>& enum_table<Downsampling>();

/// How the time embedding modulates a residual block (diffusers resnet_time_scale_shift).
enum class ResnetTimeScaleShift {
  additive,     ///< "default": h + proj(temb) after conv1
  scale_shift,  ///< "scale_shift": norm2(h)·(1 + scale) + shift (improved DDPM, AdaGN)
};
template <>
const EnumTable<ResnetTimeScaleShift>& enum_table<ResnetTimeScaleShift>();

/// diffusers down block class names: with or without self-attention after each resnet.
enum class DownBlockType {
  plain,      ///< "DownBlock2D"
  attention,  ///< "AttnDownBlock2D"
};
template <>
const EnumTable<DownBlockType>& enum_table<DownBlockType>();

/// diffusers up block class names: with or without self-attention after each resnet.
enum class UpBlockType {
  plain,      ///< "UpBlock2D"
  attention,  ///< "AttnUpBlock2D"
};
template <>
const EnumTable<UpBlockType>& enum_table<UpBlockType>();

/// How a class label enters the network (diffusers UNet2DModel class_embed_type).
enum class ClassEmbedType {
  embedding,  ///< "embedding" (diffusers null): nn.Embedding(num_class_embeds, temb), added to temb
  timestep,   ///< "timestep": TimestepEmbedding on the label's sinusoidal projection, added to temb
};
template <>
const EnumTable<ClassEmbedType>& enum_table<ClassEmbedType>();

/// Defaults are diffusers 0.21.4 UNet2DModel's where diffusers has the field (so a diffusers
/// config.json that omits a key means the same here) and diffusers' behaviour for the rest.
struct UNetConfig {
  /// Block arrangement; diffusers (DDPM) by default.
  UNetLayout layout = UNetLayout::diffusers;
  /// Height = width of the images in pixels; must be divisible by 2^(levels − 1).
  int64_t sample_size = 32;
  /// Image channels in (3 for RGB; the trainer sets it from the data).
  int64_t in_channels = 3;
  /// Output channels (= in_channels for ε, x_0 or v prediction).
  int64_t out_channels = 3;
  /// Channels per resolution level, highest resolution first (diffusers' default).
  std::vector<int64_t> block_out_channels = {224, 448, 672, 896};
  /// Residual blocks per down block (up blocks get one more in the diffusers layout); Keras'
  /// block_depth. diffusers' default 2.
  int64_t layers_per_block = 2;
  /// One entry per down block (diffusers: L, keras: L − 1), highest resolution first;
  /// AttnDownBlock2D adds self-attention after each resnet. diffusers' default.
  std::vector<DownBlockType> down_block_types = {DownBlockType::plain, DownBlockType::attention,
                                                 DownBlockType::attention,
                                                 DownBlockType::attention};
  /// One entry per up block (diffusers: L, keras: L − 1), lowest resolution first.
  std::vector<UpBlockType> up_block_types = {UpBlockType::attention, UpBlockType::attention,
                                             UpBlockType::attention, UpBlockType::plain};
  /// Self-attention in the mid block, after its first resnet (diffusers' default true).
  bool add_attention = true;
  /// Channels per attention head; 0 = one head over all channels (diffusers' null). Default 8
  /// as diffusers.
  int64_t attention_head_dim = 8;
  /// Normalisation in every block; GroupNorm as DDPM.
  NormType norm = NormType::group;
  /// Groups of every GroupNorm (norm = group); 32 as DDPM. Must divide every normed width.
  int64_t norm_num_groups = 32;
  /// ε of every norm layer; diffusers' 1e-5 (DDPM used 1e-6, Keras BatchNorm 1e-3).
  double norm_eps = 1e-5;
  /// Running-statistics momentum of BatchNorm (torch convention); Keras' 0.99 is torch's 0.01.
  double batch_norm_momentum = 0.01;
  /// The scalar the network is conditioned on; the DDPM timestep by default.
  Conditioning conditioning = Conditioning::timestep;
  /// Where that conditioning enters; every residual block as DDPM.
  Injection injection = Injection::every_block;
  /// Up-sampling in the up blocks; diffusers' nearest + conv.
  Upsampling upsampling = Upsampling::nearest;
  /// Down-sampling in the down blocks; diffusers' strided conv.
  Downsampling downsampling = Downsampling::conv;
  /// Dropout probability inside residual blocks, before conv2 (DDPM CIFAR-10: 0.1).
  double dropout = 0.0;
  /// Kernel of conv_in, 3 (diffusers) or 1 (Keras).
  int64_t conv_in_kernel = 3;
  /// Kernel of conv_out, 3 (diffusers) or 1 (Keras).
  int64_t conv_out_kernel = 3;
  /// Norm + SiLU before conv_out (diffusers conv_norm_out, conv_act); the Keras example has none.
  bool norm_out = true;
  /// Zero conv_out's weight and bias so the initial output is 0 (Keras kernel_initializer zeros).
  bool zero_init_out = false;
  /// Channels of the embedding concatenated after conv_in (injection = input-only); Keras 32.
  /// Every-block injection embeds into block_out_channels[0] channels as diffusers does.
  int64_t embedding_dim = 32;
  /// Positional embedding: cos before sin (diffusers' default true; DDPM's own code false).
  bool flip_sin_to_cos = true;
  /// Positional embedding frequencies exp(−ln(10⁴)·i/(half − freq_shift)); DDPM 1, diffusers 0.
  double freq_shift = 0.0;
  /// Padding of the stride-2 down conv; 1 (diffusers), or 0 = pad right/bottom by 1 (DDPM TF).
  int64_t downsample_padding = 1;
  /// Divides the mid block's resnet and attention outputs (diffusers mid_block_scale_factor).
  double mid_block_scale_factor = 1.0;
  /// How the time embedding enters a residual block; diffusers' "default" (added).
  ResnetTimeScaleShift resnet_time_scale_shift = ResnetTimeScaleShift::additive;
  /// Map the input from [0, 1] to [−1, 1] first (x ← 2x − 1); off, data arrives in [−1, 1].
  bool center_input_sample = false;
  /// Class labels the network is conditioned on (diffusers num_class_embeds; 0 = unconditional,
  /// diffusers' null). Our class-conditional runs have K real classes and a null class at index
  /// K for classifier-free guidance, so K + 1 (runs/run_config.h ClassesConfig).
  int64_t num_class_embeds = 0;
  /// How a label enters (num_class_embeds > 0). Its embedding is added to the time embedding
  /// (diffusers) or, in the input-only injection of the Keras layout, to the conditioning
  /// embedding concatenated after conv_in (embedding only there).
  ClassEmbedType class_embed_type = ClassEmbedType::embedding;
  /// Groups of the mid block attention's GroupNorm (diffusers attn_norm_num_groups); 0 = diffusers'
  /// null: norm_num_groups with the "default" time scale shift, no norm with scale_shift.
  /// improved-diffusion's middle AttentionBlock has its GroupNorm(32) under scale-shift too.
  int64_t attn_norm_num_groups = 0;
  /// The timestep conditioning is t · timestep_scale (conditioning = timestep); 1 as DDPM and
  /// diffusers. improved-diffusion's rescale_timesteps feeds t · 1000/T (gaussian_diffusion.py
  /// _scale_timesteps), so its networks see [0, 1000) whatever T.
  double timestep_scale = 1.0;
};

/// Bounds on sizes read from files, so that a hostile config cannot ask for an absurd network
/// (an allocation sized by a header field): 8192-pixel images (io/image.h's 64 Mpx limit), 16
/// levels, 16384 channels per level (16× DDPM's largest), 64 resnets per block.
inline constexpr int64_t kMaxSampleSize = 8192;
inline constexpr int64_t kMaxLevels = 16;
inline constexpr int64_t kMaxChannels = 16384;
inline constexpr int64_t kMaxLayersPerBlock = 64;
/// Bound on num_class_embeds (ImageNet-21k has 21841 classes).
inline constexpr int64_t kMaxClassEmbeds = 65536;

/// Throws std::invalid_argument naming the field, what was expected and what was found: sizes
/// within the kMax* bounds above, list lengths, channel counts divisible by norm_num_groups and
/// attention_head_dim, sample_size divisible by 2^(levels − 1), kernels in {1, 3}, combinations the
/// layout does not support.
void validate(const UNetConfig& config);

/// Every field, keys = field names, enums by their strings.
nlohmann::json to_json(const UNetConfig& config);

/// Strict reading: absent keys keep the in-class defaults, unknown keys and bad enum values
/// throw std::invalid_argument naming the allowed ones; validates the result. attention_head_dim
/// also accepts null (= 0), as diffusers writes it.
UNetConfig unet_config_from_json(const nlohmann::json& json, const std::string& context = "model");

bool operator==(const UNetConfig& a, const UNetConfig& b);

/// Throws std::invalid_argument unless `labels` suits a network of `config` for a batch of
/// `batch`: undefined for an unconditional model; for a conditional one an integer tensor of
/// shape [batch] with every value in [0, num_class_embeds) (values checked for CPU tensors only,
/// so that the check never synchronises a device). Messages say which rule was broken.
void check_class_labels(const UNetConfig& config, const torch::Tensor& labels, int64_t batch);
inline bool operator!=(const UNetConfig& a, const UNetConfig& b) {
  return !(a == b);
}

/// The keys of to_json whose values differ between `a` and `b`, leaving out those that change
/// neither the weights' shapes nor the function the weights compute: sample_size (the network is
/// convolutional), dropout and batch_norm_momentum (training only) and zero_init_out
/// (initialisation only). Empty when weights of one fit the other and mean the same.
std::vector<std::string> architecture_differences(const UNetConfig& a, const UNetConfig& b);

/// Resolution levels: block_out_channels.size().
inline int64_t num_levels(const UNetConfig& c) {
  return int64_t(c.block_out_channels.size());
}

/// Channels of the conditioning embedding: embedding_dim (input-only) or block_out_channels[0]
/// (every-block, diffusers' time_proj width).
int64_t conditioning_embedding_dim(const UNetConfig& config);

/// Width of the every-block time embedding MLP: 4·block_out_channels[0] (diffusers, DDPM).
inline int64_t time_embed_dim(const UNetConfig& c) {
  return 4 * c.block_out_channels.at(0);
}

}  // namespace ddpm
