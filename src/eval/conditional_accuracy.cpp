#include "eval/conditional_accuracy.h"

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>

#include "data/transforms.h"
#include "eval/frechet_distance.h"
#include "io/plot.h"
#include "runs/class_labels.h"
#include "runs/generate.h"

namespace ddpm {

std::vector<ConditionalEvalRow> evaluate_conditional(LoadedModel& model, FeatureNet& net,
                                                     const torch::Tensor& reference_features,
                                                     const SamplingConfig& base,
                                                     const ConditionalEvalOptions& o,
                                                     const ConditionalEvalProgress& progress) {
  const auto& mc = model.config.model;
  const auto& classes = model.config.classes;
  if (mc.num_class_embeds == 0)
    throw std::invalid_argument(
        "eval-conditional needs a class-conditional model (num_class_embeds is 0)");
  const int64_t K = classes.num_classes;
  if (K < 1)
    throw std::invalid_argument("the model records no number of classes (name its null class)");
  if (o.per_class < 1 || o.scales.empty())
    throw std::invalid_argument("eval-conditional needs per_class >= 1 and at least one scale");
  const auto image = model.codec.image_shape(mc.in_channels, mc.sample_size);
  net.check_input(image[0], image[1], image[2]);
  const auto reference_stats = feature_statistics(reference_features);
  const auto labels = class_rows(K, o.per_class);  // [K · per_class]
  std::vector<ConditionalEvalRow> rows;
  for (size_t i = 0; i < o.scales.size(); ++i) {
    SamplingConfig sampling = base;
    sampling.guidance_scale = o.scales[i];
    GenerateRequest request;
    request.count = labels.size(0);
    request.batch_size = o.batch_size;
    request.seed = o.seed;
    request.class_labels = labels;
    request.classes = classes;
    const auto start = std::chrono::steady_clock::now();
    auto samples = generate(model.model, model.schedule, model.config.prediction_type, sampling,
                            request, [&](int64_t batch, int64_t batches, const SamplerStep& s) {
                              if (!progress) return;
                              const int64_t done = std::min<int64_t>(
                                  request.count, (batch * s.num_steps + s.index + 1) *
                                                     request.count / (batches * s.num_steps));
                              progress(i, o.scales.size(), done, request.count);
                            });
    ConditionalEvalRow row;
    row.scale = o.scales[i];
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto features = extract_features(net, model.codec.to_uint8(samples),
                                     o.feature_batch_size);  // [N, D]
    auto logits = net.logits(features);                      // [N, classes]
    if (logits.size(1) < K)
      throw std::invalid_argument(fmt::format(
          "the classifier tells {} classes apart but the model has {}: give a classifier of the "
          "model's classes",
          logits.size(1), K));
    auto predicted = logits.argmax(1);                        // [N]
    auto correct = predicted.eq(labels).to(torch::kFloat64);  // [N]
    row.accuracy = correct.mean().item<double>();
    auto per_class = correct.view({K, o.per_class}).mean(1);  // [K]
    for (int64_t k = 0; k < K; ++k) row.class_accuracy.push_back(per_class[k].item<double>());
    row.fd = frechet_distance(feature_statistics(features), reference_stats);
    rows.push_back(row);
  }
  return rows;
}

torch::Tensor conditional_plot(const std::vector<ConditionalEvalRow>& rows,
                               const std::string& title) {
  std::vector<double> w, accuracy, fd;
  for (const auto& r : rows) {
    w.push_back(r.scale);
    accuracy.push_back(100 * r.accuracy);
    fd.push_back(r.fd);
  }
  Plot top;
  top.title = title;
  top.x_label = "guidance scale w";
  top.y_label = "classified as asked (%)";
  top.height = 400;
  top.series.push_back({"accuracy", w, accuracy, palette_color(0), 1.0, 2.0, true});
  Plot bottom;
  bottom.x_label = "guidance scale w";
  bottom.y_label = "FD to the test set";
  bottom.height = 400;
  bottom.series.push_back({"Frechet distance", w, fd, palette_color(1), 1.0, 2.0, true});
  return torch::cat({render_plot(top), render_plot(bottom)}, 1);  // [3, 800, W]
}

}  // namespace ddpm
