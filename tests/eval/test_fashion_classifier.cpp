// The shipped Fashion-MNIST classifier: ≥ 90% test accuracy (issue #5), its feature shape, and
// errors that say how to get weights.
#include <gtest/gtest.h>

#include "data/fashion_mnist.h"
#include "data/transforms.h"
#include "eval/classifier_training.h"
#include "eval/fashion_classifier.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(FashionClassifier, ShippedWeightsReachNinetyPercentOnTheTestSet) {
  ASSERT_TRUE(std::filesystem::is_regular_file(default_classifier_path()))
      << default_classifier_path() << " is missing: the repository ships it";
  auto model = load_fashion_classifier(default_classifier_path(), torch::kCPU);
  auto fm = read_fashion_mnist(fashion_mnist_dir(""));
  auto images = pad_to_size(fm.test_images, kClassifierImageSize);
  const double accuracy = classifier_accuracy(model, images, fm.test_labels);
  EXPECT_GE(accuracy, 0.90) << "test accuracy " << accuracy;
  auto features = model->features(images.slice(0, 0, 8).to(torch::kFloat32) / 127.5 - 1);
  EXPECT_EQ(features.sizes(), (std::vector<int64_t>{8, kClassifierFeatureDims}));
  EXPECT_EQ(model->logits(features).sizes(), (std::vector<int64_t>{8, kClassifierClasses}));
}

TEST(FashionClassifier, ShippedWeightsAreSmall) {
  EXPECT_LT(std::filesystem::file_size(default_classifier_path()), 1u << 20);
}

TEST(FashionClassifier, MissingWeightsSayHowToMakeThem) {
  try {
    load_fashion_classifier("/nonexistent/c.safetensors", torch::kCPU);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ddpm train-classifier"), std::string::npos) << e.what();
  }
}

TEST(FashionClassifier, TrainingLearnsAndRoundTrips) {
  // A few hundred images and one epoch: far from 90%, but clearly above chance (10%).
  auto fm = read_fashion_mnist(fashion_mnist_dir(""));
  auto train = pad_to_size(fm.train_images.slice(0, 0, 1024), kClassifierImageSize);
  auto test = pad_to_size(fm.test_images.slice(0, 0, 500), kClassifierImageSize);
  ClassifierTrainingOptions o;
  o.epochs = 2;
  o.batch_size = 64;
  int64_t epochs_seen = 0;
  ClassifierTrainingEvents events;
  events.on_epoch = [&](const ClassifierEpoch& e) { epochs_seen = e.epoch; };
  auto result = train_fashion_classifier(o, train, fm.train_labels.slice(0, 0, 1024), test,
                                         fm.test_labels.slice(0, 0, 500), events);
  EXPECT_EQ(epochs_seen, 2);
  EXPECT_GT(result.test_accuracy, 0.4);

  test::TempDir dir;
  save_fashion_classifier(dir.path / "c.safetensors", result.model, {{"note", "test"}});
  auto loaded = load_fashion_classifier(dir.path / "c.safetensors", torch::kCPU);
  auto x = test.slice(0, 0, 4).to(torch::kFloat32) / 127.5 - 1;
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(test::tensors_close(loaded->forward(x), result.model->forward(x), 1e-6));
  EXPECT_THROW(train_fashion_classifier(o, train.slice(0, 0, 10).to(torch::kFloat32),
                                        fm.train_labels.slice(0, 0, 10), test,
                                        fm.test_labels.slice(0, 0, 500)),
               std::invalid_argument);
}

}  // namespace
}  // namespace ddpm
