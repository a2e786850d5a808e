// ddpm: train, sample and inspect denoising diffusion models (DDPM, DDIM).
// The only place that parses argv, prints for a person, or exits (DESIGN).
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "commands.h"
#include "core/version.h"
#include "invocation.h"
#include "models/conv3x3.h"
#include "runs/conv3x3_tuning_file.h"
#include "runs/cpu_allocator.h"

int main(int argc, char** argv) {
  CLI::App app{
      "ddpm: denoising diffusion models (DDPM, DDIM) in native C++ on LibTorch.\n"
      "Train on Fashion-MNIST or an image folder, sample with DDPM or DDIM; load, fine-tune and\n"
      "export diffusers UNet2DModel folders (docs/diffusers.md).\n"
      "Start with:  ddpm train --out runs/fmnist   then   ddpm sample --model runs/fmnist"};
  ddpm::cli::set_invocation(argc, argv);
  ddpm::keep_freed_memory_for_reuse();  // runs/cpu_allocator.h
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       std::string("ddpm ") + ddpm::kVersion + " (LibTorch " TORCH_VERSION ")");
  std::map<std::string, ddpm::cli::Run> runs;
  runs["train"] = ddpm::cli::add_train(app);
  runs["train-autoencoder"] = ddpm::cli::add_train_autoencoder(app);
  runs["sample"] = ddpm::cli::add_sample(app);
  runs["presets"] = ddpm::cli::add_presets(app);
  runs["bench"] = ddpm::cli::add_bench(app);
  runs["predict"] = ddpm::cli::add_predict(app);
  runs["autoencode"] = ddpm::cli::add_autoencode(app);
  runs["export"] = ddpm::cli::add_export(app);
  runs["trajectory"] = ddpm::cli::add_trajectory(app);
  runs["reconstruct"] = ddpm::cli::add_reconstruct(app);
  runs["interpolate"] = ddpm::cli::add_interpolate(app);
  runs["encode"] = ddpm::cli::add_encode(app);
  runs["decode"] = ddpm::cli::add_decode(app);
  runs["study"] = ddpm::cli::add_study(app);
  runs["plot"] = ddpm::cli::add_plot(app);
  runs["fid"] = ddpm::cli::add_fid(app);
  runs["kid"] = ddpm::cli::add_kid(app);
  runs["inception-score"] = ddpm::cli::add_inception_score(app);
  runs["features"] = ddpm::cli::add_features(app);
  runs["train-classifier"] = ddpm::cli::add_train_classifier(app);
  runs["nll"] = ddpm::cli::add_nll(app);
  runs["sweep"] = ddpm::cli::add_sweep(app);
  runs["eval-conditional"] = ddpm::cli::add_eval_conditional(app);
  runs["info"] = ddpm::cli::add_info(app);
  runs["serve"] = ddpm::cli::add_serve(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0 as CLI11 prints them. A bad command line is a usage error:
    // exit 2 (as argparse and getopt programs do), with one line naming the flag and the fault
    // instead of CLI11's own exit codes (100 and up) and two-line message.
    if (e.get_exit_code() == int(CLI::ExitCodes::Success)) return app.exit(e);
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    fmt::print(stderr, "error: {} (see --help)\n", message);
    return 2;
  }
  try {
    // DDPM_CONV=auto|onednn|winograd2|winograd4: how the 3x3 convolutions run (models/conv3x3.h).
    // The program measures per layer shape (auto) unless told otherwise; the library's own
    // default stays oneDNN, the reference path.
    // Its decisions are kept per machine in a tuning file (runs/conv3x3_tuning_file.h), so that
    // every run on this machine decides as the first one measured.
    const char* conv = std::getenv("DDPM_CONV");
    ddpm::set_conv3x3_policy(conv && *conv ? ddpm::parse_enum<ddpm::Conv3x3Policy>(conv)
                                           : ddpm::Conv3x3Policy::automatic);
    if (const auto tuning = ddpm::default_conv3x3_tuning_file(); !tuning.empty())
      ddpm::set_conv3x3_tuning_store(std::make_shared<ddpm::Conv3x3TuningFile>(tuning));
    for (auto* sub : app.get_subcommands()) return runs.at(sub->get_name())();
  } catch (const std::exception& e) {
    std::string message = e.what();
    // c10::Error appends a C++ backtrace after the message: keep the first line for people.
    if (auto pos = message.find("\nException raised from"); pos != std::string::npos)
      message.resize(pos);
    fmt::print(stderr, "{}error: {}\n", ddpm::cli::error_prefix(), message);
    return 1;
  }
  return 0;
}
