#include "eval/classifier_training.h"

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ddpm {

TrainedClassifier train_fashion_classifier(const ClassifierTrainingOptions& o,
                                           const torch::Tensor& train_images,
                                           const torch::Tensor& train_labels,
                                           const torch::Tensor& test_images,
                                           const torch::Tensor& test_labels,
                                           const ClassifierTrainingEvents& events) {
  if (o.epochs < 1 || o.batch_size < 1 || !(o.lr > 0))
    throw std::invalid_argument(
        "classifier training: epochs and batch_size must be >= 1 and lr > 0");
  auto check = [](const torch::Tensor& images, const torch::Tensor& labels, const char* what) {
    if (images.dim() != 4 || images.size(1) != 1 || images.size(2) != kClassifierImageSize ||
        images.size(3) != kClassifierImageSize || images.scalar_type() != torch::kUInt8 ||
        labels.size(0) != images.size(0))
      throw std::invalid_argument(std::string("classifier training: ") + what +
                                  " images must be uint8 [N, 1, 32, 32] with N labels, got " +
                                  c10::str(images.sizes()) + " and " + c10::str(labels.sizes()));
  };
  check(train_images, train_labels, "training");
  check(test_images, test_labels, "test");
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();

  torch::manual_seed(o.seed);
  FashionClassifier model;
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(o.lr));
  const int64_t n = train_images.size(0);
  const int64_t batches = n / o.batch_size;  // drop the last partial batch
  const int64_t steps = batches * o.epochs;
  auto gen = at::detail::createCPUGenerator(o.seed + 1);
  TrainedClassifier result;
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto epoch_start = clock::now();
    model->train();
    auto order = torch::randperm(n, gen, torch::kLong);
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < batches; ++b, ++step) {
      auto idx = order.slice(0, b * o.batch_size, (b + 1) * o.batch_size);
      auto x = train_images.index_select(0, idx).to(torch::kFloat32) / 127.5 - 1.0;  // [B,1,32,32]
      auto y = train_labels.index_select(0, idx);
      // Cosine decay from lr to 0 over all steps.
      const double lr = 0.5 * o.lr * (1 + std::cos(M_PI * double(step) / double(steps)));
      for (auto& group : optimizer.param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
      auto logits = model->forward(x);
      auto loss = torch::nn::functional::cross_entropy(logits, y);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      const double l = loss.item<double>();
      loss_sum += l;
      correct += (logits.argmax(1) == y).sum().item<int64_t>();
      if (events.on_step) events.on_step(step + 1, steps, l);
    }
    ClassifierEpoch e;
    e.epoch = epoch;
    e.epochs = o.epochs;
    e.train_loss = loss_sum / double(batches);
    e.train_accuracy = double(correct) / double(batches * o.batch_size);
    e.test_accuracy = classifier_accuracy(model, test_images, test_labels);
    e.seconds = std::chrono::duration<double>(clock::now() - epoch_start).count();
    result.test_accuracy = e.test_accuracy;
    if (events.on_epoch) events.on_epoch(e);
  }
  model->eval();
  result.model = model;
  result.seconds = std::chrono::duration<double>(clock::now() - start).count();
  return result;
}

}  // namespace ddpm
