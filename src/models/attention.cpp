#include "models/attention.h"

#include <cmath>

#include "models/conv3x3.h"
#include "models/fused_attention.h"
#include "models/gemm_attention.h"

namespace ddpm {

AttentionImpl::AttentionImpl(const AttentionOptions& o) : options_(o) {
  const int64_t C = o.channels;
  TORCH_CHECK(C >= 1, "Attention needs positive channels, got ", C);
  TORCH_CHECK(o.head_dim >= 0 && (o.head_dim == 0 || C % o.head_dim == 0), "Attention over ", C,
              " channels needs a head dimension dividing it, got ", o.head_dim);
  dim_head_ = o.head_dim == 0 ? C : o.head_dim;
  heads_ = C / dim_head_;
  if (o.norm) group_norm_ = NormLayer(*this, "group_norm", *o.norm, C);
  to_q = register_module("to_q", torch::nn::Linear(C, C));
  to_k = register_module("to_k", torch::nn::Linear(C, C));
  to_v = register_module("to_v", torch::nn::Linear(C, C));
  out_proj_ = torch::nn::Linear(C, C);
  to_out = register_module("to_out", torch::nn::ModuleList(out_proj_));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.channels, "Attention expects [B, ",
              options_.channels, ", H, W], got ", x.sizes());
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), N = H * W;
  // Normalising the 4-D map equals diffusers' GroupNorm over [B, C, HW], and also covers
  // BatchNorm2d.
  auto h = group_norm_.defined() ? group_norm_(x) : x;  // [B, C, H, W]
  // q, k, v in one product with the three weights stacked (the same dot products as three
  // Linear layers): [B·HW, 3C] = q | k | v.
  auto w = torch::cat({to_q->weight, to_k->weight, to_v->weight});  // [3C, C]
  auto b = torch::cat({to_q->bias, to_k->bias, to_v->bias});        // [3C]
  // 1 / √d as in diffusers' AttnProcessor (its baddbmm alpha).
  const double scale = 1.0 / std::sqrt(double(dim_head_));
  const bool grad =
      torch::GradMode::is_enabled() && (x.requires_grad() || to_q->weight.requires_grad());
  const bool small_heads = dim_head_ <= kFusedAttentionMaxHeadDim;
  if (x.is_cpu() && x.scalar_type() == torch::kFloat && (small_heads || (!grad && N % 8 == 0))) {
    // Everything on the NCHW maps as they lie, the projections as 1×1 convolutions (with
    // gradients too: the pointwise kernel has its backward), the attention on channel-major q,
    // k, v (small heads: the fused kernel, both passes; wide ones, sampling only: two GEMMs
    // around a softmax); no transposing copies.
    auto qkv = conv1x1(h, w, b).view({B, 3 * C, N});  // [B, 3C, HW]
    auto heads = (small_heads ? fused_attention_channels_first(qkv, heads_, scale)
                              : gemm_attention_channels_first(qkv, heads_, scale))
                     .view({B, C, H, W});
    auto out = conv1x1(heads, out_proj_->weight, out_proj_->bias);  // [B, C, H, W]
    out = grad ? out + x : out.add_(x);                             // + residual
    return options_.rescale_output_factor == 1.0 ? out : out / options_.rescale_output_factor;
  }
  auto tokens = h.flatten(2).transpose(1, 2).reshape({B * N, C});  // [B·HW, C]
  // mm, then the bias in place: addmm first copies the broadcast bias into its [B·HW, 3C] output
  // (10 ms a call for ddpm-cifar10's 2048 × 768 in the sampling profile, more than the product).
  auto qkv = torch::mm(tokens, w.t()).add_(b).view({B, N, 3 * C});  // [B, HW, 3C]
  torch::Tensor out;  // [B, HW, C], heads side by side
  if (fused_attention_applies(qkv, heads_)) {
    // Small heads on the CPU: one fused pass per (sample, head), see models/fused_attention.h.
    out = fused_attention(qkv, heads_, scale);
  } else {
    // unbind, not heads[0..2]: each select's backward would fill a zero tensor of all three
    // and add it up (75 + 53 ms of a ddpm-cifar10 training step in the profile).
    auto qkv_heads = qkv.view({B, N, 3, heads_, dim_head_}).permute({2, 0, 3, 1, 4}).unbind(0);
    const auto &q = qkv_heads[0], &k = qkv_heads[1], &v = qkv_heads[2];  // [B, heads, HW, d]
    auto scores = torch::matmul(q * scale, k.transpose(-1, -2));         // [B, heads, HW, HW]
    // diffusers upcast_softmax: the softmax runs in float32 whatever the model dtype.
    auto probs = torch::softmax(scores.to(torch::kFloat32), -1).to(q.scalar_type());
    out = torch::matmul(probs, v).transpose(1, 2).reshape({B, N, C});  // [B, HW, C]
  }
  out = out_proj_(out);                                         // [B, HW, C]
  out = torch::add(x, out.transpose(1, 2).view({B, C, H, W}));  // + residual  [B, C, H, W]
  out = out.contiguous();
  return options_.rescale_output_factor == 1.0 ? out : out / options_.rescale_output_factor;
}

}  // namespace ddpm
