// Reference: diffusers 0.21.4 PNDMScheduler.set_timesteps, step_prk, step_plms and
// _get_prev_sample (PNDM paper eq. (11) for the transfer part φ).
#include "samplers/pndm.h"

#include <fmt/format.h>
#include <cmath>
#include <stdexcept>

#include "samplers/solver_grids.h"

namespace ddpm {

namespace {

/// PNDMScheduler._timesteps: the N steps of the spacing, ascending.
std::vector<int64_t> ascending_steps(const SamplerConfig& c, int64_t T) {
  const int64_t N = c.steps;
  std::vector<int64_t> ts;
  switch (c.timestep_spacing) {
    case TimestepSpacing::linspace:
      for (double v : np_linspace(0.0, double(T - 1), N)) ts.push_back(int64_t(round_half_even(v)));
      break;
    case TimestepSpacing::leading:
      for (int64_t k = 0; k < N; ++k) ts.push_back(k * (T / N) + c.steps_offset);
      break;
    case TimestepSpacing::trailing: {  // round(arange(T, 0, −T/N))[::-1] − 1
      const auto down = np_arange_down(double(T), double(T) / double(N));
      for (auto it = down.rbegin(); it != down.rend(); ++it)
        ts.push_back(int64_t(round_half_even(*it)) - 1);
      break;
    }
    case TimestepSpacing::quadratic:
    case TimestepSpacing::uniform:
    case TimestepSpacing::strided:
      throw std::invalid_argument(to_string(c.timestep_spacing) +
                                  " timestep spacing is only available with ddpm, ddim");
  }
  return ts;
}

}  // namespace

std::vector<int64_t> pndm_timesteps(const SamplerConfig& c, int64_t T) {
  const auto a = ascending_steps(c, T);
  const int64_t N = int64_t(a.size());
  std::vector<int64_t> out;
  if (c.skip_prk_steps) {
    // concat(_ts[:-1], _ts[-2:-1], _ts[-1:])[::-1]
    std::vector<int64_t> plms(a.begin(), a.end() - 1);
    if (N >= 2) plms.push_back(a[size_t(N - 2)]);
    plms.push_back(a.back());
    out.assign(plms.rbegin(), plms.rend());
  } else {
    if (N < 4)
      throw std::invalid_argument(fmt::format(
          "pndm needs steps >= 4 for its Runge-Kutta warm-up, got {} (or use --skip-prk-steps)",
          N));
    const int64_t half = T / N / 2;
    std::vector<int64_t> prk;  // _ts[-4:].repeat(2) + tile([0, T//N//2], 4)
    for (int64_t k = N - 4; k < N; ++k) {
      prk.push_back(a[size_t(k)]);
      prk.push_back(a[size_t(k)] + half);
    }
    prk.pop_back();                // [:-1]
    std::vector<int64_t> doubled;  // .repeat(2)[1:-1]
    for (int64_t v : prk) doubled.insert(doubled.end(), {v, v});
    doubled = std::vector<int64_t>(doubled.begin() + 1, doubled.end() - 1);
    out.assign(doubled.rbegin(), doubled.rend());
    for (int64_t k = N - 4; k >= 0; --k) out.push_back(a[size_t(k)]);  // _ts[:-3][::-1]
  }
  for (int64_t t : out)
    if (t < 0 || t >= T)
      throw std::invalid_argument(fmt::format(
          "the pndm grid reaches step {}, outside [0, {}); lower steps_offset or steps", t, T));
  return out;
}

torch::Tensor pndm_sample(const SamplerConfig& c, const SamplerInputs& in, torch::Tensor x) {
  const int64_t T = in.schedule.num_train_timesteps;
  const auto timesteps = pndm_timesteps(c, T);
  const int64_t ratio = T / c.steps;
  const double final_alpha_bar = c.set_alpha_to_one ? 1.0 : in.schedule.alpha_bar(0);
  const int64_t n = int64_t(timesteps.size());
  const int64_t prk_count = c.skip_prk_steps ? 0 : 12;
  auto alpha_bar = [&](int64_t t) {
    if (t >= T) throw std::invalid_argument(fmt::format("pndm: step {} is outside [0, {})", t, T));
    return t >= 0 ? in.schedule.alpha_bar(t) : final_alpha_bar;
  };
  // _get_prev_sample: x_{t−δ} from x_t and ε̂ (v converted with ᾱ_t and this sample).
  auto transfer = [&](const torch::Tensor& sample, int64_t t, int64_t t_prev, torch::Tensor eps) {
    const double a = alpha_bar(t), a_prev = alpha_bar(t_prev);
    if (in.prediction == PredictionType::v_prediction)
      eps = std::sqrt(a) * eps + std::sqrt(1.0 - a) * sample;
    const double sample_coeff = std::sqrt(a_prev / a);
    const double denom = a * std::sqrt(1.0 - a_prev) + std::sqrt(a * (1.0 - a) * a_prev);
    return sample_coeff * sample - (a_prev - a) * eps / denom;
  };

  torch::Tensor cur_model_output, cur_sample;
  std::vector<torch::Tensor> ets;
  for (int64_t counter = 0; counter < n; ++counter) {
    int64_t t = timesteps[size_t(counter)];
    auto raw = in.denoise(x, step_labels(double(t), x.size(0), x.device()));
    const double a_t = in.schedule.alpha_bar(t);
    auto split =
        split_prediction(in.prediction, raw, x, torch::scalar_tensor(a_t, torch::kFloat64));
    // ε̂ for "sample" models (not in diffusers' PNDM); v stays raw until the transfer, as there.
    auto out = in.prediction == PredictionType::sample ? split.eps : raw;
    torch::Tensor next;
    if (counter < prk_count) {  // step_prk
      const int64_t diff_to_prev = counter % 2 ? 0 : ratio / 2;
      const int64_t t_prev = t - diff_to_prev;
      const int64_t t_base = timesteps[size_t(counter / 4 * 4)];
      if (counter % 4 == 0) {
        cur_model_output = out / 6.0;
        ets.push_back(out);
        cur_sample = x;
      } else if (counter % 4 == 1 || counter % 4 == 2) {
        cur_model_output = cur_model_output + out / 3.0;
      } else {
        out = cur_model_output + out / 6.0;
        cur_model_output = torch::Tensor();
      }
      next = transfer(cur_sample, t_base, t_prev, out);
    } else {  // step_plms
      const int64_t plms_counter = counter - prk_count;
      int64_t t_prev = t - ratio, t_from = t;
      const bool second = c.skip_prk_steps && plms_counter == 1;
      if (!second) {
        if (ets.size() > 3) ets.erase(ets.begin(), ets.end() - 3);
        ets.push_back(out);
      } else {
        t_prev = t;
        t_from = t + ratio;
      }
      torch::Tensor sample = x, combined;
      const size_t k = ets.size();
      if (k == 1 && plms_counter == 0 && c.skip_prk_steps) {
        combined = out;
        cur_sample = x;
      } else if (k == 1 && second) {
        combined = (out + ets.back()) / 2;
        sample = cur_sample;
        cur_sample = torch::Tensor();
      } else if (k == 2) {
        combined = (3 * ets[1] - ets[0]) / 2;
      } else if (k == 3) {
        combined = (23 * ets[2] - 16 * ets[1] + 5 * ets[0]) / 12;
      } else {
        combined = (55 * ets[3] - 59 * ets[2] + 37 * ets[1] - 9 * ets[0]) / 24;
      }
      next = transfer(sample, t_from, t_prev, combined);
    }
    if (in.on_step) in.on_step({counter, n, double(t), x, split.x0, next});
    x = next;
  }
  return x;
}

}  // namespace ddpm
