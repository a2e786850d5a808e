#include "core/beta_schedule.h"

#include <cmath>

namespace ddpm {

template <>
const EnumTable<BetaSchedule>& enum_table<BetaSchedule>() {
  static const EnumTable<BetaSchedule> table{
      "beta schedule",
      {{BetaSchedule::linear, "linear"},
       {BetaSchedule::scaled_linear, "scaled_linear"},
       {BetaSchedule::squaredcos_cap_v2, "squaredcos_cap_v2"},
       {BetaSchedule::keras_cosine, "keras_cosine"}}};
  return table;
}

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// improved DDPM eq. (17): ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008;
// β_t = min(1 − ᾱ(t)/ᾱ(t−1), 0.999) (diffusers betas_for_alpha_bar).
torch::Tensor cosine_betas(int64_t steps) {
  auto alpha_bar = [](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * M_PI / 2), 2); };
  std::vector<double> betas(steps);
  for (int64_t i = 0; i < steps; ++i) {
    const double t1 = double(i) / steps, t2 = double(i + 1) / steps;
    betas[i] = std::min(1.0 - alpha_bar(t2) / alpha_bar(t1), 0.999);
  }
  return torch::tensor(betas, kF64);
}

// Keras schedule discretised at t_i = i/T, i = 1..T: ᾱ_i = signal_rate(t_i)², so β_i follows
// from ᾱ_i/ᾱ_{i−1} with ᾱ_0 = 1 (the clean image).
torch::Tensor keras_betas(const ScheduleConfig& c) {
  const int64_t steps = c.num_train_timesteps;
  auto t = torch::arange(1, steps + 1, kF64) / double(steps);
  auto signal = keras_signal_noise_rates(t, c.max_signal_rate, c.min_signal_rate).first;
  auto alpha_bar = signal * signal;
  auto prev = torch::cat({torch::ones({1}, kF64), alpha_bar.slice(0, 0, steps - 1)});
  return 1.0 - alpha_bar / prev;
}

}  // namespace

torch::Tensor make_betas(const ScheduleConfig& c) {
  TORCH_CHECK(c.num_train_timesteps >= 2 && c.num_train_timesteps <= kMaxTrainTimesteps,
              "num_train_timesteps must be in [2, ", kMaxTrainTimesteps,
              "] (kMaxTrainTimesteps), got ", c.num_train_timesteps);
  torch::Tensor betas;
  if (c.trained_betas) {
    TORCH_CHECK(int64_t(c.trained_betas->size()) == c.num_train_timesteps, "trained_betas has ",
                c.trained_betas->size(), " values but num_train_timesteps is ",
                c.num_train_timesteps);
    betas = torch::tensor(*c.trained_betas, kF64);
  } else {
    const int64_t T = c.num_train_timesteps;
    switch (c.beta_schedule) {
      case BetaSchedule::linear: {
        // DDPM: β from 1e-4 to 0.02 for T = 1000; scaled by 1000/T so that other T keep the same
        // total noise (improved-diffusion get_named_beta_schedule).
        const double scale = 1000.0 / double(T);
        betas = torch::linspace(scale * c.beta_start, scale * c.beta_end, T, kF64);
        break;
      }
      case BetaSchedule::scaled_linear:
        betas = torch::linspace(std::sqrt(c.beta_start), std::sqrt(c.beta_end), T, kF64).pow(2);
        break;
      case BetaSchedule::squaredcos_cap_v2:
        betas = cosine_betas(T);
        break;
      case BetaSchedule::keras_cosine:
        TORCH_CHECK(
            c.min_signal_rate > 0 && c.min_signal_rate < c.max_signal_rate && c.max_signal_rate < 1,
            "keras_cosine needs 0 < min_signal_rate < max_signal_rate < 1, got ", c.min_signal_rate,
            " and ", c.max_signal_rate);
        betas = keras_betas(c);
        break;
    }
  }
  TORCH_CHECK(betas.gt(0).all().item<bool>() && betas.lt(1).all().item<bool>(),
              "every beta must lie in (0, 1)");
  return betas;
}

std::pair<torch::Tensor, torch::Tensor> keras_signal_noise_rates(const torch::Tensor& t,
                                                                 double max_signal_rate,
                                                                 double min_signal_rate) {
  const double start_angle = std::acos(max_signal_rate);
  const double end_angle = std::acos(min_signal_rate);
  auto angle = start_angle + t * (end_angle - start_angle);
  return {torch::cos(angle), torch::sin(angle)};
}

}  // namespace ddpm
