#include "eval/sampler_sweep.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <stdexcept>

#include "data/transforms.h"
#include "eval/frechet_distance.h"
#include "io/atomic_file.h"
#include "pipeline/generate.h"

namespace ddpm {

template <>
const EnumTable<SweepMetric>& enum_table<SweepMetric>() {
  static const EnumTable<SweepMetric> table{"sweep metric",
                                            {{SweepMetric::fd, "fd"}, {SweepMetric::kid, "kid"}}};
  return table;
}

std::vector<SweepSetting> sweep_settings(const std::vector<int64_t>& steps,
                                         const std::vector<double>& etas, bool ddpm_full_chain,
                                         int64_t T) {
  if ((steps.empty() || etas.empty()) && !ddpm_full_chain)
    throw std::invalid_argument("the sweep needs at least one --steps and one --eta value");
  std::vector<SweepSetting> out;
  for (double eta : etas) {
    if (!(eta >= 0 && eta <= 1))
      throw std::invalid_argument(fmt::format("--eta {} is outside [0, 1]", eta));
    for (int64_t s : steps) {
      if (s < 1 || s > T)
        throw std::invalid_argument(fmt::format("--steps {} is outside [1, T = {}]", s, T));
      out.push_back({SamplerKind::ddim, s, eta});
    }
  }
  if (ddpm_full_chain) out.push_back({SamplerKind::ddpm, T, 1.0});
  return out;
}

std::vector<SweepRow> run_sampler_sweep(LoadedModel& model, FeatureNet& net,
                                        const torch::Tensor& reference,
                                        const std::vector<SweepSetting>& settings,
                                        const SweepOptions& o, const SweepProgress& progress) {
  const auto& mc = model.config.model;
  net.check_input(mc.in_channels, mc.sample_size, mc.sample_size);
  const auto reference_stats = feature_statistics(reference);
  const auto normalization = dataset_normalization(model.config.data);
  std::vector<SweepRow> rows;
  for (size_t i = 0; i < settings.size(); ++i) {
    const auto& setting = settings[i];
    SamplingConfig sampling = model.config.sampling;
    sampling.sampler = setting.sampler;
    sampling.steps = setting.steps;
    sampling.eta = setting.eta;
    GenerateRequest request;
    request.count = o.count;
    request.batch_size = o.batch_size;
    request.seed = o.seed;
    const auto start = std::chrono::steady_clock::now();
    auto samples = generate(model.model, model.schedule, model.config.prediction_type, sampling,
                            request, [&](int64_t batch, int64_t batches, const SamplerStep& s) {
                              if (progress)
                                progress(i, settings.size(), batch * s.num_steps + s.index + 1,
                                         batches * s.num_steps);
                            });
    SweepRow row;
    row.setting = setting;
    row.sample_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto images = denormalize_to_uint8(samples, normalization);  // as saved PNGs
    auto features = extract_features(net, images, o.feature_batch_size);
    row.images = images.size(0);
    row.fd = frechet_distance(feature_statistics(features), reference_stats);
    row.kid = kernel_inception_distance(features, reference, o.kid);
    rows.push_back(row);
  }
  return rows;
}

void write_sweep_csv(const std::filesystem::path& path, const std::vector<SweepRow>& rows) {
  std::string text = "sampler,steps,eta,images,fd,kid_mean,kid_std,sample_seconds\n";
  for (const auto& r : rows)
    text += fmt::format("{},{},{},{},{:.6g},{:.6g},{:.6g},{:.1f}\n", to_string(r.setting.sampler),
                        r.setting.steps,
                        r.setting.sampler == SamplerKind::ddim ? fmt::format("{}", r.setting.eta)
                                                                : std::string(),
                        r.images, r.fd, r.kid.mean, r.kid.std, r.sample_seconds);
  write_file_atomic(path, text);
}

Plot sweep_plot(const std::vector<SweepRow>& rows, SweepMetric metric, const std::string& title) {
  auto value = [&](const SweepRow& r) { return metric == SweepMetric::fd ? r.fd : r.kid.mean; };
  Plot p;
  p.title = title;
  p.x_label = "sampling steps";
  p.y_label = metric == SweepMetric::fd ? "FD (lower is better)" : "KID (lower is better)";
  std::map<double, PlotSeries> by_eta;
  double lo = 1e300, hi = -1e300;
  for (const auto& r : rows) {
    if (r.setting.sampler != SamplerKind::ddim) continue;
    auto& s = by_eta[r.setting.eta];
    s.x.push_back(double(r.setting.steps));
    s.y.push_back(value(r));
    lo = std::min(lo, double(r.setting.steps));
    hi = std::max(hi, double(r.setting.steps));
  }
  size_t i = 0;
  for (auto& [eta, s] : by_eta) {
    s.name = fmt::format("DDIM eta={}", eta);
    s.color = palette_color(i++);
    s.width = 2.0;
    p.series.push_back(s);
  }
  for (const auto& r : rows) {
    if (r.setting.sampler != SamplerKind::ddpm) continue;
    PlotSeries s;
    s.name = fmt::format("DDPM, {} steps", r.setting.steps);
    if (lo > hi) lo = hi = double(r.setting.steps);
    s.x = {lo, hi};
    s.y = {value(r), value(r)};
    s.color = {0, 0, 0};
    s.width = 1.5;
    p.series.push_back(s);
  }
  return p;
}

}  // namespace ddpm
