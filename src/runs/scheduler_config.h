// diffusers scheduler_config.json ⇄ this project's schedule and sampling settings, for every
// scheduler class with a sampler here (diffusers 0.21.4, src/diffusers/schedulers/scheduling_*.py).
//
// A scheduler config names the noise schedule the model was trained with (num_train_timesteps,
// beta_*, trained_betas), what the network predicts (prediction_type) and how to sample
// (clip_sample, timestep_spacing, steps_offset, variance_type, set_alpha_to_one). Loading a
// diffusers model makes these the model's defaults; sampling flags override them.
//
//   RunConfig run;
//   apply_scheduler_config(json, run, "model/scheduler/scheduler_config.json");
//   nlohmann::json out = scheduler_config_to_diffusers(run);   // DDIMScheduler or DDPMScheduler
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "runs/run_config.h"

namespace ddpm {

/// Sets run.schedule, run.prediction_type and run.sampling from the config of any scheduler class
/// with a sampler here (DDPMScheduler, DDIMScheduler, DPMSolverMultistepScheduler,
/// UniPCMultistepScheduler, EulerDiscreteScheduler, EulerAncestralDiscreteScheduler,
/// HeunDiscreteScheduler, PNDMScheduler): the class picks the sampler, every key of the class is
/// honoured and absent keys take that class's 0.21.4 defaults (Heun's β ends 0.00085/0.012; the
/// pipelines' step counts: DDPMPipeline's full chain, DDIMPipeline's 50). linear β with
/// num_train_timesteps ≠ 1000 is stored with beta_start/beta_end rescaled by T/1000, since
/// diffusers' linear schedule is not rescaled and this project's is. Keys starting with "_" are
/// bookkeeping; keys the class does not have are ignored (as diffusers' from_config does) and
/// returned as warnings. A value this project does not implement (sigmoid β, learned variance,
/// solver_p, rescale_betas_zero_snr, another class) throws std::invalid_argument naming `origin`,
/// the key and the allowed values. Real values may be "Infinity"/"-Infinity" (io/python_json.h).
std::vector<std::string> apply_scheduler_config(const nlohmann::json& config, RunConfig& run,
                                                const std::string& origin);

/// The scheduler_config.json of `run`: the class of run.sampling.sampler with every key diffusers
/// 0.21.4 writes for it (±∞ as the strings "Infinity"/"-Infinity"; write it with
/// dump_python_json). A keras_cosine schedule is written as its trained_betas; quadratic timestep
/// spacing has no diffusers equivalent and throws std::invalid_argument.
nlohmann::json scheduler_config_to_diffusers(const RunConfig& run);

/// `config` as Python's json writes it: the strings "Infinity", "-Infinity" and "NaN" of real
/// keys become bare tokens, as diffusers' own configs hold them.
std::string dump_python_json(const nlohmann::json& config, int indent = 2);

}  // namespace ddpm
