// Presets: every one builds and runs; ddpm-cifar10 has exactly the DDPM CIFAR-10 parameter count;
// the fashion-mnist preset's training step cost.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "models/presets.h"
#include "models/unet.h"

namespace ddpm {
namespace {

TEST(Presets, DdpmCifar10HasTheDdpmParameterCount) {
  UNet model(model_preset("ddpm-cifar10"));
  EXPECT_EQ(count_parameters(*model), 35746307);  // google/ddpm-cifar10-32, 35.7M
}

TEST(Presets, EveryPresetBuildsAndRuns) {
  for (const auto& name : model_preset_names()) {
    SCOPED_TRACE(name);
    UNetConfig c = model_preset(name);
    c.sample_size = 16;  // tiny input; divisible by 2^(levels − 1) for every preset
    UNet model(c);
    model->eval();
    torch::NoGradGuard no_grad;
    auto x = torch::randn({2, c.in_channels, 16, 16});
    auto cond = c.conditioning == Conditioning::timestep ? torch::tensor({3.0, 700.0})
                                                         : torch::tensor({0.02, 0.95});
    auto y = model->forward(x, cond);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, c.out_channels, 16, 16}));
    EXPECT_TRUE(y.isfinite().all().item<bool>());
    std::cout << "[ preset   ] " << name << ": " << count_parameters(*model) << " parameters\n";
  }
}

TEST(Presets, UnknownNameListsAllowedNames) {
  try {
    model_preset("ddpm-cifar");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'ddpm-cifar'"), std::string::npos) << msg;
    for (const auto& name : model_preset_names())
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
}

TEST(Presets, BkIsKerasDdim) {
  EXPECT_EQ(model_preset("bk"), model_preset("keras-ddim"));
}

TEST(Presets, FashionMnistIsSmallAndQuick) {
  torch::manual_seed(0);
  UNet model(model_preset("fashion-mnist"));
  const int64_t params = count_parameters(*model);
  EXPECT_GT(params, 1000000);
  EXPECT_LT(params, 2000000);
  model->train();
  auto x = torch::randn({64, 1, 32, 32});
  auto t = torch::randint(1000, {64}).to(torch::kFloat32);
  auto step = [&] {
    model->zero_grad();
    auto loss = (model->forward(x, t) - x).square().mean();
    loss.backward();
  };
  // LibTorch defaults to one thread per physical core; time with every hardware thread.
  const int default_threads = torch::get_num_threads();
  const int threads = std::max<int>(1, int(std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  step();  // warm-up
  double best = 1e9;
  for (int i = 0; i < 2; ++i) {
    auto start = std::chrono::steady_clock::now();
    step();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  torch::set_num_threads(default_threads);
  std::cout << "[ timing   ] fashion-mnist: " << params << " parameters, forward+backward at batch "
            << "64 (32x32x1): " << best * 1e3 << " ms (best of 2, " << threads << " threads)\n";
}

}  // namespace
}  // namespace ddpm
