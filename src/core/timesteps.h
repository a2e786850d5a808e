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

enum class TimestepSpacing {
  leading,    ///< diffusers: i · (T // S) + steps_offset
  linspace,   ///< diffusers: round(linspace(0, T − 1, S))
  trailing,   ///< diffusers: round(T − i · T/S) − 1
  quadratic,  ///< ermongroup/ddim skip_type "quad"
  uniform,    ///< ermongroup/ddim skip_type "uniform": range(0, T, T // S), S + 1 steps when
              ///< T // S does not divide T
  strided,    ///< improved-diffusion "ddimS": range(0, T, k), k the first stride giving S steps
};
template <>
const EnumTable<TimestepSpacing>& enum_table<TimestepSpacing>();

/// leading, linspace and trailing: the spacings diffusers' schedulers have (and step after t to
/// t − T//S); the others are the papers' own codes', whose chains step to the next entry.
inline bool is_diffusers_spacing(TimestepSpacing s) {
  return s == TimestepSpacing::leading || s == TimestepSpacing::linspace ||
         s == TimestepSpacing::trailing;
}

/// Step indices to visit, in descending order, all in [0, T). `steps_offset` is diffusers'
/// (added to leading spacing only). quadratic drops the repeats its flooring makes at small i,
/// so it may return fewer than num_steps values; uniform may return more (ermongroup's range);
/// strided throws when no integer stride gives exactly num_steps values (as space_timesteps).
std::vector<int64_t> inference_timesteps(TimestepSpacing spacing, int64_t num_train_timesteps,
                                         int64_t num_steps, int64_t steps_offset = 0);

}  // namespace ddpm
