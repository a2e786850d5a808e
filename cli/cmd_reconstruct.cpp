// ddpm reconstruct: real validation images diffused to step t with q(x_t|x_0) and denoised back,
// several draws per image, one row per start step (Figure 8); prints the MSE to the originals.
#include <fmt/format.h>

#include "commands.h"
#include "experiments/figure.h"
#include "experiments/reconstruct.h"
#include "figure_flags.h"
#include "models/denoiser.h"
#include "sampler_flags.h"

namespace ddpm::cli {

namespace {

struct ReconstructFlags {
  ModelFlags model;
  std::string data;
  std::vector<int64_t> from_steps{100, 250, 500, 750, 1000};
  int64_t n = 4;
  int64_t per_image = 3;
  std::shared_ptr<SamplerFlags> sampler;
  uint64_t seed = 0;
  std::string out;
};

}  // namespace

Run add_reconstruct(CLI::App& app) {
  auto flags = std::make_shared<ReconstructFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand("reconstruct",
                                 "Diffuse real images to step t and denoise them back (Figure 8)");
  add_model_flags(*cmd, f.model);
  cmd->add_option("--data", f.data,
                  "fashion-mnist or an image folder (as ddpm train --data); its validation split")
      ->required();
  cmd->add_option("--from-steps", f.from_steps,
                  "Start steps t, comma separated, counted 1..T as in the paper")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--n", f.n, "Validation images")->check(CLI::PositiveNumber);
  cmd->add_option("--per-image", f.per_image, "Independent draws per image and start step")
      ->check(CLI::PositiveNumber);
  f.sampler = add_sampler_flags(
      *cmd, "ddpm over every step from t; --steps: reverse steps from each t, evenly spaced");
  cmd->add_option("--seed", f.seed, "Seed of the picked images and of every noise draw");
  cmd->add_option("--out", f.out, "PNG to write (the numbers go to the .json beside it)")
      ->required();

  return [flags]() -> int {
    auto& f = *flags;
    auto loaded = load_model_from_flags(f.model);
    auto data = load_data_for_model(f.data, loaded);
    SamplingConfig s = loaded.config.sampling;
    s.sampler = resolve_sampler(s.sampler, *f.sampler, loaded.schedule.num_train_timesteps,
                                {{"sampler", "ddpm"}});
    ReconstructRequest request;
    request.from_steps = f.from_steps;
    request.per_image = f.per_image;
    request.steps = s.sampler.steps;  // 0 (ddpm's default): every step from t

    // Images from seed, forward and reverse draws from seed + 1: more images never change the
    // noise of the first ones' pick.
    const auto indices = pick_indices(data.validation.size(0), f.n, f.seed);
    const auto device = loaded.model->parameters().front().device();
    auto x0 = pick_images(data, indices).to(device);
    torch::Generator gen = at::detail::createCPUGenerator(f.seed + 1);
    StepProgress progress("reconstruct");
    auto rec = reconstruct(make_denoise_fn(loaded.model, loaded.schedule), loaded.schedule,
                           loaded.config.prediction_type, s, x0, loaded.codec, request, gen,
                           [&](int64_t row, int64_t rows, const SamplerStep& step) {
                             progress.set_what(fmt::format("from t={}", f.from_steps[size_t(row)]));
                             progress.update(step, row, rows);
                           });
    progress.finish();

    auto image = figure_image(reconstruction_tiles(x0, rec), loaded.codec);
    nlohmann::json rows = nlohmann::json::array();
    fmt::print("{:>6}  {:>12}  {:>8}\n", "t", "MSE", "PSNR dB");
    for (size_t i = 0; i < f.from_steps.size(); ++i) {
      const double psnr = rec.mse[i] > 0 ? -10.0 * std::log10(rec.mse[i]) : INFINITY;
      fmt::print("{:>6}  {:>12.6f}  {:>8.2f}\n", f.from_steps[i], rec.mse[i], psnr);
      rows.push_back({{"t", f.from_steps[i]},
                      {"step_index", f.from_steps[i] - 1},
                      {"mse", rec.mse[i]},
                      {"psnr_db", std::isfinite(psnr) ? nlohmann::json(psnr) : nlohmann::json()}});
    }
    nlohmann::json numbers{
        {"command", "reconstruct"},
        {"model", f.model.model},
        {"weights", f.model.weights},
        {"data", f.data},
        {"validation_indices", indices},
        {"seed", f.seed},
        {"sampler", sampler_config_to_json(s.sampler)},
        {"reverse_steps", request.steps},
        {"per_image", f.per_image},
        {"layout",
         "top row: originals; then one row per start step t: per image x_t (first "
         "draw) followed by the draws' reconstructions"},
        {"mse_units", "mean over images, draws and pixels of ((x - x0)/255)^2 on uint8 images"},
        {"results", rows}};
    write_figure(f.out, image, numbers);
    print_wrote(f.out, image);
    return 0;
  };
}

}  // namespace ddpm::cli
