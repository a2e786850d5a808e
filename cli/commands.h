// The subcommands of `ddpm`. Each registers its flags on a CLI11 subcommand and returns the
// function that runs it (after every flag has been parsed and validated).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>

namespace ddpm::cli {

using Run = std::function<int()>;

Run add_train(CLI::App& app);
Run add_train_autoencoder(CLI::App& app);
Run add_sample(CLI::App& app);
Run add_presets(CLI::App& app);
Run add_bench(CLI::App& app);
Run add_predict(CLI::App& app);
Run add_autoencode(CLI::App& app);
Run add_export(CLI::App& app);
// The study's figures (issue #4).
Run add_trajectory(CLI::App& app);
Run add_reconstruct(CLI::App& app);
Run add_interpolate(CLI::App& app);
Run add_encode(CLI::App& app);
Run add_decode(CLI::App& app);
Run add_study(CLI::App& app);
Run add_plot(CLI::App& app);
// Evaluation (issue #5).
Run add_fid(CLI::App& app);
Run add_kid(CLI::App& app);
Run add_inception_score(CLI::App& app);
Run add_features(CLI::App& app);
Run add_train_classifier(CLI::App& app);
Run add_nll(CLI::App& app);
Run add_sweep(CLI::App& app);
Run add_eval_conditional(CLI::App& app);
// Watching and comparing runs (issue 18).
Run add_info(CLI::App& app);
Run add_serve(CLI::App& app);

}  // namespace ddpm::cli
