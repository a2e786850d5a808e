// Inference timestep sub-sequences τ (DDIM §4.2) over the T training steps.
//
// leading/linspace/trailing follow diffusers 0.21.4 DDIMScheduler.set_timesteps (and "Common
// Diffusion Noise Schedules and Sample Steps are Flawed", Table 2); quadratic is the DDIM code's
// skip_type "quad" (runners/diffusion.py): τ_i = ⌊(i · √(0.8 T)/(S−1))²⌋.
#pragma once
#include <cstdint>
#include <vector>

#include "core/enum_table.h"

namespace ddpm {

enum class TimestepSpacing { leading, linspace, trailing, quadratic };
template <>
const EnumTable<TimestepSpacing>& enum_table<TimestepSpacing>();

/// Step indices to visit, in descending order, all in [0, T). `steps_offset` is diffusers'
/// (added to leading spacing only). quadratic drops the repeats its flooring makes at small i,
/// so it may return fewer than num_steps values.
std::vector<int64_t> inference_timesteps(TimestepSpacing spacing, int64_t num_train_timesteps,
                                         int64_t num_steps, int64_t steps_offset = 0);

}  // namespace ddpm
