// Beta schedules over T discrete steps, in float64.
//
// References: DDPM (Ho et al. 2020) §4 and its code (diffusion_utils_2.get_beta_schedule);
// improved DDPM (Nichol & Dhariwal 2021) eq. (17) for the cosine schedule; diffusers 0.21.4
// DDPMScheduler.__init__ and betas_for_alpha_bar; the Keras DDIM example's diffusion_schedule.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "core/enum_table.h"

namespace ddpm {

enum class BetaSchedule {
  linear,             ///< DDPM: β linear from beta_start to beta_end, both scaled by 1000/T
  scaled_linear,      ///< diffusers/LDM: √β linear, squared
  squaredcos_cap_v2,  ///< improved DDPM cosine, s = 0.008, β ≤ 0.999
  keras_cosine,       ///< Keras DDIM example: signal = cos(angle), angle linear in t ∈ (0, 1]
};
template <>
const EnumTable<BetaSchedule>& enum_table<BetaSchedule>();

/// The most diffusion steps a schedule may have: 100× DDPM's 1000 (improved DDPM uses 4000). A
/// bound, so that a config file cannot size the schedule's tensors at will.
inline constexpr int64_t kMaxTrainTimesteps = 100000;

struct ScheduleConfig {
  /// Number of diffusion steps T; 1000 as in DDPM. At most kMaxTrainTimesteps.
  int64_t num_train_timesteps = 1000;
  /// Shape of the β curve; DDPM's linear by default.
  BetaSchedule beta_schedule = BetaSchedule::linear;
  /// β_1 for linear/scaled_linear (DDPM: 1e-4, for T = 1000).
  double beta_start = 1e-4;
  /// β_T for linear/scaled_linear (DDPM: 0.02, for T = 1000).
  double beta_end = 0.02;
  /// keras_cosine: signal rate at t = 0 (Keras example: 0.95).
  double max_signal_rate = 0.95;
  /// keras_cosine: signal rate at t = 1 (Keras example: 0.02).
  double min_signal_rate = 0.02;
  /// Explicit β_1..β_T (diffusers' trained_betas); overrides beta_schedule when set.
  std::optional<std::vector<double>> trained_betas;
};

/// β_1..β_T as a float64 CPU tensor [T].
torch::Tensor make_betas(const ScheduleConfig& config);

/// Keras continuous schedule: (signal_rate, noise_rate) at diffusion times t ∈ [0, 1], where
/// angle = acos(max_signal) + t (acos(min_signal) − acos(max_signal)); signal² + noise² = 1.
std::pair<torch::Tensor, torch::Tensor> keras_signal_noise_rates(const torch::Tensor& t,
                                                                 double max_signal_rate,
                                                                 double min_signal_rate);

}  // namespace ddpm
