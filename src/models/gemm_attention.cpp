#include "models/gemm_attention.h"

#include <ATen/record_function.h>

#include "models/kernels/gemm_kernel.h"

namespace ddpm {

bool gemm_attention_applies(const torch::Tensor& qkv, int64_t heads) {
  return qkv.is_cpu() && qkv.scalar_type() == torch::kFloat32 && qkv.dim() == 3 &&
         qkv.size(2) > 0 && qkv.size(2) % 8 == 0 && heads >= 1 && qkv.size(1) % (3 * heads) == 0;
}

torch::Tensor gemm_attention_channels_first(const torch::Tensor& qkv, int64_t heads, double scale) {
  TORCH_CHECK(gemm_attention_applies(qkv, heads),
              "gemm_attention_channels_first takes CPU float32 projections [B, 3C, N] with N a "
              "multiple of 8 and C divisible by the heads, got ",
              qkv.sizes(), " ", qkv.dtype(), " on ", qkv.device(), " with ", heads, " heads");
  TORCH_CHECK(!(torch::GradMode::is_enabled() && qkv.requires_grad()),
              "gemm_attention_channels_first has no backward pass");
  RECORD_FUNCTION("ddpm::gemm_attention", std::vector<c10::IValue>{qkv});
  const auto packed = qkv.contiguous();
  const int64_t B = packed.size(0), C = packed.size(1) / 3, N = packed.size(2), d = C / heads;
  const float* base = packed.data_ptr<float>();
  auto scores_t = torch::empty({B, heads, N, N}, packed.options());  // Sᵀ[j, i] per (b, head)
  auto out = torch::empty({B, C, N}, packed.options());
  for (int64_t b = 0; b < B; ++b) {  // the heads of one sample at fixed strides apart
    const float* q = base + b * 3 * C * N;
    kernels::strided_gemm({heads, N, N, d, q + C * N, d * N, 1, N, q, d * N, N,
                           scores_t.data_ptr<float>() + b * heads * N * N, N * N, N});
  }
  const auto probs_t = torch::softmax(scores_t.mul_(scale), 2);  // over the keys j
  for (int64_t b = 0; b < B; ++b) {
    const float* v = base + b * 3 * C * N + 2 * C * N;
    kernels::strided_gemm({heads, d, N, N, v, d * N, N, 1,
                           probs_t.data_ptr<float>() + b * heads * N * N, N * N, N,
                           out.data_ptr<float>() + b * C * N, d * N, N});
  }
  return out;
}

}  // namespace ddpm
