#include "eval/validation_metric.h"

#include <fmt/format.h>

#include <stdexcept>

#include "eval/kid.h"
#include "runs/generate.h"

namespace ddpm {

ValidationMetric::ValidationMetric(const TrainingConfig& config, const torch::Tensor& validation,
                                   int64_t channels, int64_t image_size)
    : config_(config) {
  if (validation.size(0) < 2)
    throw std::invalid_argument("training.eval_every needs validation images, but the data has " +
                                std::to_string(validation.size(0)) +
                                " (raise data.validation_fraction or set "
                                "training.eval_every to 0)");
  FeatureNetOptions o;
  o.inception_weights = config.eval_inception;
  o.device = config.device;
  try {
    net_ = make_feature_net(o, channels, image_size, image_size);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("training.eval_every: ") + e.what() +
                                " (in a config: training.eval_inception)");
  }
  const int64_t n = std::min(config.eval_samples, validation.size(0));
  auto gen = at::detail::createCPUGenerator(config.seed);
  auto subset =
      std::get<0>(torch::randperm(validation.size(0), gen, torch::kLong).slice(0, 0, n).sort());
  reference_ = extract_features(*net_, validation.index_select(0, subset), 100);
  reference_stats_ = feature_statistics(reference_);
}

double ValidationMetric::evaluate(UNet& model, const NoiseSchedule& schedule,
                                  PredictionType prediction, const SamplingConfig& base,
                                  const Codec& codec, const ClassesConfig& classes) {
  SamplingConfig sampling = base;
  sampling.sampler = switch_sampler(sampling.sampler, SamplerKind::ddim);
  sampling.sampler.steps = std::min(config_.eval_steps, schedule.num_train_timesteps);
  sampling.sampler.eta = 0.0;
  GenerateRequest request;
  request.count = reference_.size(0);
  request.batch_size = std::min<int64_t>(request.count, 64);
  request.seed = config_.seed;
  request.classes = classes;
  auto samples = generate(model, schedule, prediction, sampling, request);
  auto features = extract_features(*net_, codec.to_uint8(samples), 100);
  if (config_.eval_metric == EvalMetric::fd)
    return frechet_distance(feature_statistics(features), reference_stats_);
  KIDOptions o;  // all samples against all references, one subset (the Keras example's KID)
  o.subsets = 1;
  o.subset_size = features.size(0);
  return kernel_inception_distance(features, reference_, o).mean;
}

std::string ValidationMetric::name() const {
  return to_string(config_.eval_metric);
}

std::string ValidationMetric::protocol() const {
  return fmt::format(
      "{} of {} EMA samples (DDIM, {} steps, eta 0, seed {}) vs {} validation "
      "images, {} features",
      config_.eval_metric == EvalMetric::kid ? "KID" : "FD", reference_.size(0), config_.eval_steps,
      config_.seed, reference_.size(0), net_->name());
}

}  // namespace ddpm
