#include "eval/sampler_sweep.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <sstream>
#include <stdexcept>

#include "data/transforms.h"
#include "eval/frechet_distance.h"
#include "io/atomic_file.h"
#include "runs/generate.h"
#include "samplers/sampler_registry.h"

namespace ddpm {

template <>
const EnumTable<SweepMetric>& enum_table<SweepMetric>() {
  static const EnumTable<SweepMetric> table{"sweep metric",
                                            {{SweepMetric::fd, "fd"}, {SweepMetric::kid, "kid"}}};
  return table;
}

std::vector<SamplerConfig> ddim_sweep_settings(const SamplerConfig& base,
                                               const std::vector<int64_t>& steps,
                                               const std::vector<double>& etas,
                                               bool ddpm_full_chain, int64_t T) {
  if ((steps.empty() || etas.empty()) && !ddpm_full_chain)
    throw std::invalid_argument("the sweep needs at least one --steps and one --eta value");
  std::vector<SamplerConfig> out;
  for (double eta : etas) {
    if (!(eta >= 0 && eta <= 1))
      throw std::invalid_argument(fmt::format("--eta {} is outside [0, 1]", eta));
    for (int64_t s : steps) {
      if (s < 1 || s > T)
        throw std::invalid_argument(fmt::format("--steps {} is outside [1, T = {}]", s, T));
      SamplerConfig c = switch_sampler(base, SamplerKind::ddim);
      c.steps = s;
      c.eta = eta;
      out.push_back(c);
    }
  }
  if (ddpm_full_chain) out.push_back(switch_sampler(base, SamplerKind::ddpm));
  return out;
}

std::vector<SamplerConfig> sweep_spec_settings(const SamplerConfig& base, const std::string& spec,
                                               int64_t T) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(
        fmt::format("sweep spec '{}': {} (expected NAME[/KEY=VALUE...]:STEPS,STEPS,..., e.g. "
                    "dpm-solver++:5,10,20 or euler/use_karras_sigmas=true:10,20)",
                    spec, why));
  };
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
    fail("no ':' between the sampler and its step counts");
  std::vector<std::string> parts;
  {
    std::string head = spec.substr(0, colon), item;
    std::stringstream in(head);
    while (std::getline(in, item, '/')) parts.push_back(item);
  }
  nlohmann::json overrides{{"sampler", parts.front()}};
  for (size_t i = 1; i < parts.size(); ++i) {
    const auto eq = parts[i].find('=');
    if (eq == std::string::npos || eq == 0) fail("option '" + parts[i] + "' is not KEY=VALUE");
    const std::string key = parts[i].substr(0, eq), text = parts[i].substr(eq + 1);
    auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) value = text;  // a choice, e.g. solver_type=heun
    overrides[key] = value;
  }
  std::vector<SamplerConfig> out;
  std::string item;
  std::stringstream steps(spec.substr(colon + 1));
  while (std::getline(steps, item, ',')) {
    size_t used = 0;
    int64_t n = 0;
    try {
      n = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) fail("step count '" + item + "' is not an integer");
    overrides["steps"] = n;
    try {
      auto c = apply_sampler_overrides(base, overrides);
      validate_sampler_config(c, T);
      out.push_back(c);
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
  }
  return out;
}

