// References: diffusers 0.21.4 src/diffusers/schedulers/scheduling_dpmsolver_multistep.py
// (set_timesteps, _sigma_to_t, _convert_to_karras), scheduling_unipc_multistep.py,
// scheduling_euler_discrete.py, scheduling_heun_discrete.py.
#include "samplers/solver_grids.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <set>
#include <stdexcept>

namespace ddpm {

LogSnrCoefficients log_snr_coefficients(const NoiseSchedule& schedule, int64_t t) {
  const double ab = schedule.alpha_bar(t);
  const double alpha = std::sqrt(ab), sigma = std::sqrt(1.0 - ab);
  return {alpha, sigma, std::log(alpha) - std::log(sigma)};
}

std::vector<double> training_sigmas(const NoiseSchedule& schedule) {
  auto s = schedule.sqrt_recipm1_alphas_cumprod.to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
}

double interpolate_sigma(const std::vector<double>& sigmas, double t) {
  const int64_t T = int64_t(sigmas.size());
  if (t <= 0) return sigmas.front();
  if (t >= double(T - 1)) return sigmas.back();
  const auto lo = int64_t(std::floor(t));
  const double w = t - double(lo);
  return sigmas[size_t(lo)] + w * (sigmas[size_t(lo + 1)] - sigmas[size_t(lo)]);
}

std::vector<double> karras_sigmas(double first, double last, int64_t n) {
  const double rho = 7.0;  // "7.0 is the value used in the paper"
  const auto ramp = np_linspace(0.0, 1.0, n);
  const double a = std::pow(first, 1.0 / rho), b = std::pow(last, 1.0 / rho);
  std::vector<double> out;
  for (double r : ramp) out.push_back(std::pow(a + r * (b - a), rho));
  return out;
}

double sigma_to_t(double sigma, const std::vector<double>& log_sigmas) {
  const int64_t T = int64_t(log_sigmas.size());
  const double log_sigma = std::log(sigma);
  // argmax of the cumulative count of log σ_i ≤ log σ: the last such i (0 when there is none).
  int64_t low = 0;
  for (int64_t i = 0; i < T; ++i)
    if (log_sigma - log_sigmas[size_t(i)] >= 0) low = i;
  low = std::min(low, T - 2);
  const double lo = log_sigmas[size_t(low)], hi = log_sigmas[size_t(low + 1)];
  const double w = std::clamp((lo - log_sigma) / (lo - hi), 0.0, 1.0);
  return (1.0 - w) * double(low) + w * double(low + 1);
}

double round_half_even(double x) {
  const int mode = std::fegetround();
  std::fesetround(FE_TONEAREST);
  const double r = std::nearbyint(x);
  std::fesetround(mode);
  return r;
}

std::vector<double> np_linspace(double start, double stop, int64_t num) {
  std::vector<double> y;
  if (num <= 0) return y;
  if (num == 1) return {start};
  const double step = (stop - start) / double(num - 1);
  for (int64_t k = 0; k < num; ++k) y.push_back(double(k) * step + start);
  y.back() = stop;
  return y;
}

std::vector<double> np_arange_down(double start, double step) {
  const auto n = int64_t(std::ceil(start / step));
  std::vector<double> y;
  for (int64_t k = 0; k < n; ++k) y.push_back(start + double(k) * -step);
  return y;
}

namespace {

/// Keeps the first occurrence of every value (np.unique(..., return_index) + sort of indices).
template <typename V>
std::vector<V> first_occurrences(const std::vector<V>& values) {
  std::vector<V> out;
  std::set<V> seen;
  for (const V& v : values)
    if (seen.insert(v).second) out.push_back(v);
  return out;
}

}  // namespace

std::vector<int64_t> multistep_timesteps(const SamplerConfig& c, const NoiseSchedule& schedule) {
  const int64_t T = schedule.num_train_timesteps;
  const int64_t N = c.steps;
  // DPMSolverMultistepScheduler: clipped_idx = searchsorted(flip(λ_t), lambda_min_clipped), the
  // count of steps whose λ_t = log α_t − log σ_t lies below the bound.
  int64_t last = T;
  if (c.kind != SamplerKind::unipc && std::isfinite(c.lambda_min_clipped)) {
    int64_t clipped = 0;
    for (int64_t t = 0; t < T; ++t)
      if (log_snr_coefficients(schedule, t).lambda < c.lambda_min_clipped) ++clipped;
    last = T - clipped;
    if (last < 1)
      throw std::invalid_argument("lambda_min_clipped = " + std::to_string(c.lambda_min_clipped) +
                                  " leaves no timestep to sample");
  }
  std::vector<int64_t> ts;
  switch (c.timestep_spacing) {
    case TimestepSpacing::linspace: {
      auto grid = np_linspace(0.0, double(last - 1), N + 1);
      for (int64_t k = N; k >= 1; --k) ts.push_back(int64_t(round_half_even(grid[size_t(k)])));
      break;
    }
    case TimestepSpacing::leading: {
      const int64_t ratio = last / (N + 1);
      for (int64_t k = N; k >= 1; --k) ts.push_back(k * ratio + c.steps_offset);
      break;
    }
    case TimestepSpacing::trailing: {
      for (double v : np_arange_down(double(last), double(T) / double(N)))
        ts.push_back(int64_t(round_half_even(v)) - 1);
      break;
    }
    case TimestepSpacing::quadratic:
    case TimestepSpacing::uniform:
    case TimestepSpacing::strided:
      throw std::invalid_argument(to_string(c.timestep_spacing) +
                                  " timestep spacing is only available with ddpm, ddim");
  }
  if (c.use_karras_sigmas) {
    const auto sigmas = training_sigmas(schedule);
    std::vector<double> log_sigmas;
    for (double s : sigmas) log_sigmas.push_back(std::log(s));
    // _convert_to_karras(in_sigmas = σ of all T steps): from σ_0 up to σ_{T−1}, then flipped.
    const auto karras = karras_sigmas(sigmas.front(), sigmas.back(), N);
    ts.clear();
    for (auto it = karras.rbegin(); it != karras.rend(); ++it)
      ts.push_back(int64_t(round_half_even(sigma_to_t(*it, log_sigmas))));
  }
  for (int64_t t : ts)
    if (t < 0 || t >= T)
      throw std::invalid_argument("the " + to_string(c.timestep_spacing) + " grid reaches step " +
                                  std::to_string(t) + ", outside [0, " + std::to_string(T) +
                                  "); lower steps_offset or steps");
  return first_occurrences(ts);
}

SigmaGrid sigma_grid(const SamplerConfig& c, const NoiseSchedule& schedule) {
  const int64_t T = schedule.num_train_timesteps;
  const int64_t N = c.steps;
  SigmaGrid g;
  switch (c.timestep_spacing) {
    case TimestepSpacing::linspace: {  // np.linspace(0, T − 1, N, dtype=float32)[::-1]
      auto grid = np_linspace(0.0, double(T - 1), N);
      for (auto it = grid.rbegin(); it != grid.rend(); ++it) g.timesteps.push_back(float(*it));
      break;
    }
    case TimestepSpacing::leading: {
      const int64_t ratio = T / N;
      for (int64_t k = N - 1; k >= 0; --k)
        g.timesteps.push_back(double(k * ratio + c.steps_offset));
      break;
    }
    case TimestepSpacing::trailing: {
      for (double v : np_arange_down(double(T), double(T) / double(N)))
        g.timesteps.push_back(round_half_even(v) - 1.0);
      break;
    }
    case TimestepSpacing::quadratic:
    case TimestepSpacing::uniform:
    case TimestepSpacing::strided:
      throw std::invalid_argument(to_string(c.timestep_spacing) +
                                  " timestep spacing is only available with ddpm, ddim");
  }
  for (double t : g.timesteps)
    if (t < 0 || t > double(T - 1))
      throw std::invalid_argument("the " + to_string(c.timestep_spacing) + " grid reaches step " +
                                  std::to_string(t) + ", outside [0, " + std::to_string(T) +
                                  "); lower steps_offset or steps");
  const auto train = training_sigmas(schedule);
  std::vector<double> log_sigmas;
  for (double s : train) log_sigmas.push_back(std::log(s));
  if (c.kind == SamplerKind::euler && c.interpolation_type == SigmaInterpolation::log_linear) {
    // torch.linspace(log σ[-1], log σ[0], N + 1).exp(): N + 1 levels from σ_{T−1} to σ_0.
    for (double v : np_linspace(log_sigmas.back(), log_sigmas.front(), N + 1))
      g.sigmas.push_back(std::exp(v));
  } else {
    for (double t : g.timesteps) g.sigmas.push_back(interpolate_sigma(train, t));
  }
  if (c.use_karras_sigmas) {
    g.sigmas = karras_sigmas(g.sigmas.front(), g.sigmas.back(), N);
    g.timesteps.clear();
    for (double s : g.sigmas) g.timesteps.push_back(sigma_to_t(s, log_sigmas));
  }
  g.sigmas.push_back(0.0);
  // The arrays are float32 in diffusers; the network sees float32 labels.
  for (double& t : g.timesteps) t = double(float(t));
  for (double& s : g.sigmas) s = double(float(s));
  return g;
}

SigmaGrid sigma_grid_at(const std::vector<int64_t>& timesteps, const NoiseSchedule& schedule) {
  const auto train = training_sigmas(schedule);
  SigmaGrid g;
  for (int64_t t : timesteps) {
    g.timesteps.push_back(double(t));
    g.sigmas.push_back(train[size_t(t)]);
  }
  g.sigmas.push_back(0.0);
  return g;
}

double sigma_init_noise(const SamplerConfig& c, const SigmaGrid& g) {
  const double sigma_max = *std::max_element(g.sigmas.begin(), g.sigmas.end());
  if (c.timestep_spacing == TimestepSpacing::linspace ||
      c.timestep_spacing == TimestepSpacing::trailing)
    return sigma_max;
  return std::sqrt(sigma_max * sigma_max + 1.0);
}

}  // namespace ddpm
