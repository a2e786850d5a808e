// Attention against a hand-written single-head computation, head splitting, the sampling path
// (no gradients) against the training path, and the training path's gradients (small heads: 1×1
// projections, channel-major heads) against a hand-written multi-head computation's.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "models/attention.h"
#include "models/conv3x3.h"

namespace ddpm {
namespace {

TEST(Attention, OneHeadMatchesManualComputation) {
  torch::manual_seed(3);
  AttentionOptions o;
  o.channels = 8;
  o.head_dim = 0;  // one head of 8
  o.norm = NormOptions{NormType::group, 2, 1e-5, 0.01};
  o.rescale_output_factor = 2.0;
  Attention attn(o);
  EXPECT_EQ(attn->heads(), 1);
  auto p = attn->named_parameters();
  for (const char* key : {"group_norm.weight", "to_q.weight", "to_k.bias", "to_v.weight",
                          "to_out.0.weight", "to_out.0.bias"})
    EXPECT_TRUE(p.contains(key)) << key;
  auto x = torch::randn({2, 8, 3, 3});
  torch::NoGradGuard no_grad;
  auto h = torch::group_norm(x, 2, p["group_norm.weight"], p["group_norm.bias"], 1e-5);
  h = h.flatten(2).transpose(1, 2);  // [2, 9, 8]
  auto lin = [&](const std::string& name, const torch::Tensor& t) {
    return torch::matmul(t, p[name + ".weight"].t()) + p[name + ".bias"];
  };
  auto q = lin("to_q", h), k = lin("to_k", h), v = lin("to_v", h);
  auto w = torch::softmax(torch::matmul(q, k.transpose(1, 2)) / std::sqrt(8.0), -1);
  auto out = lin("to_out.0", torch::matmul(w, v)).transpose(1, 2).reshape({2, 8, 3, 3});
  auto expected = (out + x) / 2.0;
  EXPECT_TRUE(torch::allclose(attn(x), expected, 1e-5, 1e-6));
}

TEST(Attention, HeadsSplitChannels) {
  AttentionOptions o;
  o.channels = 16;
  o.head_dim = 4;
  Attention attn(o);
  EXPECT_EQ(attn->heads(), 4);
  EXPECT_FALSE(attn->named_parameters().contains("group_norm.weight"));  // no norm requested
  EXPECT_EQ(attn(torch::randn({1, 16, 2, 2})).sizes(), (std::vector<int64_t>{1, 16, 2, 2}));
  o.head_dim = 5;
  EXPECT_THROW(Attention{o}, c10::Error);
}

/// 24 channels in 3 heads of 8 (the fused kernels), GroupNorm of 4 groups.
AttentionOptions three_small_heads() {
  AttentionOptions o;
  o.channels = 24;
  o.head_dim = 8;
  o.norm = NormOptions{NormType::group, 4, 1e-5, 0.01};
  return o;
}

TEST(Attention, SamplingPathMatchesTheTrainingPath) {
  torch::manual_seed(4);
  AttentionOptions o = three_small_heads();
  Attention small(o);
  o.channels = 80;
  o.head_dim = 40;  // 2 heads: the strided GEMMs at 5×8 tokens, the matmuls at 5×7
  Attention wide(o);
  for (auto [attn, x] :
       {std::pair{small, torch::randn({3, 24, 5, 7})}, std::pair{wide, torch::randn({2, 80, 5, 8})},
        std::pair{wide, torch::randn({2, 80, 5, 7})}}) {
    const auto training = attn(x.clone().requires_grad_()).detach();  // token-major, autograd
    for (const auto policy : {Conv3x3Policy::onednn, Conv3x3Policy::automatic}) {
      set_conv3x3_policy(policy);  // the 1×1 projections by oneDNN, then as measured
      torch::NoGradGuard no_grad;
      EXPECT_TRUE(torch::allclose(attn(x), training, 1e-5, 1e-5))
          << to_string(policy) << " " << x.sizes() << " heads " << attn->heads();
    }
  }
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::onednn);
}

TEST(Attention, TrainingGradientsMatchTheManualComputation) {
  torch::manual_seed(5);
  Attention attn(three_small_heads());
  const auto x0 = torch::randn({3, 24, 5, 7});
  const auto upstream = torch::randn({3, 24, 5, 7});
  // The reference: LibTorch operators on token-major q, k, v split into heads.
  auto manual = [&](const torch::Tensor& x) {
    auto p = attn->named_parameters();
    auto h = torch::group_norm(x, 4, p["group_norm.weight"], p["group_norm.bias"], 1e-5);
    h = h.flatten(2).transpose(1, 2);  // [3, 35, 24]
    auto lin = [&](const std::string& name, const torch::Tensor& t) {
      return torch::matmul(t, p[name + ".weight"].t()) + p[name + ".bias"];
    };
    auto split = [](const torch::Tensor& t) {  // [3, 35, 24] -> [3, 3 heads, 35, 8]
      return t.view({3, 35, 3, 8}).transpose(1, 2);
    };
    auto q = split(lin("to_q", h)), k = split(lin("to_k", h)), v = split(lin("to_v", h));
    auto w = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(8.0), -1);
    auto heads = torch::matmul(w, v).transpose(1, 2).reshape({3, 35, 24});
    return lin("to_out.0", heads).transpose(1, 2).reshape({3, 24, 5, 7}) + x;
  };
  auto gradients = [&](const std::function<torch::Tensor(const torch::Tensor&)>& f) {
    for (auto& p : attn->parameters()) p.mutable_grad() = torch::Tensor();
    auto x = x0.clone().requires_grad_();
    auto y = f(x);
    (y * upstream).sum().backward();
    std::vector<torch::Tensor> out{y.detach(), x.grad()};
    for (auto& p : attn->parameters()) out.push_back(p.grad().clone());
    return out;
  };
  const auto expected = gradients(manual);
  for (const auto policy : {Conv3x3Policy::onednn, Conv3x3Policy::automatic}) {
    set_conv3x3_policy(policy);  // the projections by oneDNN, then as measured (with gradients)
    const auto ours = gradients([&](const torch::Tensor& x) { return attn(x); });
    ASSERT_EQ(ours.size(), expected.size());
    for (size_t i = 0; i < ours.size(); ++i)
      EXPECT_TRUE(torch::allclose(ours[i], expected[i], 1e-4, 1e-5))
          << to_string(policy) << ": "
          << (i == 0   ? "output"
              : i == 1 ? "d x"
                       : "d parameter")
          << " " << i << ", max gap " << (ours[i] - expected[i]).abs().max().item<double>();
  }
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::onednn);
}

}  // namespace
}  // namespace ddpm
