// UniPC (Zhao et al. 2023): the UniP predictor and UniC corrector, multistep, orders 1–3, with
// B(h) = h (bh1) or e^h − 1 (bh2) — diffusers 0.21.4 UniPCMultistepScheduler
// (scheduling_unipc_multistep.py, multistep_uni_p_bh_update / multistep_uni_c_bh_update).
//
// Each step first corrects the sample it receives with the model output just computed there
// (UniC, using the previous step's predictor order), then predicts the next sample (UniP): the
// corrector costs no extra network call. The chain ends at step 0, like DPM-Solver's.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "samplers/sampler_config.h"
#include "samplers/sampler_inputs.h"

namespace ddpm {

/// Runs UniPC over `timesteps` (descending distinct training steps; the step after the last is
/// 0) from x at the first.
torch::Tensor unipc_sample(const SamplerConfig& config, const SamplerInputs& inputs,
                           const std::vector<int64_t>& timesteps, torch::Tensor x);

}  // namespace ddpm
