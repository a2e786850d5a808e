// The class flags of every sampling command (sample, trajectory, interpolate, sweep, study,
// eval-conditional): --class-labels, --guidance-scale, --null-class. Guidance wraps the network
// callback (samplers/guidance.h), so every sampler and experiment gets it the same way.
//
//   auto classes = add_class_flags(*cmd);
//   ...
//   apply_class_flags(*classes, loaded);                  // --null-class, --guidance-scale
//   SamplerInputs in{class_denoise_fn(*classes, loaded), ...};
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>

#include "runs/model_loading.h"
#include "samplers/denoise_fn.h"

namespace ddpm::cli {

struct ClassFlags {
  std::string labels;                    ///< --class-labels as given ("" = none)
  std::optional<double> guidance_scale;  ///< --guidance-scale (else the run's)
  std::optional<int64_t> null_class;     ///< --null-class (else the run's)
};

/// Registers the three flags on `cmd` (in a "Classes" group).
std::shared_ptr<ClassFlags> add_class_flags(CLI::App& cmd);

/// Sets loaded.config.classes.null_class (--null-class) and sampling.guidance_scale
/// (--guidance-scale). Throws std::invalid_argument for class flags on an unconditional model.
void apply_class_flags(const ClassFlags& flags, LoadedModel& loaded);

/// --class-labels parsed (int64 [1] or [n]); undefined when not given.
torch::Tensor parsed_class_labels(const ClassFlags& flags, const LoadedModel& loaded);

/// The network callback for a model with the flags applied: the model itself when it is not
/// class-conditional; otherwise guided at sampling.guidance_scale, each batch of B images taking
/// the one label given, the B labels given, or classes 0, 1, …, K − 1 in turn.
DenoiseFn class_denoise_fn(const ClassFlags& flags, const LoadedModel& loaded);

}  // namespace ddpm::cli
