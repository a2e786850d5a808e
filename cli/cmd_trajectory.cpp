// ddpm trajectory: the sampling chain of a few samples from x_T to x_0, one row per sample
// (and optionally a row of the predicted x̂_0 at each step), as one PNG + its JSON.
#include <fmt/format.h>

#include "class_flags.h"
#include "commands.h"
#include "experiments/figure.h"
#include "experiments/trajectory.h"
#include "figure_flags.h"
#include "models/denoiser.h"
#include "runs/generate.h"
#include "sampler_flags.h"
#include "samplers/noise_source.h"
#include "samplers/sampler_registry.h"

namespace ddpm::cli {

namespace {

struct TrajectoryFlags {
  ModelFlags model;
  std::shared_ptr<SamplerFlags> sampler;
  int64_t n = 4;
  std::vector<std::string> show{"x_t"};
  int64_t max_columns = 20;
  uint64_t seed = 0;
  std::string out;
  std::shared_ptr<ClassFlags> classes;
};

}  // namespace

Run add_trajectory(CLI::App& app) {
  auto flags = std::make_shared<TrajectoryFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "trajectory", "Picture of the sampling chain x_T → x_0, one row per sample (Figures 7, 17)");
  add_model_flags(*cmd, f.model);
  f.sampler = add_sampler_flags(*cmd, "ddim with 20 steps, other settings the model's");
  f.classes = add_class_flags(*cmd);
  cmd->add_option("--n", f.n, "Samples (rows)")->check(CLI::PositiveNumber);
  cmd->add_option("--show", f.show,
                  "Rows per sample, comma separated: x_t (the chain), x0 (its predicted x_0)")
      ->delimiter(',')
      ->check(CLI::IsMember({"x_t", "x0"}));
  cmd->add_option("--max-columns", f.max_columns,
                  "Most columns; long chains show this many evenly picked states")
      ->check(CLI::Range(int64_t(2), int64_t(1000)));
  cmd->add_option("--seed", f.seed, "Seed of x_T and of every sampler draw");
  cmd->add_option("--out", f.out, "PNG to write (the numbers go to the .json beside it)")
      ->required();

  return [flags]() -> int {
    auto& f = *flags;
    auto loaded = load_model_from_flags(f.model);
    apply_class_flags(*f.classes, loaded);
    const int64_t T = loaded.schedule.num_train_timesteps;
    const auto s = resolve_sampler(loaded.config.sampling.sampler, *f.sampler, T,
                                   {{"sampler", "ddim"}, {"steps", 20}});
    const auto timesteps = sampler_timesteps(s, loaded.schedule);
    const auto& mc = loaded.config.model;
    const auto device = loaded.model->parameters().front().device();

    // Per-image x_T and sampler draws, as `ddpm sample` draws them.
    auto gens = image_generators(f.seed, 0, f.n);
    auto x_T = draw_per_image(gens, {mc.in_channels, mc.sample_size, mc.sample_size}, device);
    StepProgress progress(fmt::format("{}-{}", to_string(s.kind), timesteps.size()));
    TrajectoryRequest request;
    request.max_columns = f.max_columns;
    SamplerInputs inputs{class_denoise_fn(*f.classes, loaded), loaded.schedule,
                         loaded.config.prediction_type, per_image_noise(gens),
                         [&](const SamplerStep& step) { progress.update(step); }};
    auto traj = sample_trajectory(inputs, s, x_T, request);
    progress.finish();

    std::vector<torch::Tensor> rows;  // per sample, the requested rows in order
    for (int64_t i = 0; i < f.n; ++i)
      for (const auto& what : f.show) rows.push_back(what == "x_t" ? traj.x_t[i] : traj.pred_x0[i]);
    auto image = figure_image(torch::stack(rows), loaded.codec);
    nlohmann::json numbers{{"command", "trajectory"},
                           {"model", f.model.model},
                           {"weights", f.model.weights},
                           {"seed", f.seed},
                           {"sampler", sampler_config_to_json(s)},
                           {"steps", timesteps.size()},
                           {"timesteps", timesteps},
                           {"n", f.n},
                           {"rows_per_sample", f.show},
                           {"column_states", traj.states},
                           {"column_timesteps", traj.timesteps},
                           {"note",
                            "column_timesteps: the step index t of each column's x_t "
                            "(0-based as in the schedule; -1 is the final x_0)"}};
    write_figure(f.out, image, numbers);
    print_wrote(f.out, image);
    return 0;
  };
}

}  // namespace ddpm::cli
