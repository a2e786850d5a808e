// The sampler flags every sampling command shares, generated from the one option table
// (samplers/sampler_config.h sampler_options()): --sampler and each option's flag, with the
// allowed values taken from the enums' string tables. Only flags the user gave become overrides,
// so a sampler's own defaults (and a model's scheduler config) apply to everything else, and an
// option the chosen sampler lacks is an error naming the samplers that have it.
//
//   auto sampler = add_sampler_flags(*cmd);
//   ...
//   SamplerConfig c = resolve_sampler(loaded.config.sampling.sampler, *sampler);
#pragma once
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "samplers/sampler_config.h"

namespace ddpm::cli {

struct SamplerFlags {
  /// The flags given on the command line, as run-config keys → values (apply_sampler_overrides).
  nlohmann::json given = nlohmann::json::object();
};

/// Registers --sampler and every sampler option's flag on `cmd` (in a "Sampler" group).
/// `defaults_help` says what applies when no flag is given (e.g. "the model's").
std::shared_ptr<SamplerFlags> add_sampler_flags(CLI::App& cmd,
                                                const std::string& defaults_help = "the model's");

/// `base` with the given flags applied. `command_defaults` (sampler keys) apply first when the
/// user named no --sampler: a command's own choice, e.g. trajectory's {"sampler": "ddim",
/// "steps": 20}. Throws std::invalid_argument for an option the sampler lacks or a value out of
/// range for `num_train_timesteps`.
SamplerConfig resolve_sampler(const SamplerConfig& base, const SamplerFlags& flags,
                              int64_t num_train_timesteps,
                              const nlohmann::json& command_defaults = nlohmann::json::object());

}  // namespace ddpm::cli
