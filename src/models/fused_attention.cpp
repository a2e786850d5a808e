#include "models/fused_attention.h"

#include <ATen/record_function.h>

#include "models/kernels/attention_kernel.h"

namespace ddpm {

namespace {

kernels::AttentionProblem problem(const torch::Tensor& qkv, int64_t heads, double scale) {
  return {qkv.data_ptr<float>(), qkv.size(0), qkv.size(1), qkv.size(2) / 3, heads, float(scale)};
}

struct FusedAttentionFunction : torch::autograd::Function<FusedAttentionFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv,
                               int64_t heads, double scale) {
    RECORD_FUNCTION("ddpm::fused_attention", std::vector<c10::IValue>{qkv});
    auto lse = torch::empty({qkv.size(0), heads, qkv.size(1)}, qkv.options());
    auto out = torch::empty({qkv.size(0), qkv.size(1), qkv.size(2) / 3}, qkv.options());
    kernels::attention_forward(problem(qkv, heads, scale), out.data_ptr<float>(),
                               lse.data_ptr<float>());
    ctx->save_for_backward({qkv, lse});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scale;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    RECORD_FUNCTION("ddpm::fused_attention_backward", std::vector<c10::IValue>{grads[0]});
    const auto saved = ctx->get_saved_variables();
    const auto &qkv = saved[0], &lse = saved[1];
    const auto d_out = grads[0].contiguous();  // [B, N, C]
    auto d_qkv = torch::empty_like(qkv);       // [B, N, 3C]
    kernels::attention_backward(
        problem(qkv, ctx->saved_data["heads"].toInt(), ctx->saved_data["scale"].toDouble()),
        lse.data_ptr<float>(), d_out.data_ptr<float>(), d_qkv.data_ptr<float>());
    return {d_qkv, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool fused_attention_applies(const torch::Tensor& qkv, int64_t heads) {
  return qkv.is_cpu() && qkv.scalar_type() == torch::kFloat32 && qkv.dim() == 3 &&
         qkv.size(1) > 0 && heads >= 1 && qkv.size(2) % (3 * heads) == 0 &&
         qkv.size(2) / (3 * heads) <= kFusedAttentionMaxHeadDim;
}

torch::Tensor fused_attention(const torch::Tensor& qkv, int64_t heads, double scale) {
  TORCH_CHECK(fused_attention_applies(qkv, heads),
              "fused_attention takes CPU float32 packed projections [B, N, 3C] with C / heads ≤ ",
              kFusedAttentionMaxHeadDim, ", got ", qkv.sizes(), " ", qkv.dtype(), " on ",
              qkv.device(), " with ", heads, " heads");
  const auto packed = qkv.contiguous();
  const bool needs_grad = torch::GradMode::is_enabled() && packed.requires_grad();
  if (!needs_grad) {  // sampling: no statistics kept
    RECORD_FUNCTION("ddpm::fused_attention", std::vector<c10::IValue>{packed});
    auto out = torch::empty({packed.size(0), packed.size(1), packed.size(2) / 3}, packed.options());
    kernels::attention_forward(problem(packed, heads, scale), out.data_ptr<float>(), nullptr);
    return out;
  }
  return FusedAttentionFunction::apply(packed, heads, scale);
}

torch::Tensor fused_attention_channels_first(const torch::Tensor& qkv, int64_t heads,
                                             double scale) {
  TORCH_CHECK(qkv.dim() == 3 && fused_attention_applies(qkv.transpose(1, 2), heads),
              "fused_attention_channels_first takes CPU float32 projections [B, 3C, N] with C / "
              "heads ≤ ",
              kFusedAttentionMaxHeadDim, ", got ", qkv.sizes(), " ", qkv.dtype(), " on ",
              qkv.device(), " with ", heads, " heads");
  TORCH_CHECK(!(torch::GradMode::is_enabled() && qkv.requires_grad()),
              "fused_attention_channels_first has no backward pass; use fused_attention");
  const auto packed = qkv.contiguous();
  RECORD_FUNCTION("ddpm::fused_attention", std::vector<c10::IValue>{packed});
  auto out = torch::empty({packed.size(0), packed.size(1) / 3, packed.size(2)}, packed.options());
  kernels::AttentionProblem p{packed.data_ptr<float>(), packed.size(0), packed.size(2),
                              packed.size(1) / 3,       heads,          float(scale)};
  p.channel_major = true;
  kernels::attention_forward(p, out.data_ptr<float>(), nullptr);
  return out;
}

}  // namespace ddpm
