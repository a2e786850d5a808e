// Which sampler runs the reverse process, and its options: one value (name + options) that
// every caller passes to run_sampler (samplers/sampler_registry.h) and never inspects again.
//
// The options are declared once, in sampler_options(): a table giving each option's run-config
// key, command-line flag, help, value kind and the samplers that have it. JSON in and out, the
// CLI's flags and the check "the user gave an option this sampler lacks" are all driven by it.
// Defaults follow the diffusers 0.21.4 scheduler class of each sampler (default_sampler_config).
//
//   SamplerConfig c = default_sampler_config(SamplerKind::ddim);   // DDIMScheduler's defaults
//   c.steps = 20;
//   c = switch_sampler(c, SamplerKind::ddpm);   // keeps spacing/offset, DDPM's own defaults
//   nlohmann::json j = sampler_config_to_json(c);   // {"sampler": "ddpm", "steps": 0, ...}
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/enum_table.h"
#include "core/timesteps.h"
#include "samplers/ddpm.h"

namespace ddpm {

/// Every sampler, by its CLI and run-config name (the one string table, in sampler_config.cpp),
/// each following one diffusers 0.21.4 scheduler class (diffusers_class_of in
/// runs/scheduler_config.h):
///   ddpm DDPMScheduler · ddim DDIMScheduler · dpm_solver_pp, dpm_solver, sde_dpm_solver_pp
///   DPMSolverMultistepScheduler (algorithm_type dpmsolver++, dpmsolver, sde-dpmsolver++) ·
///   unipc UniPCMultistepScheduler · euler EulerDiscreteScheduler · euler_ancestral
///   EulerAncestralDiscreteScheduler · heun HeunDiscreteScheduler · pndm PNDMScheduler.
enum class SamplerKind {
  ddpm,
  ddim,
  dpm_solver_pp,
  dpm_solver,
  sde_dpm_solver_pp,
  unipc,
  euler,
  euler_ancestral,
  heun,
  pndm
};
template <>
const EnumTable<SamplerKind>& enum_table<SamplerKind>();

/// The step DDPM/DDIM take after t: diffusers 0.21.4's t − T//N (DDIMScheduler.step,
/// DDPMScheduler.previous_timestep), or the next entry of the sub-sequence (the DDIM paper's
/// code, ermongroup/ddim generalized_steps). They agree for leading spacing.
enum class PrevTimestep { diffusers, next_in_sequence };
template <>
const EnumTable<PrevTimestep>& enum_table<PrevTimestep>();

/// The multistep solvers' update rule: DPM-Solver's second-order midpoint or heun form
/// (DPMSolverMultistepScheduler solver_type), UniPC's B(h) = h (bh1) or e^h − 1 (bh2).
enum class SolverType { midpoint, heun, bh1, bh2 };
template <>
const EnumTable<SolverType>& enum_table<SolverType>();

/// How EulerDiscreteScheduler spaces σ between the grid's ends: σ interpolated at the
/// timesteps (linear) or log σ evenly spaced (log_linear).
enum class SigmaInterpolation { linear, log_linear };
template <>
const EnumTable<SigmaInterpolation>& enum_table<SigmaInterpolation>();

/// Is `kind` stochastic with its options (draws noise while it runs)?
bool is_stochastic(SamplerKind kind, double eta, double s_churn);

struct SamplerConfig {
  SamplerKind kind = SamplerKind::ddim;
  /// Network evaluations of the chain's grid (inference steps); 0 with ddpm: all T steps.
  int64_t steps = 50;
  /// How the inference steps are picked from the T training steps (diffusers' names).
  TimestepSpacing timestep_spacing = TimestepSpacing::leading;
  /// diffusers' steps_offset, added to leading spacing.
  int64_t steps_offset = 0;
  /// DDIM η: 0 deterministic, 1 DDPM-like (DDIM eq. 16).
  double eta = 0.0;
  /// Clip x̂_0 to ±clip_range; right for [−1, 1] data, wrong for mean-std data.
  bool clip_sample = true;
  double clip_range = 1.0;
  /// DDPM posterior variance: fixed_small (β̃) or fixed_large (β).
  VarianceType variance_type = VarianceType::fixed_small;
  /// ᾱ = 1 after the last DDIM step (otherwise the chain ends noisy).
  bool set_alpha_to_one = true;
  /// Where DDPM/DDIM step after t (PrevTimestep); diffusers by default, so diffusers model
  /// folders give diffusers' images.
  PrevTimestep ddim_prev_timestep = PrevTimestep::diffusers;
  /// DDIM: ε̂ re-derived from the clipped x̂_0 (diffusers' use_clipped_model_output; improved-
  /// diffusion's ddim_sample always does); off as diffusers' DDIMPipeline.
  bool use_clipped_model_output = false;

