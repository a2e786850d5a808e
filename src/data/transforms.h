// Pixel transforms between uint8 images on disk and the float tensors the network sees:
// normalization and its inverse, random horizontal flips, center crop, padding and antialiased
// resizing.
//
// References: DDPM (Ho et al. 2020) §4 scales pixels to [-1, 1] (x/127.5 − 1); the Keras DDIM
// example (keras.io/examples/generative/ddim) instead standardises with a Normalization layer
// adapted on the training images rescaled to [0, 1], and denormalizes with mean + std·x clipped to
// [0, 1]. Resizing follows torchvision's Resize(antialias=True) (PIL's bilinear filter).
//
//   auto stats = fit_normalization(Normalization::mean_std, train);   // uint8 [N, C, H, W]
//   auto x0 = normalize(batch, stats);                                // float [B, C, H, W]
//   auto png = denormalize_to_uint8(samples, stats);                  // uint8, CPU
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/enum_table.h"

namespace ddpm {

enum class Normalization {
  minus_one_one,  ///< "[-1,1]": x/127.5 − 1 (DDPM)
  mean_std,       ///< "mean-std": (x/255 − mean)/std per channel (Keras Normalization layer)
};
template <>
const EnumTable<Normalization>& enum_table<Normalization>();

/// Everything normalize() and denormalize_to_uint8() need: the kind and, for mean_std, the
/// per-channel statistics of x/255 over the training split.
struct NormalizationParams {
  Normalization kind = Normalization::minus_one_one;
  /// Per-channel mean of x/255 (mean_std only; empty for minus_one_one).
  std::vector<double> mean;
  /// Per-channel population standard deviation of x/255 (mean_std only).
  std::vector<double> stddev;
};

/// The parameters of `kind` for uint8 training images [N, C, H, W]: for mean_std, the mean and
/// population std over N, H and W (Keras Normalization.adapt, std floored at 1e-7 as Keras does).
NormalizationParams fit_normalization(Normalization kind, const torch::Tensor& images);

/// uint8 [..., C, H, W] → float32 on the same device: [-1, 1] or (x/255 − mean)/std. Throws
/// std::invalid_argument when the dtype is not uint8 or C does not match the statistics.
torch::Tensor normalize(const torch::Tensor& images, const NormalizationParams& params);

/// The inverse of normalize(), clamped to the pixel range and rounded: float [..., C, H, W] →
/// uint8 on the CPU. denormalize_to_uint8(normalize(x)) == x exactly.
torch::Tensor denormalize_to_uint8(const torch::Tensor& x, const NormalizationParams& params);

/// Mirrors each image of [N, C, H, W] left-right with probability 1/2. The coin flips are
/// torch::rand({N}, generator) < 0.5, one per image in order (see hflip_mask).
torch::Tensor random_hflip(const torch::Tensor& images, torch::Generator& generator);

/// The flips random_hflip draws: bool [N], true where an image is mirrored.
torch::Tensor hflip_mask(int64_t count, torch::Generator& generator);

/// The largest centred square of [C, H, W] (offsets rounded down).
torch::Tensor center_crop_square(const torch::Tensor& image);

/// Zero padding of [..., H, W] to size×size, centred; H and W must be ≤ size with even gaps.
torch::Tensor pad_to_size(const torch::Tensor& images, int64_t size);

/// Antialiased bilinear resize of uint8 [..., C, H, W] to size×size (torchvision
/// Resize(antialias=True)), rounded back to uint8. Returns the input when it is already that size.
torch::Tensor resize_antialiased(const torch::Tensor& images, int64_t size);

}  // namespace ddpm
