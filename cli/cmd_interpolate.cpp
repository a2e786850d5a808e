// ddpm interpolate: between two images, by mixing their x_t (DDPM Figures 9–10), by slerp of two
// Gaussian x_T, or by slerp of their DDIM-inversion codes (DDIM §5.3); one PNG + its JSON.
#include <fmt/format.h>

#include "class_flags.h"
#include "commands.h"
#include "enum_choices.h"
#include "experiments/figure.h"
#include "experiments/interpolate.h"
#include "experiments/latent_codes.h"
#include "figure_flags.h"
#include "models/denoiser.h"
#include "runs/generate.h"
#include "sampler_flags.h"
#include "samplers/sampler_registry.h"

namespace ddpm::cli {

namespace {

struct InterpolateFlags {
  ModelFlags model;
  std::string data;
  std::string mode = "xt";
  std::vector<int64_t> t{500};
  std::string lambdas = "0:1:0.1";
  int64_t pairs = 1;
  std::shared_ptr<SamplerFlags> sampler;
  int64_t fixed_point_iterations = 0;
  uint64_t seed = 0;
  std::string out;
  std::shared_ptr<ClassFlags> classes;
};

}  // namespace

Run add_interpolate(CLI::App& app) {
  auto flags = std::make_shared<InterpolateFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "interpolate", "Interpolate between two images: mixed x_t, slerp of x_T, or DDIM inversion");
  add_model_flags(*cmd, f.model);
  cmd->add_option("--data", f.data,
                  "fashion-mnist or an image folder; its validation split (xt and inversion)");
  cmd->add_option("--mode", f.mode,
                  "xt: mix two diffused images at step t (DDPM Fig. 9-10); slerp: two Gaussian "
                  "x_T, DDIM eta=0; inversion: slerp of two images' DDIM codes")
      ->check(enum_choices<InterpolationMode>());
  auto* t_opt = cmd->add_option("--t", f.t,
                                "xt: diffusion step(s) 1..T, comma separated for one row each "
                                "(default 500)")
                    ->delimiter(',')
                    ->check(CLI::PositiveNumber);
  cmd->add_option("--lambdas", f.lambdas, "start:stop:step (stop included) or a comma list")
      ->capture_default_str();
  cmd->add_option("--pairs", f.pairs, "Pairs of images (rows)")->check(CLI::PositiveNumber);
  f.sampler = add_sampler_flags(
      *cmd,
      "xt: ddpm over every step from t (--steps: reverse steps from t); slerp and inversion "
      "decode with DDIM, eta 0 (--steps: DDIM steps, default the run's)");
  f.classes = add_class_flags(*cmd);
  auto* refine_opt = cmd->add_option("--fixed-point-iterations", f.fixed_point_iterations,
                                     "inversion: extra network evaluations per DDIM inversion step "
                                     "that make decoding return "
                                     "the images almost exactly (0: plain inversion)")
                         ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", f.seed, "Seed of the picked images, x_T and every noise draw");
  cmd->add_option("--out", f.out, "PNG to write (the numbers go to the .json beside it)")
      ->required();

