// Reference: diffusers 0.21.4 DPMSolverMultistepScheduler.convert_model_output,
// dpm_solver_first_order_update, multistep_dpm_solver_second_order_update,
// multistep_dpm_solver_third_order_update and step.
#include "samplers/dpm_solver.h"

#include <cmath>
#include <deque>
#include <stdexcept>

#include "samplers/solver_grids.h"
#include "samplers/thresholding.h"

namespace ddpm {

torch::Tensor dpm_solver_sample(const SamplerConfig& c, const SamplerInputs& in,
                                const std::vector<int64_t>& timesteps, torch::Tensor x) {
  const bool data_model = c.kind != SamplerKind::dpm_solver;  // ++ variants solve for x̂_0
  const bool sde = c.kind == SamplerKind::sde_dpm_solver_pp;
  if (sde && !in.noise) throw std::invalid_argument("sde-dpm-solver++ needs a noise source");
  const int64_t n = int64_t(timesteps.size());
  std::deque<torch::Tensor> outputs;  // converted model outputs, newest last
  std::deque<int64_t> steps;          // their timesteps
  int64_t lower_order_nums = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s0 = timesteps[size_t(i)];
    const int64_t t = i == n - 1 ? 0 : timesteps[size_t(i + 1)];
    const auto cs = log_snr_coefficients(in.schedule, s0),
               ct = log_snr_coefficients(in.schedule, t);
    auto raw = in.denoise(x, step_labels(double(s0), x.size(0), x.device()));

    // convert_model_output: x̂_0 for DPM-Solver++, ε̂ for DPM-Solver.
    auto split = split_prediction(in.prediction, raw, x,
                                  torch::scalar_tensor(in.schedule.alpha_bar(s0), torch::kFloat64));
    torch::Tensor m, x0;
    if (data_model) {
      x0 = c.thresholding
               ? dynamic_threshold(split.x0, c.dynamic_thresholding_ratio, c.sample_max_value)
               : split.x0;
      m = x0;
    } else {
      m = split.eps;
      x0 = split.x0;
      if (c.thresholding) {
        x0 = dynamic_threshold(x0, c.dynamic_thresholding_ratio, c.sample_max_value);
        m = (x - cs.alpha * x0) / cs.sigma;
      }
    }
    outputs.push_back(m);
    steps.push_back(s0);
    while (int64_t(outputs.size()) > c.solver_order) {
      outputs.pop_front();
      steps.pop_front();
    }

    const bool short_grid = c.lower_order_final && n < 15;
    const bool lower_order_final = i == n - 1 && short_grid;
    const bool lower_order_second = i == n - 2 && short_grid;
    int64_t order = 3;
    if (c.solver_order == 1 || lower_order_nums < 1 || lower_order_final)
      order = 1;
    else if (c.solver_order == 2 || lower_order_nums < 2 || lower_order_second)
      order = 2;
    if (order == 3 && sde)
      throw std::invalid_argument("sde-dpm-solver++ has no third-order update (solver_order <= 2)");

    const torch::Tensor z = sde ? in.noise(m) : torch::Tensor();
    const double h = ct.lambda - cs.lambda;
    torch::Tensor next;
    if (order == 1) {
      if (c.kind == SamplerKind::dpm_solver_pp)
        next = (ct.sigma / cs.sigma) * x - (ct.alpha * std::expm1(-h)) * m;
      else if (c.kind == SamplerKind::dpm_solver)
        next = (ct.alpha / cs.alpha) * x - (ct.sigma * std::expm1(h)) * m;
      else
        next = (ct.sigma / cs.sigma * std::exp(-h)) * x + (ct.alpha * -std::expm1(-2.0 * h)) * m +
               ct.sigma * std::sqrt(-std::expm1(-2.0 * h)) * z;
    } else {
      const auto& m0 = outputs[outputs.size() - 1];
      const auto& m1 = outputs[outputs.size() - 2];
      const double lambda_s1 = log_snr_coefficients(in.schedule, steps[steps.size() - 2]).lambda;
      const double h0 = cs.lambda - lambda_s1;
      const double r0 = h0 / h;
      const bool midpoint = c.solver_type == SolverType::midpoint;
      if (order == 2) {
        auto D0 = m0;
        auto D1 = (1.0 / r0) * (m0 - m1);
        if (c.kind == SamplerKind::dpm_solver_pp) {
          next = (ct.sigma / cs.sigma) * x - (ct.alpha * std::expm1(-h)) * D0 +
                 (midpoint ? -0.5 * (ct.alpha * std::expm1(-h))
                           : ct.alpha * (std::expm1(-h) / h + 1.0)) *
                     D1;
        } else if (c.kind == SamplerKind::dpm_solver) {
          next =
              (ct.alpha / cs.alpha) * x - (ct.sigma * std::expm1(h)) * D0 -
              (midpoint ? 0.5 * (ct.sigma * std::expm1(h)) : ct.sigma * (std::expm1(h) / h - 1.0)) *
                  D1;
        } else {
          const double e2 = -std::expm1(-2.0 * h);  // 1 − e^{−2h}
          next = (ct.sigma / cs.sigma * std::exp(-h)) * x + (ct.alpha * e2) * D0 +
                 (midpoint ? 0.5 * (ct.alpha * e2) : ct.alpha * (e2 / (-2.0 * h) + 1.0)) * D1 +
                 ct.sigma * std::sqrt(e2) * z;
        }
      } else {
        const auto& m2 = outputs[outputs.size() - 3];
        const double lambda_s2 = log_snr_coefficients(in.schedule, steps[steps.size() - 3]).lambda;
        const double h1 = lambda_s1 - lambda_s2;
        const double r1 = h1 / h;
        auto D0 = m0;
        auto D1_0 = (1.0 / r0) * (m0 - m1);
        auto D1_1 = (1.0 / r1) * (m1 - m2);
        auto D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1);
        auto D2 = (1.0 / (r0 + r1)) * (D1_0 - D1_1);
        if (c.kind == SamplerKind::dpm_solver_pp)
          next = (ct.sigma / cs.sigma) * x - (ct.alpha * std::expm1(-h)) * D0 +
                 (ct.alpha * (std::expm1(-h) / h + 1.0)) * D1 -
                 (ct.alpha * ((std::expm1(-h) + h) / (h * h) - 0.5)) * D2;
        else
          next = (ct.alpha / cs.alpha) * x - (ct.sigma * std::expm1(h)) * D0 -
                 (ct.sigma * (std::expm1(h) / h - 1.0)) * D1 -
                 (ct.sigma * ((std::expm1(h) - h) / (h * h) - 0.5)) * D2;
      }
    }
    if (lower_order_nums < c.solver_order) ++lower_order_nums;
    if (in.on_step) in.on_step({i, n, double(s0), x, x0, next});
    x = next;
  }
  return x;
}

}  // namespace ddpm
