// The timestep grids and noise levels of diffusers 0.21.4's solver schedulers, computed as their
// set_timesteps do (numpy's linspace/arange arithmetic and round-half-to-even included), so a
// model folder sampled here visits the same steps as in diffusers.
//
//   σ_t = √((1 − ᾱ_t)/ᾱ_t), the noise level of the variance-exploding form x = x_0 + σ ε that
//   Euler and Heun integrate (k-diffusion; Karras et al. 2022, §2).
//
//   auto ts = multistep_timesteps(config, schedule);   // DPMSolverMultistep / UniPCMultistep
//   auto g = sigma_grid(config, schedule);              // Euler, EulerAncestral, Heun
#pragma once
#include <cstdint>
#include <vector>

#include "core/noise_schedule.h"
#include "samplers/sampler_config.h"

namespace ddpm {

/// α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t) and λ_t = log(α_t/σ_t) at training step t: the quantities the
/// multistep solvers (DPM-Solver, UniPC) step in.
struct LogSnrCoefficients {
  double alpha, sigma, lambda;
};
LogSnrCoefficients log_snr_coefficients(const NoiseSchedule& schedule, int64_t t);

/// np.arange(start, 0, -step) for start > 0, step > 0, computed as numpy does.
std::vector<double> np_arange_down(double start, double step);

/// σ_t of every training step, ascending in t [T].
std::vector<double> training_sigmas(const NoiseSchedule& schedule);

/// np.interp(t, arange(T), sigmas): σ linear in t between training steps.
double interpolate_sigma(const std::vector<double>& sigmas, double t);

/// Karras et al. (2022) eq. (5), ρ = 7: n levels from `first` to `last` (either order), as
/// diffusers' _convert_to_karras(in_sigmas) with first = in_sigmas[0], last = in_sigmas[-1].
std::vector<double> karras_sigmas(double first, double last, int64_t n);

/// diffusers' _sigma_to_t: the fractional training step whose log σ matches, interpolating
/// log σ linearly between steps (clamped to [0, T − 1]).
double sigma_to_t(double sigma, const std::vector<double>& log_sigmas);

/// numpy's round (half to even), which diffusers' grids use.
double round_half_even(double x);

/// np.linspace(start, stop, num) computed as numpy does (k·step + start, last = stop).
std::vector<double> np_linspace(double start, double stop, int64_t num);

/// DPMSolverMultistepScheduler.set_timesteps (UniPCMultistepScheduler's is the same without
/// λ clipping): descending integer steps, Karras-rounded when use_karras_sigmas, repeats removed
/// (so the grid may be shorter than config.steps).
std::vector<int64_t> multistep_timesteps(const SamplerConfig& config,
                                         const NoiseSchedule& schedule);

/// The grid of a sigma sampler: the step label of each network call's σ and the σ that the
/// chain moves through (sigmas.size() == timesteps.size() + 1; the last σ is 0, or σ_min for
/// log_linear interpolation, as in diffusers).
struct SigmaGrid {
  std::vector<double> timesteps;  ///< descending, fractional allowed
  std::vector<double> sigmas;     ///< descending
};

/// EulerDiscreteScheduler / EulerAncestralDiscreteScheduler / HeunDiscreteScheduler
/// .set_timesteps: float32 step labels of the spacing (linspace is not rounded), σ interpolated
/// at them, Karras σ (and the fractional steps they fall on) when use_karras_sigmas.
SigmaGrid sigma_grid(const SamplerConfig& config, const NoiseSchedule& schedule);

/// The sigma grid through given descending training steps (a chain starting mid-way).
SigmaGrid sigma_grid_at(const std::vector<int64_t>& timesteps, const NoiseSchedule& schedule);

/// diffusers' init_noise_sigma of the Euler/Heun classes: σ_max for linspace and trailing
/// spacing, √(σ_max² + 1) for leading (EulerDiscreteScheduler.init_noise_sigma).
double sigma_init_noise(const SamplerConfig& config, const SigmaGrid& grid);

}  // namespace ddpm
