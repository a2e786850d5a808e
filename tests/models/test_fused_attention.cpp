// The fused CPU attention equals softmax(QKᵀ·scale)V computed with LibTorch's matmul and
// softmax, in value and in every gradient.
#include <gtest/gtest.h>

#include <cmath>

#include "models/fused_attention.h"
#include "test_util.h"

namespace ddpm {
namespace {

torch::Tensor reference_attention(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v, double scale) {
  auto scores = torch::matmul(q, k.transpose(-1, -2)) * scale;  // [BH, N, N]
  return torch::matmul(torch::softmax(scores, -1), v);           // [BH, N, d]
}

struct Case {
  int64_t bh, n, d;
};

TEST(FusedAttention, MatchesMatmulSoftmaxForwardAndBackward) {
  // Shapes of the presets (8×8 and 4×4 maps with 8-channel heads) and odd sizes.
  for (const Case c : {Case{16, 64, 8}, Case{12, 16, 8}, Case{3, 7, 5}, Case{2, 100, 32}}) {
    torch::manual_seed(c.bh * 1000 + c.n);
    const double scale = 1.0 / std::sqrt(double(c.d));
    auto make = [&] { return (2 * torch::randn({c.bh, c.n, c.d})).requires_grad_(); };
    auto q = make(), k = make(), v = make();
    auto q2 = q.detach().clone().requires_grad_(), k2 = k.detach().clone().requires_grad_(),
         v2 = v.detach().clone().requires_grad_();
    auto ours = fused_attention(q, k, v, scale);
    auto ref = reference_attention(q2, k2, v2, scale);
    const std::string where = fmt::format("BH {} N {} d {}", c.bh, c.n, c.d);
    EXPECT_TRUE(test::tensors_close(ours, ref, 1e-5)) << where;

    auto upstream = torch::randn_like(ref);
    (ours * upstream).sum().backward();
    (ref * upstream).sum().backward();
    EXPECT_TRUE(test::tensors_close(q.grad(), q2.grad(), 1e-5)) << "dQ " << where;
    EXPECT_TRUE(test::tensors_close(k.grad(), k2.grad(), 1e-5)) << "dK " << where;
    EXPECT_TRUE(test::tensors_close(v.grad(), v2.grad(), 1e-5)) << "dV " << where;
  }
}

TEST(FusedAttention, WithoutGradientsKeepsNoGraph) {
  auto q = torch::randn({4, 16, 8}), k = torch::randn({4, 16, 8}), v = torch::randn({4, 16, 8});
  torch::NoGradGuard no_grad;
  auto out = fused_attention(q.transpose(1, 2).contiguous().transpose(1, 2), k, v, 0.5);
  EXPECT_FALSE(out.requires_grad());
  EXPECT_TRUE(test::tensors_close(out, reference_attention(q, k, v, 0.5), 1e-5));
}

TEST(FusedAttention, RejectsWhatItDoesNotCover) {
  EXPECT_FALSE(fused_attention_applies(torch::randn({2, 4, 64})));                    // wide heads
  EXPECT_FALSE(fused_attention_applies(torch::randn({2, 4, 8}, torch::kFloat64)));  // float64
  EXPECT_FALSE(fused_attention_applies(torch::randn({2, 2, 4, 8})));                 // 4-D
  auto q = torch::randn({2, 4, 8});
  EXPECT_THROW(fused_attention(q, torch::randn({2, 5, 8}), q, 1.0), c10::Error);
}

}  // namespace
}  // namespace ddpm
