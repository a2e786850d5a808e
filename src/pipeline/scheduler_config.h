// diffusers scheduler_config.json ⇄ this project's schedule and sampling settings, for
// DDPMScheduler and DDIMScheduler (diffusers 0.21.4, src/diffusers/schedulers/scheduling_ddpm.py
// and scheduling_ddim.py).
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

#include "pipeline/run_config.h"

namespace ddpm {

/// Sets run.schedule, run.prediction_type and run.sampling from a DDPMScheduler or
/// DDIMScheduler config. Absent keys take that scheduler's 0.21.4 defaults. The sampler follows
/// the class: DDPMScheduler → ddpm over the full chain (DDPMPipeline's 1000 steps),
/// DDIMScheduler → ddim with 50 steps and η = 0 (DDIMPipeline's defaults). linear β with
/// num_train_timesteps ≠ 1000 is stored with beta_start/beta_end rescaled by T/1000, since
/// diffusers' linear schedule is not rescaled and this project's is. Keys starting with "_" are
/// ignored. An unknown key or a value this project does not implement (thresholding, sigmoid β,
/// learned variance, rescale_betas_zero_snr, another scheduler class) throws
/// std::invalid_argument naming `origin`, the key and the allowed values.
void apply_scheduler_config(const nlohmann::json& config, RunConfig& run,
                            const std::string& origin);

/// The scheduler_config.json of `run`: DDIMScheduler when run.sampling.sampler is ddim, else
/// DDPMScheduler, with every key diffusers 0.21.4 writes for that class. A keras_cosine schedule
/// is written as its trained_betas; quadratic timestep spacing has no diffusers equivalent and
/// throws std::invalid_argument.
nlohmann::json scheduler_config_to_diffusers(const RunConfig& run);

}  // namespace ddpm
