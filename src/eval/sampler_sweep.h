// A sampler sweep: the quality of one trained model's samples for each sampler setting (any
// SamplerConfig: DDIM with S steps and η, DDPM's full ancestral chain, ...) against its cost in
// network evaluations — the pattern of the DDIM paper's Table 1 (Song et al. 2020: FID for
// S ∈ {10, 20, 50, 100, 1000} × η ∈ {0, 0.2, 0.5, 1}). Every setting starts from the same
// per-image seeds, so differences between rows come from the sampler, not from the noise.
//
//   auto settings = ddim_sweep_settings(base, {10, 20, 50}, {0.0, 1.0}, /*ddpm_full_chain=*/true,
//   T); auto rows = run_sampler_sweep(loaded, *net, reference_features, settings, options);
//   write_sweep_csv("sweep/sweep.csv", rows);
//   write_png("sweep/sweep.png", render_plot(sweep_plot(rows, SweepMetric::fd, "title")));
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <vector>

#include "eval/feature_net.h"
#include "eval/kid.h"
#include "io/plot.h"
#include "runs/model_loading.h"

namespace ddpm {

/// Every (steps, η) pair for DDIM (η outer, steps inner), then DDPM over all T steps when asked,
/// each switched from `base` (switch_sampler). Throws std::invalid_argument for empty lists,
/// steps outside [1, T] or η outside [0, 1].
std::vector<SamplerConfig> ddim_sweep_settings(const SamplerConfig& base,
                                               const std::vector<int64_t>& steps,
                                               const std::vector<double>& etas,
                                               bool ddpm_full_chain, int64_t num_train_timesteps);

/// The settings of one sweep spec "NAME[/KEY=VALUE...]:STEPS,STEPS,...": sampler NAME with the
/// given options (run-config keys, e.g. "euler/use_karras_sigmas=true:10,20",
/// "ddim/eta=1:10,20,50,100", "dpm-solver++/solver_order=3:5,10"), once per step count, each
/// switched from `base` (so unset options take NAME's own defaults). "ddpm:0" is DDPM's full
/// chain. Throws std::invalid_argument naming the spec and what is wrong (unknown sampler or
/// option, an option NAME lacks, a value out of range for T).
std::vector<SamplerConfig> sweep_spec_settings(const SamplerConfig& base, const std::string& spec,
                                               int64_t num_train_timesteps);

/// What distinguishes a setting besides its step count, for legends and tables: the sampler
/// name and each option that differs from that sampler's defaults ("ddim eta=0.5"); DDPM's
/// variance_type always ("ddpm variance_type=fixed_small").
std::string sweep_label(const SamplerConfig& setting);

struct SweepOptions {
  int64_t count = 1000;     ///< samples per setting
  int64_t batch_size = 64;  ///< images per sampler call
  int64_t feature_batch_size = 100;
  uint64_t seed = 0;  ///< x_T and the sampler's draws, shared by every setting
  KIDOptions kid;     ///< KID subsets (subset_size is capped at count)
  /// Class-conditional models: int64 [count], the class of each sample; undefined: every class
  /// in turn. Guidance follows the model's sampling.guidance_scale.
  torch::Tensor class_labels;
};

struct SweepRow {
  SamplerConfig setting;
  int64_t network_evaluations = 0;  ///< per image
  int64_t images = 0;
  double fd = 0;  ///< Fréchet distance to the reference features (FID with the Inception)
  KIDResult kid;
  double sample_seconds = 0;  ///< wall time of the sampling
};

/// Progress: setting index, settings, and the sampling progress within the setting.
using SweepProgress =
    std::function<void(size_t setting, size_t settings, int64_t done, int64_t total)>;

/// Samples `count` images per setting from `model` (quantised to 8 bits as saved PNGs), extracts
/// their features with `net`, and measures FD and KID against `reference` features [N, D].
std::vector<SweepRow> run_sampler_sweep(LoadedModel& model, FeatureNet& net,
                                        const torch::Tensor& reference,
                                        const std::vector<SamplerConfig>& settings,
                                        const SweepOptions& options,
                                        const SweepProgress& progress = {});

/// sampler,label,steps,network_evaluations,images,fd,kid_mean,kid_std,sample_seconds,
/// seconds_per_image — one row per setting, written atomically.
void write_sweep_csv(const std::filesystem::path& path, const std::vector<SweepRow>& rows);

enum class SweepMetric { fd, kid };
template <>
const EnumTable<SweepMetric>& enum_table<SweepMetric>();

/// The metric against network evaluations, one line per sweep_label; a label with one point
/// (e.g. DDPM's full chain) is drawn as a horizontal reference line.
Plot sweep_plot(const std::vector<SweepRow>& rows, SweepMetric metric, const std::string& title);

}  // namespace ddpm
