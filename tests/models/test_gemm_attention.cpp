// The strided GEMM kernel against torch::matmul (either layout of A, rows not a multiple of the
// micro-kernel's, several products at fixed strides, every instruction set this CPU has), and the
// wide-head attention built on it against the matmul/softmax reference.
#include "models/gemm_attention.h"
#include "models/kernels/gemm_kernel.h"
#include "models/kernels/winograd_conv_kernel.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(StridedGemm, MatchesMatmulForEitherLayoutOfAUnderEveryInstructionSet) {
  torch::manual_seed(21);
  struct Case {
    int64_t batch, m, n, k;
  };
  const auto best = kernels::winograd_cpu_isa();
  for (int isa = 0; isa <= int(best); ++isa) {
    kernels::set_winograd_isa(kernels::WinogradIsa(isa));
    for (const Case c :
         {Case{1, 256, 256, 256}, Case{3, 13, 24, 7}, Case{2, 5, 8, 1}, Case{1, 40, 104, 33}}) {
      for (bool a_transposed : {false, true}) {
        // A as [m, k] rows, or as the transpose of a [k, m] matrix.
        auto a =
            a_transposed ? torch::randn({c.batch, c.k, c.m}) : torch::randn({c.batch, c.m, c.k});
        auto b = torch::randn({c.batch, c.k, c.n});
        auto out = torch::full({c.batch, c.m, c.n}, 7.0f);  // overwritten
        kernels::strided_gemm({c.batch, c.m, c.n, c.k, a.data_ptr<float>(), c.m * c.k,
                               a_transposed ? 1 : c.k, a_transposed ? c.m : 1, b.data_ptr<float>(),
                               c.k * c.n, c.n, out.data_ptr<float>(), c.m * c.n, c.n});
        const auto ref = torch::matmul(a_transposed ? a.transpose(1, 2) : a, b);
        EXPECT_TRUE(test::tensors_close(out, ref, 1e-5))
            << "isa " << isa << " batch " << c.batch << " m " << c.m << " n " << c.n << " k " << c.k
            << (a_transposed ? " A transposed" : "");
      }
    }
  }
  kernels::set_winograd_isa(best);
  float x = 0;
  EXPECT_THROW(kernels::strided_gemm({1, 1, 12, 1, &x, 0, 1, 1, &x, 0, 12, &x, 0, 12}),
               std::invalid_argument);
}

TEST(GemmAttention, MatchesMatmulSoftmaxPerHead) {
  torch::manual_seed(22);
  for (const auto [batch, tokens, heads, d] :
       {std::array<int64_t, 4>{2, 256, 1, 64}, std::array<int64_t, 4>{3, 16, 2, 40},
        std::array<int64_t, 4>{1, 8, 3, 5}}) {
    const int64_t C = heads * d;
    const double scale = 1.0 / std::sqrt(double(d));
    auto qkv = 2 * torch::randn({batch, 3 * C, tokens});  // [B, 3C, N]
    torch::NoGradGuard no_grad;
    const auto ours = gemm_attention_channels_first(qkv, heads, scale);
    auto split = qkv.view({batch, 3, heads, d, tokens});  // [B, 3, h, d, N]
    auto q = split.select(1, 0), k = split.select(1, 1), v = split.select(1, 2);
    auto p = torch::softmax(torch::matmul(q.transpose(2, 3), k) * scale, -1);  // [B, h, i, j]
    auto ref = torch::matmul(v, p.transpose(2, 3)).reshape({batch, C, tokens});
    EXPECT_TRUE(test::tensors_close(ours, ref, 1e-5))
        << "B " << batch << " N " << tokens << " heads " << heads << " d " << d;
  }
  EXPECT_FALSE(gemm_attention_applies(torch::randn({1, 24, 12}), 1)) << "N not a multiple of 8";
  EXPECT_THROW(gemm_attention_channels_first(torch::randn({1, 24, 12}), 1, 1.0), c10::Error);
  EXPECT_THROW(gemm_attention_channels_first(torch::randn({1, 24, 8}).requires_grad_(), 1, 1.0),
               c10::Error);
}

}  // namespace
}  // namespace ddpm
