#include "models/group_norm_act.h"

#include <ATen/record_function.h>

#include <vector>

#include "models/kernels/group_norm_act_kernel.h"
#include "models/precision.h"

namespace ddpm {

namespace {

kernels::GroupNormProblem problem(const torch::Tensor& x, const torch::Tensor& bias,
                                  const torch::Tensor& gamma, const torch::Tensor& beta,
                                  int64_t groups) {
  const int64_t N = x.size(0), C = x.size(1);
  return {x.data_ptr<float>(),
          bias.numel() > 0 ? bias.data_ptr<float>() : nullptr,
          gamma.data_ptr<float>(),
          beta.data_ptr<float>(),
          N,
          C,
          groups,
          C == 0 ? 0 : x.numel() / (N * C)};
}

struct GroupNormActFunction : torch::autograd::Function<GroupNormActFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& bias_in, const torch::Tensor& gamma_in,
                               const torch::Tensor& beta_in, int64_t groups, double eps,
                               bool silu) {
    RECORD_FUNCTION("ddpm::group_norm_act", std::vector<c10::IValue>{x_in});
    auto x = x_in.contiguous();
    auto bias = bias_in.contiguous();  // [N, C], or [0]: no bias
    auto gamma = gamma_in.contiguous(), beta = beta_in.contiguous();
    auto y = torch::empty_like(x, torch::MemoryFormat::Contiguous);
    auto mean = torch::empty({x.size(0), groups}, x.options());
    auto rstd = torch::empty({x.size(0), groups}, x.options());
    kernels::group_norm_act_forward(problem(x, bias, gamma, beta, groups), eps, silu,
                                    y.data_ptr<float>(), mean.data_ptr<float>(),
                                    rstd.data_ptr<float>());
    ctx->save_for_backward({x, bias, gamma, beta, mean, rstd});
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["silu"] = silu;
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    RECORD_FUNCTION("ddpm::group_norm_act_backward", std::vector<c10::IValue>{grads[0]});
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &bias = saved[1], &gamma = saved[2], &beta = saved[3];
    const auto &mean = saved[4], &rstd = saved[5];
    const int64_t groups = ctx->saved_data["groups"].toInt();
    const auto dy = grads[0].contiguous();
    const int64_t N = x.size(0), C = x.size(1);
    auto dx = torch::empty_like(x);
    torch::Tensor db = bias.numel() > 0 ? torch::empty_like(bias) : torch::Tensor();
    // Per-sample partial sums of the γ and β gradients, summed over samples below.
    auto sum_dz = torch::empty({N, C}, x.options().dtype(torch::kFloat64));
    auto sum_dz_xhat = torch::empty({N, C}, x.options().dtype(torch::kFloat64));
    kernels::group_norm_act_backward(problem(x, bias, gamma, beta, groups), mean.data_ptr<float>(),
                                     rstd.data_ptr<float>(), ctx->saved_data["silu"].toBool(),
                                     dy.data_ptr<float>(), dx.data_ptr<float>(),
                                     db.defined() ? db.data_ptr<float>() : nullptr,
                                     sum_dz.data_ptr<double>(), sum_dz_xhat.data_ptr<double>());
    return {dx,
            db,
            sum_dz_xhat.sum(0).to(torch::kFloat32),
            sum_dz.sum(0).to(torch::kFloat32),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

/// groups divide the C channels, and γ, β have C entries.
void check_groups_and_affine(int64_t C, int64_t groups, const torch::Tensor& gamma,
                             const torch::Tensor& beta) {
  TORCH_CHECK(groups >= 1 && C % groups == 0, "group_norm_act: ", groups, " groups do not divide ",
              C, " channels");
  TORCH_CHECK(gamma.defined() && beta.defined() && gamma.numel() == C && beta.numel() == C,
              "group_norm_act: γ and β must have ", C, " entries");
}

bool fast_path_applies(const torch::Tensor& x, const torch::Tensor& bias,
                       const torch::Tensor& gamma, const torch::Tensor& beta) {
  auto cpu_f32 = [](const torch::Tensor& t) {
    return t.is_cpu() && t.scalar_type() == torch::kFloat32;
  };
  return cpu_f32(x) && (!bias.defined() || cpu_f32(bias)) && gamma.defined() && beta.defined() &&
         cpu_f32(gamma) && cpu_f32(beta) && x.numel() > 0;
}

}  // namespace

torch::Tensor group_norm_act(const torch::Tensor& x_in, const torch::Tensor& bias_in,
                             const torch::Tensor& gamma, const torch::Tensor& beta, int64_t groups,
                             double eps, bool silu) {
  // Under autocast the input (a convolution's output) and the bias (a linear layer's) arrive in
  // bf16/fp16: the statistics are computed in float32 beside the float32 γ, β.
  const bool float_params = gamma.defined() && gamma.scalar_type() == torch::kFloat32;
  const auto x = float_params ? float32_if_reduced(x_in) : x_in;
  const auto bias = float_params ? float32_if_reduced(bias_in) : bias_in;
  TORCH_CHECK(x.dim() >= 2, "group_norm_act expects x [N, C, *], got ", x.sizes());
  const int64_t N = x.size(0), C = x.size(1);
  check_groups_and_affine(C, groups, gamma, beta);
  TORCH_CHECK(!bias.defined() || (bias.dim() == 2 && bias.size(0) == N && bias.size(1) == C),
              "group_norm_act: bias must be [N, C] = [", N, ", ", C, "], got ", bias.sizes());
  if (fast_path_applies(x, bias, gamma, beta))  // autograd::Function takes no undefined inputs
    return GroupNormActFunction::apply(x, bias.defined() ? bias : torch::empty({0}, x.options()),
                                       gamma, beta, groups, eps, silu);
  // The same formula in LibTorch operators (CUDA, other dtypes).
  std::vector<int64_t> bias_shape{N, C};
  for (int64_t d = 2; d < x.dim(); ++d) bias_shape.push_back(1);
  auto h = bias.defined() ? x + bias.to(x.scalar_type()).view(bias_shape) : x;
  h = torch::group_norm(h, groups, gamma, beta, eps);
  return silu ? torch::silu(h) : h;
}

torch::Tensor group_norm_act_concat(const torch::Tensor& x1, const torch::Tensor& x2,
                                    const torch::Tensor& gamma, const torch::Tensor& beta,
                                    int64_t groups, double eps, bool silu) {
  const bool needs_grad =
      torch::GradMode::is_enabled() &&
      (x1.requires_grad() || x2.requires_grad() || gamma.requires_grad() || beta.requires_grad());
  const bool fast = !needs_grad && x1.dim() >= 2 && x2.dim() == x1.dim() &&
                    x1.size(0) == x2.size(0) && x1.sizes().slice(2) == x2.sizes().slice(2) &&
                    fast_path_applies(x1, {}, gamma, beta) &&
                    fast_path_applies(x2, {}, gamma, beta);
  if (!fast) return group_norm_act(torch::cat({x1, x2}, 1), {}, gamma, beta, groups, eps, silu);
  const int64_t N = x1.size(0), C = x1.size(1) + x2.size(1);
  check_groups_and_affine(C, groups, gamma, beta);
  RECORD_FUNCTION("ddpm::group_norm_act", std::vector<c10::IValue>{x1, x2});
  const auto a = x1.contiguous(), b = x2.contiguous();
  const auto g = gamma.contiguous(), be = beta.contiguous();
  auto shape = a.sizes().vec();
  shape[1] = C;
  auto y = torch::empty(shape, a.options());
  auto stats = torch::empty({2, N, groups}, a.options());  // mean, rstd
  kernels::GroupNormProblem p = problem(y, torch::empty({0}, a.options()), g, be, groups);
  p.x = a.data_ptr<float>();
  p.x2 = b.data_ptr<float>();
  p.x_channels = a.size(1);
  kernels::group_norm_act_forward(p, eps, silu, y.data_ptr<float>(), stats[0].data_ptr<float>(),
                                  stats[1].data_ptr<float>());
  return y;
}

}  // namespace ddpm
