#include "models/attention.h"

#include <cmath>

#include "models/fused_attention.h"

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
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  // Normalising the 4-D map equals diffusers' GroupNorm over [B, C, HW], and also covers
  // BatchNorm2d.
  auto h = group_norm_.defined() ? group_norm_(x) : x;  // [B, C, H, W]
  h = h.flatten(2).transpose(1, 2);                     // [B, HW, C]
  auto split = [&](const torch::Tensor& t) {
    return t.view({B, H * W, heads_, dim_head_}).transpose(1, 2);  // [B, heads, HW, d]
  };
  auto q = split(to_q(h)), k = split(to_k(h)), v = split(to_v(h));
  // Scaling q ([B, heads, HW, d]) instead of the scores ([B, heads, HW, HW]) costs HW/d times
  // less; diffusers folds the same 1/√d into baddbmm's alpha.
  const double scale = 1.0 / std::sqrt(double(dim_head_));
  torch::Tensor out;  // [B, heads, HW, d]
  if (x.is_cpu() && x.scalar_type() == torch::kFloat32 && dim_head_ <= kFusedAttentionMaxHeadDim) {
    // Small heads on the CPU: one fused pass per (batch, head), see models/fused_attention.h.
    auto flat = [&](const torch::Tensor& t) { return t.reshape({B * heads_, H * W, dim_head_}); };
    out = fused_attention(flat(q), flat(k), flat(v), scale).view({B, heads_, H * W, dim_head_});
  } else {
    auto scores = torch::matmul(q * scale, k.transpose(-1, -2));  // [B, heads, HW, HW]
    // diffusers upcast_softmax: the softmax runs in float32 whatever the model dtype.
    auto probs = torch::softmax(scores.to(torch::kFloat32), -1).to(q.scalar_type());
    out = torch::matmul(probs, v);  // [B, heads, HW, d]
  }
  out = out.transpose(1, 2).reshape({B, H * W, C});  // [B, HW, C]
  out = out_proj_(out);                              // [B, HW, C]
  out = out.transpose(1, 2).reshape({B, C, H, W});   // [B, C, H, W]
  out = out + x;
  return options_.rescale_output_factor == 1.0 ? out : out / options_.rescale_output_factor;
}

}  // namespace ddpm