  return [flags, t_opt, refine_opt]() -> int {
    auto& f = *flags;
    const auto mode = parse_enum<InterpolationMode>(f.mode);
    const auto lambdas = parse_lambdas(f.lambdas);
    if (mode != InterpolationMode::xt && t_opt->count() > 0)
      throw std::invalid_argument("--t applies to --mode xt only");
    if (mode != InterpolationMode::xt && f.sampler->given.contains("sampler"))
      throw std::invalid_argument(
          "--sampler applies to --mode xt only (slerp and inversion "
          "decode with DDIM, eta = 0)");
    if (mode != InterpolationMode::inversion && refine_opt->count() > 0)
      throw std::invalid_argument("--fixed-point-iterations applies to --mode inversion only");
    if (mode == InterpolationMode::slerp && !f.data.empty())
      fmt::print("note: --mode slerp interpolates two Gaussian x_T; --data {} picks no images\n",
                 f.data);
    if (mode != InterpolationMode::slerp && f.data.empty())
      throw std::invalid_argument("--mode " + f.mode + " needs --data (fashion-mnist or a folder)");

    auto loaded = load_model_from_flags(f.model);
    apply_class_flags(*f.classes, loaded);
    const int64_t T = loaded.schedule.num_train_timesteps;
    const auto& mc = loaded.config.model;
    const auto device = loaded.model->parameters().front().device();
    auto denoise = class_denoise_fn(*f.classes, loaded);
    const auto prediction = loaded.config.prediction_type;
    nlohmann::json numbers{{"command", "interpolate"}, {"mode", f.mode},
                           {"model", f.model.model},   {"weights", f.model.weights},
                           {"seed", f.seed},           {"lambdas", lambdas},
                           {"pairs", f.pairs}};
    torch::Tensor a, b;  // the source images [P, C, H, W] (xt, inversion)
    if (mode != InterpolationMode::slerp) {
      auto data = load_data_for_model(f.data, loaded);
      const auto indices = pick_indices(data.validation.size(0), 2 * f.pairs, f.seed);
      const std::vector<int64_t> ia(indices.begin(), indices.begin() + f.pairs),
          ib(indices.begin() + f.pairs, indices.end());
      a = pick_images(data, ia).to(device);
      b = pick_images(data, ib).to(device);
      numbers["data"] = f.data;
      numbers["validation_indices_a"] = ia;
      numbers["validation_indices_b"] = ib;
    }
    StepProgress progress("interpolate " + f.mode);
    auto on_progress = [&](int64_t part, int64_t parts, const SamplerStep& s) {
      progress.update(s, part, parts);
    };
    torch::Tensor tiles;
    if (mode == InterpolationMode::xt) {
      SamplingConfig s = loaded.config.sampling;
      s.sampler = resolve_sampler(s.sampler, *f.sampler, T, {{"sampler", "ddpm"}});
      const int64_t steps = s.sampler.steps;  // 0 (ddpm's default): every step from t
      torch::Generator gen = at::detail::createCPUGenerator(f.seed + 1);
      auto decoded = interpolate_xt(denoise, loaded.schedule, prediction, s, a, b, f.t, lambdas,
                                    steps, gen, on_progress);
      // Rows t-major: every pair at the first t, then at the next t.
      const int64_t reps = int64_t(f.t.size());
      tiles = interpolation_tiles(decoded, a.repeat({reps, 1, 1, 1}), b.repeat({reps, 1, 1, 1}));
      numbers["t"] = f.t;
      numbers["sampler"] = sampler_config_to_json(s.sampler);
      numbers["reverse_steps"] = steps;
      numbers["layout"] =
          "one row per (t, pair), t-major: source a, the decoded mixes for each "
          "lambda, source b";
    } else {
      SamplingConfig s = loaded.config.sampling;
      s.sampler = resolve_sampler(switch_sampler(s.sampler, SamplerKind::ddim), *f.sampler, T);
      s.sampler.eta = 0.0;
      // The codes are decoded over the grid they were encoded on, each step to the next entry.
      const auto timesteps = code_timesteps(s.sampler, s.sampler.steps, T);
      torch::Tensor code_a, code_b;
      if (mode == InterpolationMode::slerp) {
        torch::Generator gen = at::detail::createCPUGenerator(f.seed);
        const std::vector<int64_t> shape{f.pairs, mc.in_channels, mc.sample_size, mc.sample_size};
        code_a = draw_noise(shape, torch::kFloat32, gen).to(device);
        code_b = draw_noise(shape, torch::kFloat32, gen).to(device);
      } else {
        progress.set_what("DDIM inversion");
        code_a = encode_images(denoise, loaded.schedule, prediction, s, timesteps, a,
                               f.fixed_point_iterations,
                               [&](const SamplerStep& st) { progress.update(st, 0, 2); })
                     .to(device);
        code_b = encode_images(denoise, loaded.schedule, prediction, s, timesteps, b,
                               f.fixed_point_iterations,
                               [&](const SamplerStep& st) { progress.update(st, 1, 2); })
                     .to(device);
        numbers["fixed_point_iterations"] = f.fixed_point_iterations;
        progress.set_what("decoding");
        // The inversion is only the inverse of the unclipped ODE: decode without clipping.
        s.sampler.clip_sample = false;
      }
      auto decoded = interpolate_codes(denoise, loaded.schedule, prediction, s, timesteps, code_a,
                                       code_b, lambdas, on_progress);
      if (mode == InterpolationMode::inversion) {
        tiles = interpolation_tiles(decoded, a, b);
        // How well the ends reproduce the sources (λ = 0 and 1 decode the codes themselves).
        if (lambdas.front() == 0.0)
          numbers["round_trip_mse_a"] =
              round_trip_error(decoded.select(1, 0), a.cpu(), loaded.codec).mse;
        if (lambdas.back() == 1.0)
          numbers["round_trip_mse_b"] =
              round_trip_error(decoded.select(1, decoded.size(1) - 1), b.cpu(), loaded.codec).mse;
        numbers["layout"] = "one row per pair: source a, decoded slerps of the codes, source b";
      } else {
        tiles = interpolation_tiles(decoded);
        numbers["layout"] = "one row per pair: the decoded slerps of two Gaussian x_T";
      }
      numbers["sampler"] = "ddim";
      numbers["eta"] = 0.0;
      numbers["timesteps"] = timesteps;
      numbers["clip_sample"] = s.sampler.clip_sample;
    }
    progress.finish();
    auto image = figure_image(tiles, loaded.codec);
    write_figure(f.out, image, numbers);
    print_wrote(f.out, image);
    return 0;
  };
}

}  // namespace ddpm::cli
