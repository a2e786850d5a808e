// Reference: diffusers 0.21.4 UniPCMultistepScheduler.step, multistep_uni_p_bh_update,
// multistep_uni_c_bh_update (UniPC paper, Algorithms 1–2 and Appendix B for the B(h) forms).
#include "samplers/unipc.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <stdexcept>

#include "samplers/solver_grids.h"
#include "samplers/thresholding.h"

namespace ddpm {

namespace {

/// Solves the k×k system A x = b (k ≤ 3) by Gaussian elimination with partial pivoting.
std::vector<double> solve(std::vector<std::vector<double>> A, std::vector<double> b) {
  const size_t k = b.size();
  for (size_t col = 0; col < k; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < k; ++r)
      if (std::abs(A[r][col]) > std::abs(A[pivot][col])) pivot = r;
    std::swap(A[col], A[pivot]);
    std::swap(b[col], b[pivot]);
    for (size_t r = col + 1; r < k; ++r) {
      const double f = A[r][col] / A[col][col];
      for (size_t j = col; j < k; ++j) A[r][j] -= f * A[col][j];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> x(k);
  for (size_t r = k; r-- > 0;) {
    double s = b[r];
    for (size_t j = r + 1; j < k; ++j) s -= A[r][j] * x[j];
    x[r] = s / A[r][r];
  }
  return x;
}

/// The shared part of UniP and UniC between the newest history entry s0 and t: h, the ratios
/// r_k, the differences D1_k, the system R ρ = b of the B(h) variant, and h φ_1.
struct UniTerms {
  double h = 0, hh = 0, h_phi_1 = 0, B_h = 0;
  std::vector<torch::Tensor> D1s;
  std::vector<std::vector<double>> R;
  std::vector<double> b;
};

UniTerms uni_terms(const SamplerConfig& c, const NoiseSchedule& schedule,
                   const std::deque<torch::Tensor>& outputs, const std::deque<int64_t>& steps,
                   int64_t t, int64_t order) {
  UniTerms u;
  const double lambda_s0 = log_snr_coefficients(schedule, steps.back()).lambda;
  u.h = log_snr_coefficients(schedule, t).lambda - lambda_s0;
  const auto& m0 = outputs.back();
  std::vector<double> rks;
  for (int64_t i = 1; i < order; ++i) {
    const double rk =
        (log_snr_coefficients(schedule, steps[steps.size() - 1 - size_t(i)]).lambda - lambda_s0) /
        u.h;
    rks.push_back(rk);
    u.D1s.push_back((outputs[outputs.size() - 1 - size_t(i)] - m0) / rk);
  }
  rks.push_back(1.0);
  u.hh = c.predict_x0 ? -u.h : u.h;
  u.h_phi_1 = std::expm1(u.hh);  // h φ_1(h) = e^h − 1
  double h_phi_k = u.h_phi_1 / u.hh - 1.0;
  double factorial = 1.0;
  u.B_h = c.solver_type == SolverType::bh1 ? u.hh : std::expm1(u.hh);
  for (int64_t i = 1; i <= order; ++i) {
    std::vector<double> row;
    for (double r : rks) row.push_back(std::pow(r, double(i - 1)));
    u.R.push_back(row);
    u.b.push_back(h_phi_k * factorial / u.B_h);
    factorial *= double(i + 1);
    h_phi_k = h_phi_k / u.hh - 1.0 / factorial;
  }
  return u;
}

/// x_t from x at s0 and the weighted differences (the common form of UniP and UniC).
torch::Tensor uni_update(const SamplerConfig& c, const LogSnrCoefficients& ct,
                         const LogSnrCoefficients& cs, const UniTerms& u, const torch::Tensor& x,
                         const torch::Tensor& m0, const torch::Tensor& residual) {
  if (c.predict_x0) {
    auto x_t = ct.sigma / cs.sigma * x - ct.alpha * u.h_phi_1 * m0;
    return residual.defined() ? x_t - ct.alpha * u.B_h * residual : x_t;
  }
  auto x_t = ct.alpha / cs.alpha * x - ct.sigma * u.h_phi_1 * m0;
  return residual.defined() ? x_t - ct.sigma * u.B_h * residual : x_t;
}

}  // namespace

torch::Tensor unipc_sample(const SamplerConfig& c, const SamplerInputs& in,
                           const std::vector<int64_t>& timesteps, torch::Tensor x) {
  const int64_t n = int64_t(timesteps.size());
  std::deque<torch::Tensor> outputs;
  std::deque<int64_t> steps;
  int64_t lower_order_nums = 0, this_order = 0;
  torch::Tensor last_sample;
  const auto& off = c.disable_corrector;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = timesteps[size_t(i)];
    auto raw = in.denoise(x, step_labels(double(t), x.size(0), x.device()));
    auto split = split_prediction(in.prediction, raw, x,
                                  torch::scalar_tensor(in.schedule.alpha_bar(t), torch::kFloat64));
    // convert_model_output: x̂_0 (thresholded) for predict_x0, else ε̂.
    auto x0 = c.predict_x0 && c.thresholding
                  ? dynamic_threshold(split.x0, c.dynamic_thresholding_ratio, c.sample_max_value)
                  : split.x0;
    auto m = c.predict_x0 ? x0 : split.eps;

    // UniC: correct the sample the last predictor made, with this step's model output.
    const bool use_corrector = i > 0 && c.corrector &&
                               std::find(off.begin(), off.end(), i - 1) == off.end() &&
                               last_sample.defined();
    if (use_corrector) {
      auto u = uni_terms(c, in.schedule, outputs, steps, t, this_order);
      const auto ct = log_snr_coefficients(in.schedule, t),
                 cs = log_snr_coefficients(in.schedule, steps.back());
      const auto rhos = this_order == 1 ? std::vector<double>{0.5} : solve(u.R, u.b);
      torch::Tensor residual = rhos.back() * (m - outputs.back());
      for (size_t k = 0; k < u.D1s.size(); ++k) residual = residual + rhos[k] * u.D1s[k];
      x = uni_update(c, ct, cs, u, last_sample, outputs.back(), residual);
    }

    const int64_t prev = i == n - 1 ? 0 : timesteps[size_t(i + 1)];
    outputs.push_back(m);
    steps.push_back(t);
    while (int64_t(outputs.size()) > c.solver_order) {
      outputs.pop_front();
      steps.pop_front();
    }
    this_order = c.lower_order_final ? std::min(c.solver_order, n - i) : c.solver_order;
    this_order = std::min(this_order, lower_order_nums + 1);  // warm-up of the multistep
    last_sample = x;

    // UniP: predict the sample at prev.
    auto u = uni_terms(c, in.schedule, outputs, steps, prev, this_order);
    const auto ct = log_snr_coefficients(in.schedule, prev),
               cs = log_snr_coefficients(in.schedule, t);
    torch::Tensor residual;
    if (!u.D1s.empty()) {
      std::vector<double> rhos{0.5};
      if (this_order != 2) {
        auto R = u.R;
        R.pop_back();
        for (auto& row : R) row.pop_back();
        auto b = u.b;
        b.pop_back();
        rhos = solve(R, b);
      }
      residual = rhos[0] * u.D1s[0];
      for (size_t k = 1; k < u.D1s.size(); ++k) residual = residual + rhos[k] * u.D1s[k];
    }
    auto next = uni_update(c, ct, cs, u, x, m, residual);
    if (lower_order_nums < c.solver_order) ++lower_order_nums;
    if (in.on_step) in.on_step({i, n, double(t), x, x0, next});
    x = next;
  }
  return x;
}

}  // namespace ddpm
