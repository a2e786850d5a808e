// The fused dropout: its generator against Random123's known-answer vectors, the kept fraction
// and scale of torch::dropout, a mask that does not depend on the thread count, a backward pass
// that recomputes the forward's mask, and its randomness drawn from LibTorch's default generator
// (same seed, same mask; the next call another one).
#include "models/fused_dropout.h"

#include "models/kernels/dropout_kernel.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(FusedDropout, PhiloxMatchesTheKnownAnswers) {
  // Random123 kat_vectors, philox4x32 with 10 rounds: counter, key → output.
  using A4 = std::array<uint32_t, 4>;
  EXPECT_EQ(kernels::philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (A4{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(kernels::philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                                   {0xffffffff, 0xffffffff}),
            (A4{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(kernels::philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                                   {0xa4093822, 0x299f31d0}),
            (A4{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(FusedDropout, KeepsOneMinusPScaledAndTheMaskIgnoresTheThreadCount) {
  const int64_t n = (1 << 20) + 3;  // a short last block
  const auto x = torch::rand({n}) + 0.5;
  for (const double p : {0.1, 0.5}) {
    auto masked = [&](int threads) {
      at::set_num_threads(threads);
      auto y = torch::empty_like(x);
      kernels::philox_dropout(x.data_ptr<float>(), y.data_ptr<float>(), n, 0x1234abcd5678ull, p);
      return y;
    };
    const auto y = masked(1);
    const auto kept = y != 0;
    const double fraction = kept.to(torch::kDouble).mean().item<double>();
    const double sigma = std::sqrt(p * (1 - p) / double(n));
    EXPECT_NEAR(fraction, 1 - p, 5 * sigma) << "p " << p;
    EXPECT_TRUE(torch::equal(y.masked_select(kept), x.masked_select(kept) * float(1 / (1 - p))));
    EXPECT_TRUE(torch::equal(masked(2), y)) << "p " << p;
    // Neighbours are not correlated: both kept about (1 − p)² of the time.
    const double both =
        (kept.slice(0, 1) & kept.slice(0, 0, n - 1)).to(torch::kDouble).mean().item<double>();
    EXPECT_NEAR(both, (1 - p) * (1 - p), 0.005) << "p " << p;
  }
  at::set_num_threads(1);
}

TEST(FusedDropout, BackwardUsesTheForwardsMask) {
  torch::manual_seed(4);
  auto x = (torch::rand({4, 8, 9, 9}) + 0.5).requires_grad_();
  const auto y = fused_dropout(x, 0.3, /*training=*/true);
  const auto dy = torch::randn_like(y);
  y.backward(dy);
  const auto mask = (y != 0).to(torch::kFloat);
  EXPECT_TRUE(torch::allclose(x.grad(), dy * mask / 0.7, 1e-6, 1e-7));
  EXPECT_GT(mask.mean().item<double>(), 0.5);
  EXPECT_LT(mask.mean().item<double>(), 0.9);
}

TEST(FusedDropout, TheDefaultGeneratorDecides) {
  const auto x = torch::ones({64, 64});
  torch::manual_seed(11);
  const auto a = fused_dropout(x, 0.2, true);
  const auto b = fused_dropout(x, 0.2, true);
  torch::manual_seed(11);
  EXPECT_TRUE(torch::equal(fused_dropout(x, 0.2, true), a)) << "same seed, same mask";
  EXPECT_FALSE(torch::equal(a, b)) << "the next call draws another key";
  // Not training, or p 0: the input itself.
  EXPECT_TRUE(fused_dropout(x, 0.2, false).is_same(x));
  EXPECT_TRUE(fused_dropout(x, 0.0, true).is_same(x));
  // Other dtypes take LibTorch's dropout.
  const auto d = fused_dropout(x.to(torch::kDouble), 0.2, true);
  EXPECT_EQ(d.scalar_type(), torch::kDouble);
  EXPECT_THROW(fused_dropout(x, 1.0, true), c10::Error);
}

}  // namespace
}  // namespace ddpm
