// Precision / AutocastScope (models/precision.h) and the denoiser under autocast; the CUDA-graph
// denoiser's behaviour in a build or on a machine without CUDA.
#include <gtest/gtest.h>

#include <ATen/autocast_mode.h>

#include "core/noise_schedule.h"
#include "models/cuda_graph_denoiser.h"
#include "models/denoiser.h"
#include "models/precision.h"
#include "models/presets.h"

namespace ddpm {
namespace {

// The fashion-mnist architecture at 16×16, with a non-zero output layer, seeded.
UNet small_model() {
  UNetConfig config = model_preset("fashion-mnist");
  config.sample_size = 16;
  config.zero_init_out = false;
  torch::manual_seed(3);
  UNet model(config);
  model->eval();
  return model;
}

TEST(Precision, ParsesItsNamesAndListsThemOnError) {
  EXPECT_EQ(parse_enum<Precision>("bf16"), Precision::bf16);
  EXPECT_EQ(to_string(Precision::fp16), "fp16");
  try {
    parse_enum<Precision>("fp8");
    FAIL() << "fp8 parsed";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("allowed: fp32, bf16, fp16"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(autocast_dtype(Precision::fp32), torch::kFloat32);
  EXPECT_EQ(autocast_dtype(Precision::bf16), torch::kBFloat16);
  EXPECT_EQ(autocast_dtype(Precision::fp16), torch::kHalf);
}

TEST(Precision, Fp16OnTheCpuIsRefusedWithTheAlternatives) {
  EXPECT_NO_THROW(check_precision(Precision::bf16, torch::kCPU));
  EXPECT_NO_THROW(check_precision(Precision::fp32, torch::kCPU));
  try {
    check_precision(Precision::fp16, torch::kCPU);
    FAIL() << "fp16 accepted on the CPU";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("use bf16 or fp32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(AutocastScope(Precision::fp16, torch::kCPU), std::invalid_argument);
}

TEST(Precision, AutocastScopeCastsMatrixProductsAndRestoresTheState) {
  auto a = torch::randn({8, 8});
  auto b = torch::randn({8, 8});
  ASSERT_FALSE(at::autocast::is_cpu_enabled());
  {
    AutocastScope fp32(Precision::fp32, torch::kCPU);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32);
  }
  {
    AutocastScope bf16(Precision::bf16, torch::kCPU);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    {
      AutocastScope nested(Precision::bf16, torch::kCPU);
      EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    }
    EXPECT_TRUE(at::autocast::is_cpu_enabled());  // the inner scope restored, not cleared
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32);
}

TEST(Precision, Bf16DenoiserReturnsFloat32CloseToTheFloat32One) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  UNet model = small_model();
  auto x = torch::randn({2, 1, 16, 16});
  auto t = torch::tensor({int64_t(10), int64_t(800)});
  auto full = make_denoise_fn(model, schedule, Precision::fp32)(x, t);
  auto half = make_denoise_fn(model, schedule, Precision::bf16)(x, t);
  ASSERT_EQ(half.scalar_type(), torch::kFloat32);
  ASSERT_EQ(half.sizes(), full.sizes());
  // bfloat16 keeps 8 significant bits (relative rounding 2^-9 ≈ 0.2% per product); through the
  // ~30 layers of a freshly initialised network (small outputs, much cancellation) the output
  // moves by ~6% in relative L2 (LibTorch 1.13); a mishandled dtype would move it by ~100%. It
  // must move at all: the casts happened.
  const double relative = ((half - full).norm() / full.norm()).item<double>();
  EXPECT_GT(relative, 1e-4);
  EXPECT_LT(relative, 0.15) << "‖bf16 − fp32‖ / ‖fp32‖";
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_THROW(make_denoise_fn(model, schedule, Precision::fp16), std::invalid_argument);
}

TEST(CudaGraphDenoiser, RefusesAModelOffTheGpuOrABuildWithoutCuda) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  UNet model = small_model();  // on the CPU
  try {
    make_cuda_graph_denoise_fn(model, schedule);
    FAIL() << "a CUDA graph was made for a CPU model";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
  if (!torch::cuda::is_available()) {
    EXPECT_FALSE(cuda_graphs_available());
  }
}

// The replayed graph computes what the eager network computes. Needs a CUDA build and a GPU.
TEST(CudaGraphDenoiser, ReplayEqualsEagerOnTheGpu) {
  if (!cuda_graphs_available()) GTEST_SKIP() << "no CUDA build or no GPU visible";
  auto schedule = make_noise_schedule(ScheduleConfig{});
  UNet model = small_model();
  model->to(torch::kCUDA);
  auto eager = make_denoise_fn(model, schedule);
  auto graphed = make_cuda_graph_denoise_fn(model, schedule);
  for (int64_t step : {999, 500, 3}) {  // the same graph replayed with new inputs
    auto x = torch::randn({4, 1, 16, 16}, torch::kCUDA);
    auto t =
        torch::full({4}, step, torch::TensorOptions().dtype(torch::kLong).device(torch::kCUDA));
    EXPECT_LT((graphed(x, t) - eager(x, t)).abs().max().item<double>(), 1e-5) << "t = " << step;
  }
}

}  // namespace
}  // namespace ddpm
