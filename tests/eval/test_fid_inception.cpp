// The FID Inception-v3 against the reference implementation (torchvision 0.14's Inception3
// patched as pytorch-fid does), run by tests/fixtures/make_inception_fixture.py on weights both
// sides compute from one formula: the fixture holds two input images and the outputs of every
// block, not the 95 MB of weights.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/feature_net.h"
#include "eval/fid_inception.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace ddpm {
namespace {

uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// u_i = splitmix64(fnv1a64(name) + (i+1)·φ₆₄) >> 11 · 2⁻⁵³, as uniform() in the script.
std::vector<double> deterministic_uniform(const std::string& name, int64_t n) {
  std::vector<double> u(n);
  const uint64_t h = fnv1a64(name);
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z = h + uint64_t(i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    u[i] = double(z >> 11) * 0x1.0p-53;
  }
  return u;
}

// fill() of the script: the value formula per kind of tensor.
torch::Tensor fill(const std::string& name, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  auto u = deterministic_uniform(name, n);
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) {
    double x;
    if (ends_with("conv.weight") || name == "fc.weight")
      x = (2 * u[i] - 1) * std::sqrt(6.0 / double(n / shape[0]));
    else if (ends_with("bn.weight"))
      x = 0.8 + 0.4 * u[i];
    else if (ends_with("bn.bias") || ends_with("running_mean") || name == "fc.bias")
      x = 0.2 * (2 * u[i] - 1);
    else
      x = 0.5 + u[i];  // running_var
    v[i] = float(x);
  }
  return torch::from_blob(v.data(), shape, torch::kFloat32).clone();
}

TensorMap deterministic_weights() {
  TensorMap weights;
  for (const auto& [name, shape] : FIDInception::parameter_shapes())
    weights[name] = fill(name, shape);
  return weights;
}

TEST(FIDInception, HasTheParametersOfPytorchFid) {
  const auto shapes = FIDInception::parameter_shapes();
  int64_t params = 0;
  for (const auto& [name, shape] : shapes) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    params += n;
  }
  // 94 BasicConv2d (conv + 4 BatchNorm tensors) + fc.weight + fc.bias.
  EXPECT_EQ(shapes.size(), 94u * 5 + 2);
  // torchvision's Inception3(num_classes=1008, aux_logits=False): 23,850,960 parameters and
  // 34,432 BatchNorm running statistics (num_batches_tracked excluded).
  EXPECT_EQ(params, 23850960 + 34432);
}

TEST(FIDInception, MatchesTheReferenceImplementationOnDeterministicWeights) {
  const auto fixture =
      read_safetensors(test::repo_fixture("fid_inception_random.safetensors")).tensors;
  FIDInception net(deterministic_weights(), "deterministic", torch::kCPU);
  auto images01 = ((fixture.at("images") + 1) / 2).repeat({1, 3, 1, 1});  // [2, 3, 32, 32]
  auto blocks = net.blocks(images01);
  ASSERT_EQ(blocks.size(), 4u);
  EXPECT_EQ(blocks[0].sizes(), (std::vector<int64_t>{2, 64, 73, 73}));
  EXPECT_EQ(blocks[1].sizes(), (std::vector<int64_t>{2, 192, 35, 35}));
  EXPECT_EQ(blocks[2].sizes(), (std::vector<int64_t>{2, 768, 17, 17}));
  EXPECT_EQ(blocks[3].sizes(), (std::vector<int64_t>{2, 2048, 1, 1}));
  EXPECT_TRUE(test::tensors_close(blocks[0].mean({2, 3}), fixture.at("block0_mean"), 1e-4));
  EXPECT_TRUE(test::tensors_close(blocks[1].mean({2, 3}), fixture.at("block1_mean"), 1e-4));
  EXPECT_TRUE(test::tensors_close(blocks[2].mean({2, 3}), fixture.at("block2_mean"), 1e-4));
  auto pool3 = blocks[3].flatten(1);
  EXPECT_TRUE(test::tensors_close(pool3, fixture.at("pool3"), 1e-4));
  EXPECT_TRUE(test::tensors_close(net.logits_unbiased(pool3), fixture.at("logits_unbiased"), 1e-4));
  // The two images must differ in features, or the comparison would prove little.
  EXPECT_GT((pool3[0] - pool3[1]).abs().max().item<double>(), 0.1);
}

TEST(FIDInception, FeatureNetFeedsGrayscaleAsRgbIn01) {
  // The feature-net wrapper takes [-1, 1] model-space images with 1 channel; a file of the
  // deterministic weights stands in for the converted pytorch-fid weights.
  test::TempDir dir;
  const auto path = dir.path / "inception.safetensors";
  write_safetensors(path, deterministic_weights());
  FeatureNetOptions o;
  o.inception_weights = path.string();
  o.device = "cpu";
  auto net = make_feature_net(o, 1, 32, 32);
  EXPECT_EQ(net->name(), "fid-inception-v3");
  EXPECT_EQ(net->feature_dims(), 2048);
  const auto fixture =
      read_safetensors(test::repo_fixture("fid_inception_random.safetensors")).tensors;
  EXPECT_TRUE(test::tensors_close(net->features(fixture.at("images")), fixture.at("pool3"), 1e-4));
}

TEST(FIDInception, WeightErrorsNameTheTensor) {
  auto weights = deterministic_weights();
  weights.erase("Mixed_6c.branch7x7dbl_3.conv.weight");
  try {
    FIDInception net(weights, "w.safetensors", torch::kCPU);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("Mixed_6c.branch7x7dbl_3.conv.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("convert_fid_inception.py"), std::string::npos) << m;
  }
  weights = deterministic_weights();
  weights["fc.bias"] = torch::zeros({1000});
  EXPECT_THROW(FIDInception(weights, "w", torch::kCPU), std::invalid_argument);
  weights = deterministic_weights();
  weights["AuxLogits.fc.weight"] = torch::zeros({1});
  EXPECT_THROW(FIDInception(weights, "w", torch::kCPU), std::invalid_argument);
  weights = deterministic_weights();
  weights["Conv2d_1a_3x3.bn.num_batches_tracked"] = torch::zeros({}, torch::kLong);
  EXPECT_NO_THROW(FIDInception(weights, "w", torch::kCPU)) << "num_batches_tracked is ignored";
}

}  // namespace
}  // namespace ddpm
