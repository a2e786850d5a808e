// Spatial self-attention block of the UNet: diffusers 0.21.4 Attention with AttnProcessor as
// built by AttnDownBlock2D / AttnUpBlock2D / UNetMidBlock2D (src/diffusers/models/
// attention_processor.py, unet_2d_blocks.py), the DDPM attn_block (Ho et al. 2020) with heads:
//   h = group_norm(x) as [B, HW, C]; q, k, v = to_q/k/v(h); per head softmax(q kᵀ / √d) v;
//   out = (to_out.0(attn) + x) / rescale_output_factor
#pragma once
#include <torch/torch.h>

#include <optional>

#include "models/norm_layer.h"

namespace ddpm {

struct AttentionOptions {
  int64_t channels = 0;
  int64_t head_dim = 0;  ///< channels per head; 0 = one head over all channels (diffusers null)
  std::optional<NormOptions> norm;     ///< group_norm before the projections; none when absent
  double rescale_output_factor = 1.0;  ///< the residual sum is divided by it
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const AttentionOptions& options);
  /// x [B, C, H, W] → [B, C, H, W]
  torch::Tensor forward(const torch::Tensor& x);
  int64_t heads() const { return heads_; }

 private:
  AttentionOptions options_;
  int64_t heads_ = 1, dim_head_ = 0;
  NormLayer group_norm_;
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::ModuleList to_out;  // [0] = Linear, as diffusers' to_out.0 (to_out.1 is dropout)
  torch::nn::Linear out_proj_{nullptr};  // to_out[0]
};
TORCH_MODULE(Attention);

}  // namespace ddpm
