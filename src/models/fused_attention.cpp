#include "models/fused_attention.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ddpm {

namespace {

/// out[i] = softmax_j(scale · q_i·k_j) v_j for one (batch, head); q, k, v, out [N, d] row-major.
/// `probs` receives the N×N probabilities when given (training), else one row is reused.
void attention_forward_one(const float* q, const float* k, const float* v, float* out,
                           float* probs, int64_t N, int64_t d, float scale) {
  std::vector<float> k_t(static_cast<size_t>(d * N));  // Kᵀ [d, N]: the j loops below run contiguously
  for (int64_t j = 0; j < N; ++j)
    for (int64_t c = 0; c < d; ++c) k_t[c * N + j] = k[j * d + c];
  std::vector<float> row(probs ? 0 : static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    float* s = probs ? probs + i * N : row.data();
    std::fill(s, s + N, 0.0f);
    for (int64_t c = 0; c < d; ++c) {  // s = scale · q_i Kᵀ
      const float qc = q[i * d + c] * scale;
      const float* kc = k_t.data() + c * N;
      for (int64_t j = 0; j < N; ++j) s[j] += qc * kc[j];
    }
    const float m = *std::max_element(s, s + N);  // softmax, shifted by the row maximum
    float sum = 0;
    for (int64_t j = 0; j < N; ++j) {
      s[j] = std::exp(s[j] - m);
      sum += s[j];
    }
    const float inv = 1.0f / sum;
    float* o = out + i * d;
    std::fill(o, o + d, 0.0f);
    for (int64_t j = 0; j < N; ++j) {  // o_i = Σ_j p_ij v_j
      s[j] *= inv;
      const float p = s[j];
      const float* vj = v + j * d;
      for (int64_t c = 0; c < d; ++c) o[c] += p * vj[c];
    }
  }
}

/// Gradients of one (batch, head) given dO [N, d] and the forward probabilities [N, N].
void attention_backward_one(const float* q, const float* k, const float* v, const float* probs,
                            const float* d_out, float* d_q, float* d_k, float* d_v, int64_t N,
                            int64_t d, float scale) {
  std::vector<float> v_t(static_cast<size_t>(d * N));
  std::vector<float> dp(static_cast<size_t>(N)), ds(static_cast<size_t>(N));
  for (int64_t j = 0; j < N; ++j)
    for (int64_t c = 0; c < d; ++c) v_t[c * N + j] = v[j * d + c];
  std::fill(d_q, d_q + N * d, 0.0f);
  std::fill(d_k, d_k + N * d, 0.0f);
  std::fill(d_v, d_v + N * d, 0.0f);
  for (int64_t i = 0; i < N; ++i) {
    const float* p = probs + i * N;
    const float* go = d_out + i * d;
    for (int64_t j = 0; j < N; ++j) {  // dV = Pᵀ dO
      const float pj = p[j];
      for (int64_t c = 0; c < d; ++c) d_v[j * d + c] += pj * go[c];
    }
    std::fill(dp.begin(), dp.end(), 0.0f);
    for (int64_t c = 0; c < d; ++c) {  // dP_i = dO_i Vᵀ
      const float gc = go[c];
      const float* vc = v_t.data() + c * N;
      for (int64_t j = 0; j < N; ++j) dp[j] += gc * vc[j];
    }
    float r = 0;  // rowsum(P ∘ dP): the softmax Jacobian's rank-one part
    for (int64_t j = 0; j < N; ++j) r += p[j] * dp[j];
    for (int64_t j = 0; j < N; ++j) ds[j] = p[j] * (dp[j] - r) * scale;
    float* gq = d_q + i * d;
    const float* qi = q + i * d;
    for (int64_t j = 0; j < N; ++j) {  // dQ_i = scale · dS_i K,  dK_j += scale · dS_ij Q_i
      const float sj = ds[j];
      const float* kj = k + j * d;
      float* gk = d_k + j * d;
      for (int64_t c = 0; c < d; ++c) {
        gq[c] += sj * kj[c];
        gk[c] += sj * qi[c];
      }
    }
  }
}

void check_inputs(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  TORCH_CHECK(fused_attention_applies(q), "fused_attention takes CPU float32 [BH, N, d] with d ≤ ",
              kFusedAttentionMaxHeadDim, ", got ", q.sizes(), " ", q.dtype(), " on ", q.device());
  TORCH_CHECK(k.sizes() == q.sizes() && v.sizes() == q.sizes(),
              "fused_attention needs q, k, v of one shape, got ", q.sizes(), ", ", k.sizes(),
              ", ", v.sizes());
  TORCH_CHECK(k.scalar_type() == torch::kFloat32 && v.scalar_type() == torch::kFloat32 &&
                  k.is_cpu() && v.is_cpu(),
              "fused_attention needs CPU float32 k and v");
}

/// The forward kernel over every (batch, head); `probs` [BH, N, N] may be undefined.
torch::Tensor forward_all(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const torch::Tensor& probs, double scale) {
  const int64_t BH = q.size(0), N = q.size(1), d = q.size(2);
  auto out = torch::empty_like(q);  // [BH, N, d]
  const float* qp = q.data_ptr<float>();
  const float* kp = k.data_ptr<float>();
  const float* vp = v.data_ptr<float>();
  float* op = out.data_ptr<float>();
  float* pp = probs.defined() ? probs.data_ptr<float>() : nullptr;
  at::parallel_for(0, BH, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      attention_forward_one(qp + b * N * d, kp + b * N * d, vp + b * N * d, op + b * N * d,
                            pp ? pp + b * N * N : nullptr, N, d, float(scale));
  });
  return out;
}

