#include "figure_flags.h"

#include <fmt/format.h>

#include "enum_choices.h"
#include "experiments/figure.h"
#include "runs/threads.h"

namespace ddpm::cli {

void add_model_flags(CLI::App& cmd, ModelFlags& f) {
  cmd.add_option("--model", f.model, "Run directory or checkpoint folder")->required();
  cmd.add_option("--weights", f.weights, "ema (default) or raw (the online weights)")
      ->check(enum_choices<WeightsKind>());
  cmd.add_option("--device", f.device, "auto, cpu, cuda or cuda:N");
  cmd.add_option("--threads", f.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
}

LoadedModel load_model_from_flags(const ModelFlags& f) {
  configure_cpu_threads(f.threads);
  const auto device = parse_device(f.device);
  auto loaded = load_model(f.model, parse_enum<WeightsKind>(f.weights), device);
  for (const auto& w : loaded.warnings) fmt::print(stderr, "warning: {}\n", w);
  const auto& mc = loaded.config.model;
  fmt::print("model: {} (step {}, {} weights, {}x{}x{}, T = {}) on {}\n",
             loaded.checkpoint_dir.string(), loaded.step, f.weights, mc.in_channels, mc.sample_size,
             mc.sample_size, loaded.schedule.num_train_timesteps, device.str());
  return loaded;
}

ModelData load_data_for_model(const std::string& source, const LoadedModel& loaded) {
  auto data = load_model_data(source, loaded.config, loaded.codec);
  if (!data.skipped.empty())
    fmt::print(stderr, "warning: skipped {} unreadable image(s): {}\n", data.skipped.size(),
               fmt::join(data.skipped, ", "));
  fmt::print("data: {} ({} validation images, prepared like the model's training data)\n", source,
             data.validation.size(0));
  return data;
}

StepProgress::StepProgress(std::string what)
    : what_(std::move(what)), start_(std::chrono::steady_clock::now()) {}

void StepProgress::update(const SamplerStep& s, int64_t part, int64_t parts) {
  const double done = (double(part) + double(s.index + 1) / double(s.num_steps)) /
                      double(std::max<int64_t>(parts, 1));
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string of = parts > 1 ? fmt::format(" ({}/{})", part + 1, parts) : std::string();
  line_.update(fmt::format("{}{}  step {}/{} (t={:g})  ETA {}", what_, of, s.index + 1, s.num_steps,
                           s.t, format_duration(elapsed / done * (1 - done))));
}

void print_round_trip(const RoundTripError& e, int64_t steps) {
  fmt::print(
      "round trip (DDIM inversion, then DDIM eta=0, {} steps each): MSE {:.3e}, max |diff| "
      "{:.3e} (model units); pixel MSE {:.3e} ({:.1f} dB)\n",
      steps, e.mse, e.max_abs, e.pixel_mse,
      e.pixel_mse > 0 ? -10 * std::log10(e.pixel_mse) : INFINITY);
}

void print_wrote(const std::filesystem::path& png, const torch::Tensor& image) {
  fmt::print("wrote {} ({}x{}) and {}\n", png.string(), image.size(2), image.size(1),
             figure_json_path(png).string());
}

}  // namespace ddpm::cli
