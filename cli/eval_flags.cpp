#include "eval_flags.h"

#include <fmt/format.h>

#include "enum_choices.h"
#include "progress.h"
#include "runs/threads.h"

namespace ddpm::cli {

void add_eval_flags(CLI::App& cmd, EvalFlags& f, bool sampling) {
  cmd.add_option("--inception", f.inception,
                 "FID Inception-v3 weights (.safetensors converted from pytorch-fid's "
                 "pt_inception-2015-12-05; docs/evaluation.md). Without it: the Fashion-MNIST "
                 "classifier (1-channel 28/32 px data only)");
  cmd.add_option("--classifier", f.classifier,
                 "Fashion-MNIST classifier weights (default: the shipped "
                 "assets/fashion_mnist_classifier.safetensors)");
  cmd.add_option("--n", f.n,
                 "Images per source: a seeded random subset of datasets, folders and features "
                 "files (default all); samples drawn from models (default 10000)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--seed", f.seed, "Seed of subsets and of the sampler");
  cmd.add_option("--batch-size", f.batch_size, "Images per feature-network call")
      ->check(CLI::PositiveNumber);
  if (sampling) {
    f.sampler = add_sampler_flags(cmd, "model sources: the model's");
    cmd.add_option("--sample-batch-size", f.sample_batch_size,
                   "Model sources: images per sampler call")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--weights", f.weights, "Model sources: ema (default) or raw")
        ->check(enum_choices<WeightsKind>());
  }
  cmd.add_option("--device", f.device, "auto, cpu, cuda or cuda:N");
  cmd.add_option("--threads", f.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
}

SourceOptions source_options(const EvalFlags& f) {
  SourceOptions o;
  o.count = f.n;
  o.seed = f.seed;
  o.sample_batch_size = f.sample_batch_size;
  if (f.sampler) o.sampler_overrides = f.sampler->given;
  o.weights = f.weights;
  o.device = f.device;
  return o;
}

FeatureNetOptions feature_net_options(const EvalFlags& f) {
  FeatureNetOptions o;
  o.inception_weights = f.inception;
  o.classifier_weights = f.classifier;
  o.device = f.device;
  return o;
}

std::unique_ptr<FeatureNet> feature_net_for(const std::vector<FeatureSource>& sources,
                                            const EvalFlags& f) {
  configure_cpu_threads(f.threads);
  const auto options = source_options(f);
  std::vector<std::pair<std::string, ImageShape>> shapes;
  for (const auto& s : sources)
    if (auto shape = probe_source_shape(s, options)) shapes.emplace_back(s.spec, *shape);
  if (shapes.empty()) return nullptr;
  const auto& first = shapes.front().second;
  auto net = make_feature_net(feature_net_options(f), first.channels, first.height, first.width);
  for (const auto& [spec, shape] : shapes) {
    try {
      net->check_input(shape.channels, shape.height, shape.width);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(spec + ": " + e.what());
    }
  }
  return net;
}

SourceFeatures features_with_progress(const FeatureSource& source, FeatureNet* net,
                                      const EvalFlags& f) {
  ProgressLine line(stderr);
  const auto start = std::chrono::steady_clock::now();
  auto features = source_features(
      source, net, source_options(f), f.batch_size,
      [&](const std::string& phase, int64_t done, int64_t total) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        line.update(fmt::format("{}: {} {}/{}  {}", source.spec, phase, done, total,
                                format_duration(elapsed)));
      });
  line.finish();
  return features;
}

nlohmann::json feature_net_json(const FeatureNet* net, const std::vector<SourceFeatures>& sides) {
  if (net)
    return {{"name", net->name()},
            {"dims", net->feature_dims()},
            {"weights", net->weights()},
            {"protocol", net->protocol()}};
  return {{"name", sides.front().feature_net},
          {"dims", sides.front().features.size(1)},
          {"protocol", "as recorded in the features files"}};
}

void check_same_features(const std::vector<SourceFeatures>& sides) {
  for (const auto& s : sides) {
    if (s.features.size(1) != sides.front().features.size(1))
      throw std::invalid_argument(fmt::format(
          "the two sides have features of {} and {} dimensions; compute both with one network",
          sides.front().features.size(1), s.features.size(1)));
    if (!s.feature_net.empty() && !sides.front().feature_net.empty() &&
        s.feature_net != sides.front().feature_net)
      throw std::invalid_argument("the two sides hold features of different networks (" +
                                  sides.front().feature_net + " and " + s.feature_net + ")");
  }
}

void add_source_pair(CLI::App& cmd, std::string& a, std::string& b) {
  cmd.footer(
      "A and B: fashion-mnist:train, fashion-mnist:test, a model folder (samples are drawn), a "
      "folder of PNG/JPEG images, or a .safetensors features file (`ddpm features`). "
      "Protocol and examples: docs/evaluation.md");
  cmd.add_option("A", a, "First image source")->required();
  cmd.add_option("B", b, "Second image source")->required();
}

std::vector<SourceFeatures> source_pair_features(const std::string& a, const std::string& b,
                                                 const EvalFlags& flags,
                                                 std::unique_ptr<FeatureNet>& net) {
  const std::vector<FeatureSource> sources{parse_feature_source(a), parse_feature_source(b)};
  net = feature_net_for(sources, flags);
  std::vector<SourceFeatures> sides;
  for (const auto& s : sources) sides.push_back(features_with_progress(s, net.get(), flags));
  check_same_features(sides);
  return sides;
}

}  // namespace ddpm::cli
