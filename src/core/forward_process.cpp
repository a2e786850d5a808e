#include "core/forward_process.h"

namespace ddpm {

torch::Tensor q_sample(const NoiseSchedule& s, const torch::Tensor& x0, const torch::Tensor& t,
                       const torch::Tensor& noise) {
  TORCH_CHECK(x0.sizes() == noise.sizes(), "q_sample: noise ", noise.sizes(), " must match x0 ",
              x0.sizes());
  return extract(s.sqrt_alphas_cumprod, t, x0.dim(), x0) * x0 +
         extract(s.sqrt_one_minus_alphas_cumprod, t, x0.dim(), x0) * noise;
}

Posterior q_posterior(const NoiseSchedule& s, const torch::Tensor& x0, const torch::Tensor& x_t,
                      const torch::Tensor& t) {
  const int64_t nd = x_t.dim();
  Posterior p;
  p.mean = extract(s.posterior_mean_coef1, t, nd, x_t) * x0 +
           extract(s.posterior_mean_coef2, t, nd, x_t) * x_t;
  p.variance = extract(s.posterior_variance, t, nd, x_t);
  p.log_variance = extract(s.posterior_log_variance_clipped, t, nd, x_t);
  return p;
}

}  // namespace ddpm
