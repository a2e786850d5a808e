// The global gradient norm with clipping (training/gradients.h): the fused pass over float32 CPU
// gradients against LibTorch's norm of norms and torch::nn::utils::clip_grad_norm_, parameters
// without a gradient skipped, a non-finite norm leaving the gradients alone, the same sums
// whatever the thread count, and the LibTorch path for gradients the fused one does not take.
#include "test_util.h"
#include "training/gradients.h"
#include "training/kernels/gradient_norm_kernel.h"

namespace ddpm {
namespace {

/// A module of parameters of the given sizes, with random gradients (the last without one).
torch::nn::Sequential model_with_gradients(const std::vector<int64_t>& sizes) {
  torch::nn::Sequential model;
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto layer = torch::nn::Linear(sizes[i], 3);
    if (i + 1 < sizes.size())
      for (auto& p : layer->parameters()) p.mutable_grad() = torch::randn_like(p) * 0.1;
    model->push_back(layer);
  }
  return model;
}

std::vector<torch::Tensor> gradients(torch::nn::Module& model) {
  std::vector<torch::Tensor> grads;
  for (auto& p : model.parameters())
    if (p.grad().defined()) grads.push_back(p.grad().clone());
  return grads;
}

double reference_norm(const std::vector<torch::Tensor>& grads) {
  double sum = 0;
  for (const auto& g : grads) sum += g.to(torch::kDouble).pow(2).sum().item<double>();
  return std::sqrt(sum);
}

TEST(GlobalGradNorm, FusedNormAndClippingMatchLibTorch) {
  torch::manual_seed(21);
  auto model = model_with_gradients({1, 7, 40000, 300, 5});  // slices cut the large one
  const auto before = gradients(*model);
  const double expected = reference_norm(before);
  EXPECT_NEAR(global_grad_norm(*model, 0.0), expected, 1e-9 * expected);
  const auto unclipped = gradients(*model);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(unclipped[i], before[i]));
  // Clipped to a third of the norm, as clip_grad_norm_ clips.
  const double clip = expected / 3;
  auto reference = model_with_gradients({1, 7, 40000, 300, 5});
  {
    size_t i = 0;
    for (auto& p : reference->parameters())
      if (p.grad().defined()) p.mutable_grad() = before[i++].clone();
  }
  torch::nn::utils::clip_grad_norm_(reference->parameters(), clip);
  EXPECT_NEAR(global_grad_norm(*model, clip), expected, 1e-9 * expected);
  const auto clipped = gradients(*model), expected_grads = gradients(*reference);
  ASSERT_EQ(clipped.size(), expected_grads.size());
  for (size_t i = 0; i < clipped.size(); ++i)
    EXPECT_TRUE(torch::allclose(clipped[i], expected_grads[i], 1e-6, 1e-9)) << "gradient " << i;
  EXPECT_NEAR(reference_norm(clipped), clip, 1e-5 * clip);
  // Below the clip: untouched.
  EXPECT_NEAR(global_grad_norm(*model, 10 * expected), reference_norm(clipped), 1e-9 * expected);
  const auto after = gradients(*model);
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(torch::equal(after[i], clipped[i]));
}

TEST(GlobalGradNorm, ANonFiniteGradientGivesANonFiniteNormAndNoClipping) {
  torch::manual_seed(22);
  auto model = model_with_gradients({4, 40000, 3});
  auto grads = gradients(*model);
  model->parameters()[2].mutable_grad()[1][17] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(global_grad_norm(*model, 1e-3)));
  EXPECT_EQ(model->parameters()[0].grad()[0][0].item<float>(), grads[0][0][0].item<float>());
  model->parameters()[2].mutable_grad()[1][17] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isinf(global_grad_norm(*model, 1e-3)));
  EXPECT_TRUE(torch::equal(model->parameters()[0].grad(), grads[0]));
}

TEST(GlobalGradNorm, SumOfSquaresIsTheSameWhateverTheThreads) {
  torch::manual_seed(23);
  std::vector<torch::Tensor> tensors = {torch::randn({100000}), torch::randn({3}),
                                        torch::randn({70000})};
  std::vector<kernels::FloatBuffer> buffers;
  for (auto& t : tensors) buffers.push_back({t.data_ptr<float>(), t.numel()});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const double one = kernels::sum_of_squares(buffers);
  at::set_num_threads(std::max(2, threads));
  const double many = kernels::sum_of_squares(buffers);
  at::set_num_threads(threads);
  EXPECT_EQ(one, many);
  EXPECT_NEAR(one, reference_norm(tensors) * reference_norm(tensors), 1e-9 * one);
  EXPECT_EQ(kernels::sum_of_squares({}), 0.0);
}

TEST(GlobalGradNorm, GradientsTheFusedPassDoesNotTakeGoThroughLibTorch) {
  torch::manual_seed(24);
  auto model = model_with_gradients({6, 9, 2});
  for (auto& p : model->parameters())
    if (p.grad().defined() && p.dim() == 2)
      p.mutable_grad() = p.grad().t().contiguous().t();  // the same values, column-major
  ASSERT_FALSE(model->parameters()[0].grad().is_contiguous());
  const auto before = gradients(*model);
  const double expected = reference_norm(before);
  EXPECT_NEAR(global_grad_norm(*model, expected / 2), expected, 1e-6 * expected);
  EXPECT_NEAR(reference_norm(gradients(*model)), expected / 2, 1e-5 * expected);
}

}  // namespace
}  // namespace ddpm
