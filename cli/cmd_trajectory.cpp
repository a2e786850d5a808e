// ddpm trajectory: the sampling chain of a few samples from x_T to x_0, one row per sample
// (and optionally a row of the predicted x̂_0 at each step), as one PNG + its JSON.
#include <fmt/format.h>

#include "commands.h"
#include "experiments/figure.h"
#include "experiments/trajectory.h"
#include "figure_flags.h"
#include "models/denoiser.h"
#include "pipeline/generate.h"

namespace ddpm::cli {

namespace {

struct TrajectoryFlags {
  ModelFlags model;
  std::string sampler = "ddim";
  int64_t steps = 0;
  double eta = -1;
  int64_t n = 4;
  std::vector<std::string> show{"x_t"};
  int64_t max_columns = 20;
  uint64_t seed = 0;
  std::string out;
};

}  // namespace

Run add_trajectory(CLI::App& app) {
  auto flags = std::make_shared<TrajectoryFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "trajectory", "Picture of the sampling chain x_T → x_0, one row per sample (Figures 7, 17)");
  add_model_flags(*cmd, f.model);
  cmd->add_option("--sampler", f.sampler, "ddim (default) or ddpm")
      ->check(CLI::IsMember({"ddpm", "ddim"}));
  cmd->add_option("--steps", f.steps, "Sampler steps (default: 20 for ddim, all T for ddpm)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--eta", f.eta, "DDIM eta in [0, 1] (default: the run's, usually 0)")
      ->check(CLI::Range(0.0, 1.0));
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
    const int64_t T = loaded.schedule.num_train_timesteps;
    SamplingConfig s = loaded.config.sampling;
    s.sampler = parse_enum<SamplerKind>(f.sampler);
    if (s.sampler == SamplerKind::ddpm && f.eta >= 0)
      throw std::invalid_argument("--eta applies to --sampler ddim only");
    s.steps = f.steps > 0 ? f.steps : (s.sampler == SamplerKind::ddim ? 20 : 0);
    if (f.eta >= 0) s.eta = f.eta;
    if (s.steps > T)
      throw std::invalid_argument(fmt::format("--steps {} exceeds the model's T = {}", s.steps, T));
    const auto timesteps = sampling_timesteps(s, T);
    const auto& mc = loaded.config.model;
    const auto device = loaded.model->parameters().front().device();

    // x_T then the sampler's draws from one generator, as `ddpm sample` draws them.
    torch::Generator gen = at::detail::createCPUGenerator(f.seed);
    auto x_T =
        draw_noise({f.n, mc.in_channels, mc.sample_size, mc.sample_size}, torch::kFloat32, gen)
            .to(device);
    StepProgress progress(fmt::format("{}-{}", f.sampler, timesteps.size()));
    TrajectoryRequest request;
    request.max_columns = f.max_columns;
    auto traj = sample_trajectory(make_denoise_fn(loaded.model, loaded.schedule), loaded.schedule,
                                  loaded.config.prediction_type, s, timesteps, x_T, gen, request,
                                  [&](const SamplerStep& step) { progress.update(step); });
    progress.finish();

    std::vector<torch::Tensor> rows;  // per sample, the requested rows in order
    for (int64_t i = 0; i < f.n; ++i)
      for (const auto& what : f.show) rows.push_back(what == "x_t" ? traj.x_t[i] : traj.pred_x0[i]);
    auto image = figure_image(torch::stack(rows), dataset_normalization(loaded.config.data));
    nlohmann::json numbers{{"command", "trajectory"},
                           {"model", f.model.model},
                           {"weights", f.model.weights},
                           {"seed", f.seed},
                           {"sampler", f.sampler},
                           {"steps", timesteps.size()},
                           {"eta", s.eta},
                           {"clip_sample", s.clip_sample},
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
