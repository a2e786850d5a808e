// The quick sample-quality metric measured during training (training.eval_every): a few EMA
// samples drawn with a few DDIM steps against as many validation images, scored by KID or the
// Fréchet distance of the feature network's features — the Keras DDIM example's practice (KID
// on one batch of samples drawn with kid_diffusion_steps = 5, used to keep the best weights).
// Cheap and noisy by design: it ranks checkpoints of one run, it is not a publishable number.
//
//   ValidationMetric metric(config.training, data.validation, data.channels, data.image_size);
//   double v = metric.evaluate(ema_model, schedule, prediction_type, sampling, normalization);
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

#include "eval/feature_net.h"
#include "eval/frechet_distance.h"
#include "models/unet.h"
#include "runs/codec.h"
#include "runs/run_config.h"

namespace ddpm {

class ValidationMetric {
 public:
  /// Picks the feature network (training.eval_inception, else the Fashion-MNIST classifier) and
  /// computes the reference features of eval_samples validation images (a seeded random subset).
  /// Throws std::invalid_argument when there are fewer than 2 validation images or no feature
  /// network takes images of this shape (the message names both options).
  ValidationMetric(const TrainingConfig& config, const torch::Tensor& validation, int64_t channels,
                   int64_t image_size);

  /// Draws eval_samples images from `model` with DDIM (eval_steps steps, η = 0, the fixed seed
  /// training.seed, so successive evaluations differ only by the weights), quantises them to
  /// 8 bits and returns the metric against the reference (lower is better).
  /// A class-conditional model draws every class in turn (default_class_labels) at
  /// sampling.guidance_scale.
  double evaluate(UNet& model, const NoiseSchedule& schedule, PredictionType prediction,
                  const SamplingConfig& sampling, const Codec& codec,
                  const ClassesConfig& classes = {});

  /// "kid" or "fd": the log.csv column is eval_<name>.
  std::string name() const;
  /// One line: metric, sample counts, sampler and feature network.
  std::string protocol() const;

 private:
  TrainingConfig config_;
  std::unique_ptr<FeatureNet> net_;
  torch::Tensor reference_;  ///< features of the validation subset [n, D]
  FeatureStatistics reference_stats_;
};

}  // namespace ddpm
