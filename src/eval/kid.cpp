#include "eval/kid.h"

#include <stdexcept>
#include <string>

namespace ddpm {

namespace {

torch::Tensor polynomial_kernel(const torch::Tensor& x, const torch::Tensor& y) {
  return (x.matmul(y.t()) / double(x.size(1)) + 1.0).pow(3);  // (aᵀb/d + 1)³
}

}  // namespace

double mmd2_unbiased(const torch::Tensor& x_in, const torch::Tensor& y_in) {
  auto x = x_in.to(torch::kCPU, torch::kFloat64), y = y_in.to(torch::kCPU, torch::kFloat64);
  TORCH_CHECK(x.dim() == 2 && x.sizes() == y.sizes() && x.size(0) >= 2,
              "mmd2_unbiased: x and y must both be [m, D] with m >= 2, got ", x.sizes(), " and ",
              y.sizes());
  const double m = double(x.size(0));
  auto k_xx = polynomial_kernel(x, x), k_yy = polynomial_kernel(y, y);
  auto k_xy = polynomial_kernel(x, y);
  // torch-fidelity kid.mmd2: off-diagonal sums of K_XX and K_YY, the full sum of K_XY.
  const double xx = (k_xx.sum() - k_xx.diagonal().sum()).item<double>();
  const double yy = (k_yy.sum() - k_yy.diagonal().sum()).item<double>();
  return (xx + yy) / (m * (m - 1)) - 2.0 * k_xy.sum().item<double>() / (m * m);
}

KIDResult kernel_inception_distance(const torch::Tensor& a_in, const torch::Tensor& b_in,
                                    const KIDOptions& options) {
  if (a_in.dim() != 2 || b_in.dim() != 2 || a_in.size(1) != b_in.size(1))
    throw std::invalid_argument("KID: features must be [N, D] with one D, got " +
                                c10::str(a_in.sizes()) + " and " + c10::str(b_in.sizes()));
  if (a_in.size(0) < 2 || b_in.size(0) < 2)
    throw std::invalid_argument("KID needs at least 2 feature rows per set, got " +
                                std::to_string(a_in.size(0)) + " and " +
                                std::to_string(b_in.size(0)));
  if (options.subsets < 1 || options.subset_size < 2)
    throw std::invalid_argument("KID: subsets must be >= 1 and subset_size >= 2, got " +
                                std::to_string(options.subsets) + " and " +
                                std::to_string(options.subset_size));
  auto a = a_in.to(torch::kCPU, torch::kFloat64), b = b_in.to(torch::kCPU, torch::kFloat64);
  const int64_t m = std::min({options.subset_size, a.size(0), b.size(0)});
  auto gen = at::detail::createCPUGenerator(options.seed);
  std::vector<double> values;
  for (int64_t s = 0; s < options.subsets; ++s) {
    auto ia = torch::randperm(a.size(0), gen, torch::kLong).slice(0, 0, m);
    auto ib = torch::randperm(b.size(0), gen, torch::kLong).slice(0, 0, m);
    values.push_back(mmd2_unbiased(a.index_select(0, ia), b.index_select(0, ib)));
  }
  auto v = torch::tensor(values, torch::kFloat64);
  KIDResult r;
  r.mean = v.mean().item<double>();
  // torch-fidelity reports np.std (population) over subsets.
  r.std = v.std(/*unbiased=*/false).item<double>();
  r.subsets = options.subsets;
  r.subset_size = m;
  return r;
}

}  // namespace ddpm
