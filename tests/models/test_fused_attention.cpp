// The fused CPU attention equals softmax(QKᵀ·scale)V per head computed with LibTorch's matmul
// and softmax on the same packed projections, in value and in the gradient.
#include <gtest/gtest.h>

#include <cmath>

#include "models/fused_attention.h"
#include "test_util.h"

namespace ddpm {
namespace {

/// The same attention in LibTorch operators: qkv [B, N, 3C] → [B, N, C].
torch::Tensor reference_attention(const torch::Tensor& qkv, int64_t heads, double scale) {
  const int64_t B = qkv.size(0), N = qkv.size(1), C = qkv.size(2) / 3;
  auto split = qkv.view({B, N, 3, heads, C / heads}).permute({2, 0, 3, 1, 4});
  auto q = split[0], k = split[1], v = split[2];                // [B, heads, N, d]
  auto scores = torch::matmul(q, k.transpose(-1, -2)) * scale;  // [B, heads, N, N]
  auto out = torch::matmul(torch::softmax(scores, -1), v);      // [B, heads, N, d]
  return out.transpose(1, 2).reshape({B, N, C});
}

struct Case {
  int64_t b, n, heads, d;
};

TEST(FusedAttention, MatchesMatmulSoftmaxForwardAndBackward) {
  // Shapes of the presets (8×8 and 4×4 maps with 8-channel heads) and odd sizes.
  for (const Case c : {Case{2, 64, 8, 8}, Case{3, 16, 12, 8}, Case{3, 7, 1, 5}, Case{1, 100, 2, 32},
                       Case{2, 1, 3, 4}}) {
    torch::manual_seed(c.b * 1000 + c.n);
    const double scale = 1.0 / std::sqrt(double(c.d));
    auto qkv = (2 * torch::randn({c.b, c.n, 3 * c.heads * c.d})).requires_grad_();
    auto qkv2 = qkv.detach().clone().requires_grad_();
    auto ours = fused_attention(qkv, c.heads, scale);
    auto ref = reference_attention(qkv2, c.heads, scale);
    const std::string where = fmt::format("B {} N {} heads {} d {}", c.b, c.n, c.heads, c.d);
    EXPECT_TRUE(test::tensors_close(ours, ref, 1e-5)) << where;

    auto upstream = torch::randn_like(ref);
    (ours * upstream).sum().backward();
    (ref * upstream).sum().backward();
    EXPECT_TRUE(test::tensors_close(qkv.grad(), qkv2.grad(), 1e-5)) << "d qkv " << where;
  }
}

TEST(FusedAttention, ChannelsFirstMatchesTheReferenceForwardAndBackward) {
  // The NCHW maps' layout: q, k, v as [B, 3C, N] planes, out [B, C, N], and their gradients.
  for (const Case c : {Case{2, 64, 8, 8}, Case{3, 16, 12, 8}, Case{3, 7, 1, 5}, Case{1, 100, 2, 32},
                       Case{2, 1, 3, 4}}) {
    torch::manual_seed(c.b * 1000 + c.n + 1);
    const double scale = 1.0 / std::sqrt(double(c.d));
    const auto tokens = 2 * torch::randn({c.b, c.n, 3 * c.heads * c.d});  // [B, N, 3C]
    const auto where = fmt::format("B {} N {} heads {} d {}", c.b, c.n, c.heads, c.d);
    {
      torch::NoGradGuard no_grad;
      auto ours =
          fused_attention_channels_first(tokens.transpose(1, 2).contiguous(), c.heads, scale);
      auto ref = reference_attention(tokens, c.heads, scale).transpose(1, 2);  // [B, C, N]
      EXPECT_TRUE(test::tensors_close(ours, ref, 1e-5)) << where;
    }
    auto qkv = tokens.transpose(1, 2).contiguous().requires_grad_();  // [B, 3C, N]
    auto qkv_ref = tokens.clone().requires_grad_();
    auto ours = fused_attention_channels_first(qkv, c.heads, scale);
    auto ref = reference_attention(qkv_ref, c.heads, scale).transpose(1, 2);
    EXPECT_TRUE(test::tensors_close(ours, ref, 1e-5)) << where;
    auto upstream = torch::randn_like(ref);
    (ours * upstream).sum().backward();
    (ref * upstream).sum().backward();
    EXPECT_TRUE(test::tensors_close(qkv.grad(), qkv_ref.grad().transpose(1, 2), 1e-5))
        << "d qkv " << where;
  }
  EXPECT_THROW(fused_attention_channels_first(torch::randn({1, 3 * 64, 4}), 1, 1.0), c10::Error);
}

TEST(FusedAttention, LargeLogitsStayFinite) {
  // Scores far beyond exp's float range: the row-maximum shift keeps softmax exact.
  auto qkv = 40 * torch::randn({1, 16, 3 * 8});
  auto ours = fused_attention(qkv, 1, 1.0);
  EXPECT_TRUE(torch::isfinite(ours).all().item<bool>());
  EXPECT_TRUE(test::tensors_close(ours, reference_attention(qkv, 1, 1.0), 1e-4));
}

TEST(FusedAttention, WithoutGradientsKeepsNoGraph) {
  auto qkv = torch::randn({4, 16, 3 * 16});
  torch::NoGradGuard no_grad;
  // A non-contiguous input is made contiguous first.
  auto strided = qkv.transpose(1, 2).contiguous().transpose(1, 2);
  auto out = fused_attention(strided, 2, 0.5);
  EXPECT_FALSE(out.requires_grad());
  EXPECT_TRUE(test::tensors_close(out, reference_attention(qkv, 2, 0.5), 1e-5));
}

TEST(FusedAttention, RejectsWhatItDoesNotCover) {
  EXPECT_FALSE(fused_attention_applies(torch::randn({2, 4, 3 * 64}), 1));  // wide heads
  EXPECT_FALSE(fused_attention_applies(torch::randn({2, 4, 24}, torch::kFloat64), 1));
  EXPECT_FALSE(fused_attention_applies(torch::randn({2, 2, 4, 24}), 1));  // 4-D
  EXPECT_FALSE(fused_attention_applies(torch::randn({2, 4, 25}), 1));     // not 3C
  EXPECT_TRUE(fused_attention_applies(torch::randn({2, 4, 48}), 2));
  EXPECT_THROW(fused_attention(torch::randn({2, 4, 3 * 64}), 1, 1.0), c10::Error);
}

}  // namespace
}  // namespace ddpm
