// Features of real images through the shipped classifier: FD of a set against itself is ~0, FD
// grows with added noise, two halves of the test set are close; and the network choice names
// both options when the classifier cannot take the images.
#include <gtest/gtest.h>

#include "data/fashion_mnist.h"
#include "data/transforms.h"
#include "eval/feature_net.h"
#include "eval/frechet_distance.h"
#include "eval/kid.h"

namespace ddpm {
namespace {

torch::Tensor noisy(const torch::Tensor& images, double sigma, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto x = images.to(torch::kFloat32) + sigma * 255.0 * torch::randn(images.sizes(), gen);
  return x.round().clamp(0, 255).to(torch::kUInt8);
}

TEST(FeatureNet, ClassifierFrechetDistanceIsZeroOnItselfAndGrowsWithNoise) {
  auto fm = read_fashion_mnist(fashion_mnist_dir(""));
  auto images = pad_to_size(fm.test_images.slice(0, 0, 1000), 32);
  auto net = make_feature_net({}, 1, 32, 32);
  EXPECT_EQ(net->name(), "fashion-mnist-classifier");
  auto clean = feature_statistics(extract_features(*net, images, 250));
  EXPECT_NEAR(frechet_distance(clean, clean), 0.0, 1e-8);
  double previous = 0;
  for (double sigma : {0.05, 0.1, 0.2, 0.4}) {
    const double d = frechet_distance(
        clean, feature_statistics(extract_features(*net, noisy(images, sigma, 1), 250)));
    EXPECT_GT(d, previous) << "sigma " << sigma;
    previous = d;
  }
  // Another 1000 real images sit much closer than the noisiest set.
  auto other = pad_to_size(fm.test_images.slice(0, 1000, 2000), 32);
  const double real =
      frechet_distance(clean, feature_statistics(extract_features(*net, other, 250)));
  EXPECT_LT(real, previous / 10) << "real " << real << " vs noisy " << previous;
}

TEST(FeatureNet, TakesUnpadded28PixelImagesAsPadded) {
  auto fm = read_fashion_mnist(fashion_mnist_dir(""));
  auto net = make_feature_net({}, 1, 28, 28);
  auto raw = fm.test_images.slice(0, 0, 16);
  auto a = extract_features(*net, raw, 16), b = extract_features(*net, pad_to_size(raw, 32), 16);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-5);
}

TEST(FeatureNet, ColourImagesWithoutInceptionNameBothOptions) {
  try {
    make_feature_net({}, 3, 64, 64);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--inception"), std::string::npos) << m;
    EXPECT_NE(m.find("Fashion-MNIST classifier"), std::string::npos) << m;
    EXPECT_NE(m.find("3x64x64"), std::string::npos) << m;
  }
  FeatureNetOptions o;
  o.inception_weights = "/nonexistent/inception.safetensors";
  EXPECT_THROW(make_feature_net(o, 3, 64, 64), std::runtime_error);
}

}  // namespace
}  // namespace ddpm