struct FusedAttentionFunction : torch::autograd::Function<FusedAttentionFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q,
                               const torch::Tensor& k, const torch::Tensor& v, double scale) {
    auto probs = torch::empty({q.size(0), q.size(1), q.size(1)}, q.options());  // [BH, N, N]
    auto out = forward_all(q, k, v, probs, scale);
    ctx->save_for_backward({q, k, v, probs});
    ctx->saved_data["scale"] = scale;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &probs = saved[3];
    const float scale = float(ctx->saved_data["scale"].toDouble());
    const auto d_out = grads[0].contiguous();  // [BH, N, d]
    const int64_t BH = q.size(0), N = q.size(1), d = q.size(2);
    auto d_q = torch::empty_like(q), d_k = torch::empty_like(k), d_v = torch::empty_like(v);
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
    const float *pp = probs.data_ptr<float>(), *gp = d_out.data_ptr<float>();
    float *dq = d_q.data_ptr<float>(), *dk = d_k.data_ptr<float>(), *dv = d_v.data_ptr<float>();
    at::parallel_for(0, BH, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const int64_t o = b * N * d;
        attention_backward_one(qp + o, kp + o, vp + o, pp + b * N * N, gp + o, dq + o, dk + o,
                               dv + o, N, d, scale);
      }
    });
    return {d_q, d_k, d_v, torch::Tensor()};
  }
};

}  // namespace

bool fused_attention_applies(const torch::Tensor& q) {
  return q.is_cpu() && q.scalar_type() == torch::kFloat32 && q.dim() == 3 &&
         q.size(2) <= kFusedAttentionMaxHeadDim && q.size(1) > 0;
}

torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, double scale) {
  check_inputs(q, k, v);
  const bool needs_grad = torch::GradMode::is_enabled() &&
                          (q.requires_grad() || k.requires_grad() || v.requires_grad());
  if (!needs_grad)  // sampling: no N×N probabilities kept
    return forward_all(q.contiguous(), k.contiguous(), v.contiguous(), torch::Tensor(), scale);
  return FusedAttentionFunction::apply(q.contiguous(), k.contiguous(), v.contiguous(), scale);
}

}  // namespace ddpm
