#include "models/fused_attention.h"

#include <ATen/record_function.h>

#include "models/kernels/attention_kernel.h"

namespace ddpm {

namespace {

/// The kernels' problem for packed projections qkv: [B, N, 3C], or [B, 3C, N] when channel-major.
kernels::AttentionProblem problem(const torch::Tensor& qkv, int64_t heads, double scale,
                                  bool channel_major) {
  kernels::AttentionProblem p{qkv.data_ptr<float>(),
                              qkv.size(0),
                              channel_major ? qkv.size(2) : qkv.size(1),
                              (channel_major ? qkv.size(1) : qkv.size(2)) / 3,
                              heads,
                              float(scale)};
  p.channel_major = channel_major;
  return p;
}

/// out [B, N, C] for qkv [B, N, 3C], or [B, C, N] for channel-major qkv [B, 3C, N].
torch::Tensor empty_output(const torch::Tensor& qkv, bool channel_major) {
  return channel_major ? torch::empty({qkv.size(0), qkv.size(1) / 3, qkv.size(2)}, qkv.options())
                       : torch::empty({qkv.size(0), qkv.size(1), qkv.size(2) / 3}, qkv.options());
}

struct FusedAttentionFunction : torch::autograd::Function<FusedAttentionFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv,
                               int64_t heads, double scale, bool channel_major) {
    RECORD_FUNCTION("ddpm::fused_attention", std::vector<c10::IValue>{qkv});
    const auto p = problem(qkv, heads, scale, channel_major);
    auto lse = torch::empty({p.batch, heads, p.tokens}, qkv.options());
    auto out = empty_output(qkv, channel_major);
    kernels::attention_forward(p, out.data_ptr<float>(), lse.data_ptr<float>());
    ctx->save_for_backward({qkv, lse});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["channel_major"] = channel_major;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    RECORD_FUNCTION("ddpm::fused_attention_backward", std::vector<c10::IValue>{grads[0]});
    const auto saved = ctx->get_saved_variables();
    const auto &qkv = saved[0], &lse = saved[1];
    const auto d_out = grads[0].contiguous();  // [B, N, C] ([B, C, N])
    auto d_qkv = torch::empty_like(qkv);       // [B, N, 3C] ([B, 3C, N])
    kernels::attention_backward(
        problem(qkv, ctx->saved_data["heads"].toInt(), ctx->saved_data["scale"].toDouble(),
                ctx->saved_data["channel_major"].toBool()),
        lse.data_ptr<float>(), d_out.data_ptr<float>(), d_qkv.data_ptr<float>());
    return {d_qkv, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

/// Attention of checked projections in either layout: through the autograd function when qkv
/// needs a gradient, else the forward alone (sampling: no statistics kept).
torch::Tensor attend(const torch::Tensor& qkv, int64_t heads, double scale, bool channel_major) {
  const auto packed = qkv.contiguous();
  if (torch::GradMode::is_enabled() && packed.requires_grad())
    return FusedAttentionFunction::apply(packed, heads, scale, channel_major);
  RECORD_FUNCTION("ddpm::fused_attention", std::vector<c10::IValue>{packed});
  auto out = empty_output(packed, channel_major);
  kernels::attention_forward(problem(packed, heads, scale, channel_major), out.data_ptr<float>(),
                             nullptr);
  return out;
}

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
  return attend(qkv, heads, scale, /*channel_major=*/false);
}

torch::Tensor fused_attention_channels_first(const torch::Tensor& qkv, int64_t heads,
                                             double scale) {
  TORCH_CHECK(qkv.dim() == 3 && fused_attention_applies(qkv.transpose(1, 2), heads),
              "fused_attention_channels_first takes CPU float32 projections [B, 3C, N] with C / "
              "heads ≤ ",
              kFusedAttentionMaxHeadDim, ", got ", qkv.sizes(), " ", qkv.dtype(), " on ",
              qkv.device(), " with ", heads, " heads");
  return attend(qkv, heads, scale, /*channel_major=*/true);
}

}  // namespace ddpm
