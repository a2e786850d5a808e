// guided_denoise_fn: classifier-free guidance as a wrapper around the network callback.
#include <gtest/gtest.h>

#include "samplers/guidance.h"

namespace ddpm {
namespace {

// A "network" whose output is x + label (broadcast), recording every call's batch and labels.
struct RecordingNet {
  std::vector<torch::Tensor> labels_seen;
  LabelledDenoiseFn fn() {
    return [this](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor& labels) {
      labels_seen.push_back(labels.defined() ? labels.clone() : labels);
      if (!labels.defined()) return x.clone();
      return x + labels.to(torch::kFloat32).view({-1, 1, 1, 1});
    };
  }
};

TEST(Guidance, CombinesConditionalAndNullInOneBatchedCall) {
  RecordingNet net;
  auto labels = torch::tensor({1, 2, 3}, torch::kLong);
  auto denoise = guided_denoise_fn(net.fn(), {labels, 3.0, 7});
  auto x = torch::zeros({3, 1, 2, 2});
  auto out = denoise(x, torch::full({3}, 10.0f));
  ASSERT_EQ(net.labels_seen.size(), 1u) << "one network call";
  EXPECT_TRUE(net.labels_seen[0].equal(torch::tensor({1, 2, 3, 7, 7, 7}, torch::kLong)));
  // ε_null + w (ε_cond − ε_null) = 7 + 3 (c − 7)
  for (int i = 0; i < 3; ++i)
    EXPECT_FLOAT_EQ(out[i][0][0][0].item<float>(), 7.0f + 3.0f * (float(i + 1) - 7.0f));
}

TEST(Guidance, ScaleOneIsTheConditionalModelAndZeroTheUnconditional) {
  RecordingNet net;
  auto labels = torch::tensor({4, 5}, torch::kLong);
  auto x = torch::zeros({2, 1, 1, 1});
  auto t = torch::zeros({2});
  auto one = guided_denoise_fn(net.fn(), {labels, 1.0, 9})(x, t);
  auto zero = guided_denoise_fn(net.fn(), {labels, 0.0, 9})(x, t);
  ASSERT_EQ(net.labels_seen.size(), 2u) << "one call each, batch B";
  EXPECT_TRUE(net.labels_seen[0].equal(labels));
  EXPECT_TRUE(net.labels_seen[1].equal(torch::tensor({9, 9}, torch::kLong)));
  EXPECT_FLOAT_EQ(one[1].item<float>(), 5.0f);
  EXPECT_FLOAT_EQ(zero[1].item<float>(), 9.0f);
}

TEST(Guidance, UnconditionalModelsPassNoLabels) {
  RecordingNet net;
  auto out = guided_denoise_fn(net.fn(), {})(torch::ones({2, 1, 1, 1}), torch::zeros({2}));
  ASSERT_EQ(net.labels_seen.size(), 1u);
  EXPECT_FALSE(net.labels_seen[0].defined());
  EXPECT_TRUE(out.equal(torch::ones({2, 1, 1, 1})));
}

TEST(Guidance, RefusesWhatCannotBeGuided) {
  RecordingNet net;
  auto labels = torch::tensor({0}, torch::kLong);
  EXPECT_THROW(guided_denoise_fn(net.fn(), {labels, 2.0, -1}), std::invalid_argument)
      << "no null class";
  EXPECT_THROW(guided_denoise_fn(net.fn(), {labels, -1.0, 3}), std::invalid_argument);
  EXPECT_THROW(guided_denoise_fn(net.fn(), {labels, std::nan(""), 3}), std::invalid_argument);
  EXPECT_THROW(guided_denoise_fn(net.fn(), {{}, 2.0, 3}), std::invalid_argument)
      << "guidance without labels";
  EXPECT_THROW(guided_denoise_fn(net.fn(), {torch::tensor({0.5}), 2.0, 3}), std::invalid_argument)
      << "float labels";
  EXPECT_NO_THROW(guided_denoise_fn(net.fn(), {labels, 1.0, -1})) << "w = 1 needs no null class";
  try {
    guided_denoise_fn(net.fn(), {labels, 2.0, -1});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--null-class"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ddpm
