// The normalisation layer of every block, chosen by UNetConfig::norm and registered under the
// name the checkpoint uses (norm1, group_norm, conv_norm_out, ...): GroupNorm as in DDPM and
// diffusers, or BatchNorm2d as in the Keras DDIM example (BatchNormalization(center=False,
// scale=False), momentum 0.99 → torch 0.01, ε 1e-3).
#pragma once
#include <torch/torch.h>

#include <string>

#include "models/unet_config.h"

namespace ddpm {

struct NormOptions {
  NormType type = NormType::group;
  int64_t num_groups = 32;  ///< GroupNorm groups
  double eps = 1e-5;
  double momentum = 0.01;  ///< BatchNorm running-statistics momentum (torch convention)
};

/// The norm settings a UNetConfig gives every norm layer.
NormOptions norm_options(const UNetConfig& config);

/// A GroupNorm or BatchNorm2d over `channels`, registered in `parent` as `name`. Not a module of
/// its own, so the parameter names are name.weight / name.bias as in diffusers.
class NormLayer {
 public:
  NormLayer() = default;
  /// Throws std::invalid_argument when GroupNorm's groups do not divide `channels`.
  NormLayer(torch::nn::Module& parent, const std::string& name, const NormOptions& options,
            int64_t channels);

  /// x [B, C, H, W] → [B, C, H, W]
  torch::Tensor operator()(const torch::Tensor& x) { return forward(x, {}, false); }
  /// norm(x + channel_bias[:, :, None, None]), then SiLU when `silu`: x [B, C, H, W],
  /// channel_bias [B, C] or undefined. GroupNorm runs fused in one kernel
  /// (models/group_norm_act.h); BatchNorm as LibTorch operators.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& channel_bias, bool silu);
  /// forward(cat({x1, x2}, 1), {}, silu); GroupNorm reads the two tensors where they lie when no
  /// gradient is needed (models/group_norm_act.h: group_norm_act_concat).
  torch::Tensor forward_concat(const torch::Tensor& x1, const torch::Tensor& x2, bool silu);
  bool defined() const { return !group_.is_empty() || !batch_.is_empty(); }

 private:
  torch::nn::GroupNorm group_{nullptr};
  int64_t groups_ = 0;
  double eps_ = 0;
  torch::nn::BatchNorm2d batch_{nullptr};
};

}  // namespace ddpm
