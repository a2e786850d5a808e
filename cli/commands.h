// The subcommands of `ddpm`. Each registers its flags on a CLI11 subcommand and returns the
// function that runs it (after every flag has been parsed and validated).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>

namespace ddpm::cli {

using Run = std::function<int()>;

Run add_train(CLI::App& app);
Run add_sample(CLI::App& app);
Run add_presets(CLI::App& app);

}  // namespace ddpm::cli
