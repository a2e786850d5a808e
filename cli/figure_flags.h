// What the figure commands (trajectory, reconstruct, interpolate, encode, decode) share: the model
// flags, loading with a one-line report, the validation images of --data, and progress lines.
#pragma once
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <string>

#include "experiments/latent_codes.h"
#include "experiments/model_data.h"
#include "progress.h"
#include "runs/model_loading.h"
#include "samplers/denoise_fn.h"

namespace ddpm::cli {

struct ModelFlags {
  std::string model;
  std::string weights = "ema";
  std::string device = "auto";
  int64_t threads = 0;
};

/// --model (required), --weights, --device, --threads.
void add_model_flags(CLI::App& cmd, ModelFlags& flags);

/// Sets the threads, loads the model and prints what was loaded.
LoadedModel load_model_from_flags(const ModelFlags& flags);

/// The validation split of `source` prepared for the model; prints its size, warns about skipped
/// files.
ModelData load_data_for_model(const std::string& source, const LoadedModel& loaded);

/// A progress line for sampler steps: "<what> step i/n (t=…) ETA …"; finish() when done.
class StepProgress {
 public:
  explicit StepProgress(std::string what);
  /// For part `part` of `parts` (a row, a pair): the overall fraction includes the parts done.
  void update(const SamplerStep& step, int64_t part = 0, int64_t parts = 1);
  void set_what(std::string what) { what_ = std::move(what); }
  void finish() { line_.finish(); }

 private:
  std::string what_;
  ProgressLine line_;
  std::chrono::steady_clock::time_point start_;
};

/// "round trip (…): MSE …, max |diff| …; pixel MSE … (… dB)".
void print_round_trip(const RoundTripError& error, int64_t steps);

/// "wrote FILE.png (W×H) and FILE.json".
void print_wrote(const std::filesystem::path& png, const torch::Tensor& image);

}  // namespace ddpm::cli