  // The solvers' options, with diffusers 0.21.4's names and defaults (default_sampler_config).
  /// Multistep order: DPM-Solver 1–3, UniPC 1–3 (solver_order).
  int64_t solver_order = 2;
  SolverType solver_type = SolverType::midpoint;
  /// First-order final steps when the chain has fewer than 15 steps (DPM) / the last steps
  /// (UniPC), which stabilises few-step sampling.
  bool lower_order_final = true;
  /// Dynamic thresholding of x̂_0 (Imagen; DPM-Solver, UniPC): clip to the
  /// dynamic_thresholding_ratio quantile of |x̂_0|, at least 1 and at most sample_max_value.
  bool thresholding = false;
  double dynamic_thresholding_ratio = 0.995;
  double sample_max_value = 1.0;
  /// DPM-Solver: steps with λ(t) below this are cut from the grid (−∞: none).
  double lambda_min_clipped = -std::numeric_limits<double>::infinity();
  /// Karras et al. (2022) ρ = 7 noise levels between the grid's ends.
  bool use_karras_sigmas = false;
  /// UniPC: x̂_0 (true) or ε (false) as the solver's model.
  bool predict_x0 = true;
  /// UniPC's corrector after every step (false: UniP alone) and step indices where it is off.
  bool corrector = true;
  std::vector<int64_t> disable_corrector;
  /// Euler's stochastic churn (Karras et al. 2022, Algorithm 2): γ = min(s_churn/N, √2 − 1) on
  /// steps with s_tmin ≤ σ ≤ s_tmax, the added noise scaled by s_noise.
  double s_churn = 0.0;
  double s_tmin = 0.0;
  double s_tmax = std::numeric_limits<double>::infinity();
  double s_noise = 1.0;
  SigmaInterpolation interpolation_type = SigmaInterpolation::linear;
  /// PNDM: PLMS from the first step (true) instead of the Runge–Kutta warm-up.
  bool skip_prk_steps = false;
};

/// The diffusers 0.21.4 class defaults of `kind` (and its pipeline's step count: DDPMPipeline's
/// full chain, 50 otherwise).
SamplerConfig default_sampler_config(SamplerKind kind);

/// `kind` with its own defaults, keeping `from`'s timestep spacing and steps_offset (what
/// diffusers' from_config carries between schedulers besides the noise schedule and prediction
/// type, which live outside this struct), its variance_type (the model's: DDPM's fixed variances,
/// improved DDPM's learned Σ_θ, which DDPM uses again after a switch away and back) and its step
/// count (ddpm: the full chain; a full-chain
/// count switched to another sampler: that sampler's default).
SamplerConfig switch_sampler(const SamplerConfig& from, SamplerKind kind);

enum class OptionKind { integer, real, boolean, choice, integer_list };

/// One sampler option, declared once.
struct SamplerOption {
  std::string key;   ///< run-config key ("eta")
  std::string flag;  ///< CLI flag ("--eta"); a boolean's flag takes no value and sets flag_value
  OptionKind kind = OptionKind::real;
  std::string help;
  std::vector<SamplerKind> samplers;  ///< the samplers that have it; empty: every sampler
  bool flag_value = true;             ///< booleans: the value their flag sets
  std::string opposite_flag;          ///< booleans: a flag setting !flag_value ("" if none)
  std::vector<std::string> choices;   ///< choice: the allowed spellings
  std::function<nlohmann::json(const SamplerConfig&)> get;
  /// Sets the option from JSON; throws std::invalid_argument naming the expected type or values.
  std::function<void(SamplerConfig&, const nlohmann::json&)> set;

  bool applies_to(SamplerKind kind) const;
};

/// Every option (not the sampler name itself), in help order.
const std::vector<SamplerOption>& sampler_options();
const SamplerOption& sampler_option(const std::string& key);

/// Names of the samplers that have `option` ("ddpm, ddim").
std::string samplers_with(const SamplerOption& option);

/// {"sampler": name, each option `config.kind` has: value}.
nlohmann::json sampler_config_to_json(const SamplerConfig& config);

/// Reads "sampler" and every sampler-option key present in `object` (keys of options other
/// samplers have are accepted: stored configs may hold them) into `config`, and adds the keys it
/// read to `consumed`. A bad value throws std::invalid_argument naming context.key and what is
/// allowed. A "sampler" key switches with switch_sampler first, so absent options take that
/// sampler's defaults.
void read_sampler_config(const nlohmann::json& object, const std::string& context,
                         SamplerConfig& config, std::set<std::string>& consumed);

/// `base` with user-given settings applied: `overrides` is a JSON object of "sampler" and option
/// keys (the CLI's explicit flags). "sampler" switches first (switch_sampler: the new sampler's
/// own defaults); every other key must be an option of the resulting sampler — an option it lacks
/// throws std::invalid_argument naming the flag, the sampler and the samplers that have it.
SamplerConfig apply_sampler_overrides(const SamplerConfig& base, const nlohmann::json& overrides);

/// Throws std::invalid_argument naming the option, its value and what is allowed, when the config
/// cannot run on T training steps (steps outside [1, T] — or 0 for ddpm's full chain —, η outside
/// [0, 1], a steps_offset outside [0, T), clip_range ≤ 0).
void validate_sampler_config(const SamplerConfig& config, int64_t num_train_timesteps);

/// One line for a person: "ddim, 50 steps, leading spacing, eta 0, clip on".
std::string describe_sampler(const SamplerConfig& config);

}  // namespace ddpm
