// How well a class-conditional model draws the class it is asked for, per guidance scale
// (Ho & Salimans 2022, Fig. 1/Table 1 trade diversity for fidelity as w grows): every class
// gets the same number of samples from the same x_T at each scale; a classifier of the data's
// classes (the shipped Fashion-MNIST classifier, eval/fashion_classifier.h) labels them; the
// share classified as asked is the accuracy, and the Fréchet distance of the balanced mix to
// the reference images (the same classifier's features) says what the accuracy cost.
//
//   auto rows = evaluate_conditional(loaded, *net, reference_features, sampling, options);
//   write_png("accuracy.png", conditional_plot(rows));
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "eval/feature_net.h"
#include "runs/model_loading.h"

namespace ddpm {

struct ConditionalEvalOptions {
  std::vector<double> scales{0, 1, 2, 3, 5};  ///< guidance scales w
  int64_t per_class = 50;                     ///< samples per class and scale
  int64_t batch_size = 64;                    ///< images per sampler call
  int64_t feature_batch_size = 100;
  uint64_t seed = 0;  ///< x_T and the sampler's draws, the same at every scale
};

struct ConditionalEvalRow {
  double scale = 0;
  double accuracy = 0;                 ///< share of samples classified as the class asked for
  std::vector<double> class_accuracy;  ///< the same per class
  double fd = 0;                       ///< Fréchet distance of the balanced mix to the reference
  double seconds = 0;                  ///< sampling time at this scale
};

/// Progress: scale index, scale count, images sampled in this scale, images per scale.
using ConditionalEvalProgress =
    std::function<void(size_t scale, size_t scales, int64_t done, int64_t total)>;

/// Samples K · per_class images per scale with `sampling` (its guidance_scale replaced by each
/// scale) and scores them. The model must be class-conditional with a null class (scale 1 alone
/// needs none) and `net` must classify into its K classes. Throws std::invalid_argument
/// otherwise, saying which.
std::vector<ConditionalEvalRow> evaluate_conditional(LoadedModel& model, FeatureNet& net,
                                                     const torch::Tensor& reference_features,
                                                     const SamplingConfig& sampling,
                                                     const ConditionalEvalOptions& options,
                                                     const ConditionalEvalProgress& progress = {});

/// Accuracy (%) and FD against the guidance scale, one plot above the other: uint8 [3, H, W].
torch::Tensor conditional_plot(const std::vector<ConditionalEvalRow>& rows,
                               const std::string& title);

}  // namespace ddpm