std::string sweep_label(const SamplerConfig& setting) {
  const auto defaults = sampler_config_to_json(default_sampler_config(setting.kind));
  std::string label = to_string(setting.kind);
  const auto options = sampler_config_to_json(setting);  // items() must not outlive it
  for (const auto& [key, value] : options.items()) {
    // DDPM's variance is named always: a learned-variance model's own default is not the class's,
    // so "ddpm" alone would not say which variance a row used.
    const bool named_always = setting.kind == SamplerKind::ddpm && key == "variance_type";
    if (key == "sampler" || key == "steps" ||
        (!named_always && defaults.value(key, nlohmann::json()) == value))
      continue;
    label +=
        fmt::format(" {}={}", key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  return label;
}

std::vector<SweepRow> run_sampler_sweep(LoadedModel& model, FeatureNet& net,
                                        const torch::Tensor& reference,
                                        const std::vector<SamplerConfig>& settings,
                                        const SweepOptions& o, const SweepProgress& progress) {
  const auto& mc = model.config.model;
  const auto image = model.codec.image_shape(mc.in_channels, mc.sample_size);
  net.check_input(image[0], image[1], image[2]);
  const auto reference_stats = feature_statistics(reference);
  std::vector<SweepRow> rows;
  for (size_t i = 0; i < settings.size(); ++i) {
    const auto& setting = settings[i];
    SamplingConfig sampling = model.config.sampling;
    sampling.sampler = setting;
    GenerateRequest request;
    request.count = o.count;
    request.batch_size = o.batch_size;
    request.seed = o.seed;
    request.class_labels = o.class_labels;
    request.classes = model.config.classes;
    const auto start = std::chrono::steady_clock::now();
    auto samples = generate(model.model, model.schedule, model.config.prediction_type, sampling,
                            request, [&](int64_t batch, int64_t batches, const SamplerStep& s) {
                              if (progress)
                                progress(i, settings.size(), batch * s.num_steps + s.index + 1,
                                         batches * s.num_steps);
                            });
    SweepRow row;
    row.setting = setting;
    row.network_evaluations = network_evaluations(setting, model.schedule);
    row.sample_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto images = model.codec.to_uint8(samples);  // as saved PNGs
    auto features = extract_features(net, images, o.feature_batch_size);
    row.images = images.size(0);
    row.fd = frechet_distance(feature_statistics(features), reference_stats);
    row.kid = kernel_inception_distance(features, reference, o.kid);
    rows.push_back(row);
  }
  return rows;
}

void write_sweep_csv(const std::filesystem::path& path, const std::vector<SweepRow>& rows) {
  std::string text =
      "sampler,label,steps,network_evaluations,images,fd,kid_mean,kid_std,sample_seconds,"
      "seconds_per_image\n";
  for (const auto& r : rows)
    text += fmt::format(
        "{},{},{},{},{},{:.6g},{:.6g},{:.6g},{:.1f},{:.4g}\n", to_string(r.setting.kind),
        sweep_label(r.setting), r.setting.steps, r.network_evaluations, r.images, r.fd, r.kid.mean,
        r.kid.std, r.sample_seconds, r.sample_seconds / double(std::max<int64_t>(r.images, 1)));
  write_file_atomic(path, text);
}

Plot sweep_plot(const std::vector<SweepRow>& rows, SweepMetric metric, const std::string& title) {
  auto value = [&](const SweepRow& r) { return metric == SweepMetric::fd ? r.fd : r.kid.mean; };
  Plot p;
  p.title = title;
  p.x_label = "network evaluations per image";
  p.y_label = metric == SweepMetric::fd ? "FD (lower is better)" : "KID (lower is better)";
  std::vector<std::string> order;
  std::map<std::string, PlotSeries> by_label;
  double lo = 1e300, hi = -1e300;
  for (const auto& r : rows) {
    const auto label = sweep_label(r.setting);
    if (!by_label.count(label)) order.push_back(label);
    auto& s = by_label[label];
    s.x.push_back(double(r.network_evaluations));
    s.y.push_back(value(r));
  }
  for (const auto& label : order)
    if (by_label[label].x.size() > 1)
      for (double x : by_label[label].x) lo = std::min(lo, x), hi = std::max(hi, x);
  size_t i = 0;
  for (const auto& label : order) {
    auto s = by_label[label];
    s.name = label;
    if (s.x.size() == 1) {  // a single setting: a horizontal reference line
      s.name = fmt::format("{}, {} evaluations", label, int64_t(s.x[0]));
      if (lo > hi) lo = hi = s.x[0];
      s.x = {lo, hi};
      s.y = {s.y[0], s.y[0]};
      s.color = {0, 0, 0};
      s.width = 1.5;
    } else {
      s.color = palette_color(i++);
      s.width = 2.0;
    }
    p.series.push_back(s);
  }
  return p;
}

}  // namespace ddpm
