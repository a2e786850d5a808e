// ddpm decode: latents x_T (a codes file from `ddpm encode`) → images by DDIM with eta = 0 and no
// clipping; prints the round-trip error when the file holds the encoded images.
#include <fmt/format.h>

#include "commands.h"
#include "experiments/figure.h"
#include "experiments/latent_codes.h"
#include "figure_flags.h"
#include "models/denoiser.h"
#include "runs/generate.h"

namespace ddpm::cli {

namespace {

struct DecodeFlags {
  ModelFlags model;
  std::string codes;
  int64_t steps = 0;
  std::string out;
};

}  // namespace

Run add_decode(CLI::App& app) {
  auto flags = std::make_shared<DecodeFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand("decode", "x_T codes (from ddpm encode) → images by DDIM eta=0");
  add_model_flags(*cmd, f.model);
  cmd->add_option("--codes", f.codes, "Codes file written by ddpm encode")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--steps", f.steps, "DDIM steps (default: the encoding's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", f.out, "PNG grid to write (the numbers go to the .json beside it)")
      ->required();

  return [flags]() -> int {
    auto& f = *flags;
    auto codes = read_latent_codes(f.codes);
    auto loaded = load_model_from_flags(f.model);
    const auto& mc = loaded.config.model;
    const int64_t T = loaded.schedule.num_train_timesteps;
    if (codes.x_T.size(1) != mc.in_channels || codes.x_T.size(2) != mc.sample_size ||
        codes.x_T.size(3) != mc.sample_size)
      throw std::invalid_argument(
          fmt::format("{} holds codes of shape {} but the model takes [N, {}, {}, {}]", f.codes,
                      c10::str(codes.x_T.sizes()), mc.in_channels, mc.sample_size, mc.sample_size));
    for (const char* key : {"model", "weights"}) {
      auto it = codes.info.find(key);
      const std::string& now = std::string(key) == "model" ? f.model.model : f.model.weights;
      if (it != codes.info.end() && it->second != now)
        fmt::print("note: the codes were encoded with {} {}, decoding with {}\n", key, it->second,
                   now);
    }
    std::vector<int64_t> timesteps = codes.timesteps;
    SamplingConfig s = loaded.config.sampling;
    if (f.steps > 0) {
      if (f.steps > T)
        throw std::invalid_argument(
            fmt::format("--steps {} exceeds the model's T = {}", f.steps, T));
      timesteps = code_timesteps(s.sampler, f.steps, T);
    }
    if (timesteps.empty() || timesteps.front() >= T)
      throw std::invalid_argument(
          fmt::format("{} was encoded up to step {}, beyond the model's T = {}", f.codes,
                      timesteps.front(), T));
    const auto device = loaded.model->parameters().front().device();
    StepProgress progress("decoding");
    auto decoded = decode_codes(make_denoise_fn(loaded.model, loaded.schedule), loaded.schedule,
                                loaded.config.prediction_type, s, timesteps, codes.x_T.to(device),
                                [&](const SamplerStep& st) { progress.update(st); });
    progress.finish();
    nlohmann::json numbers{{"command", "decode"},        {"model", f.model.model},
                           {"weights", f.model.weights}, {"codes", f.codes},
                           {"steps", timesteps.size()},  {"timesteps", timesteps}};
    if (codes.x_0.defined()) {
      const auto e = round_trip_error(decoded, codes.x_0, loaded.codec);
      print_round_trip(e, int64_t(timesteps.size()));
      if (timesteps != codes.timesteps)
        fmt::print("note: decoded with other timesteps than the encoding used\n");
      numbers["round_trip"] = {{"mse", e.mse}, {"max_abs", e.max_abs}, {"pixel_mse", e.pixel_mse}};
    }
    auto image =
        figure_image(grid_tiles(decoded, square_grid_columns(decoded.size(0))), loaded.codec);
    write_figure(f.out, image, numbers);
    print_wrote(f.out, image);
    return 0;
  };
}

}  // namespace ddpm::cli
