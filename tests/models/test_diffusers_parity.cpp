// Golden test against diffusers 0.21.4: the tiny UNet2DModel fixture (config.json beside the
// weights) loads name for name, and our forward matches diffusers' output. (The whole loader,
// folder to forward pass, is tested in tests/runs/test_model_loading.cpp.)
#include <gtest/gtest.h>

#include <fstream>

#include "core/timesteps.h"
#include "models/denoiser.h"
#include "models/presets.h"
#include "models/state_dict.h"
#include "models/unet.h"
#include "runs/diffusers_format.h"
#include "samplers/ddim.h"
#include "test_util.h"

namespace ddpm {
namespace {

// diffusers' tiny-unet/config.json read by the project's diffusers config reader
// (runs/diffusers_format.h), as `ddpm sample --model tiny-unet` reads it.
UNetConfig tiny_unet_config() {
  std::ifstream in(test::fixture("tiny-unet/config.json"));
  return unet_config_from_diffusers(nlohmann::json::parse(in), "tiny-unet/config.json");
}

TEST(DiffusersParity, StateDictMatchesFixtureKeysAndShapes) {
  UNet model(tiny_unet_config());
  auto ours = state_dict(*model);
  auto theirs = test::load_fixture("tiny-unet/diffusion_pytorch_model.safetensors");
  std::vector<std::string> missing, extra;
  for (const auto& [name, t] : theirs)
    if (!ours.count(name)) missing.push_back(name);
  for (const auto& [name, t] : ours)
    if (!theirs.count(name)) extra.push_back(name);
  EXPECT_TRUE(missing.empty()) << "not in our model: "
                               << fmt::format("{}", fmt::join(missing, ", "));
  EXPECT_TRUE(extra.empty()) << "not in diffusers: " << fmt::format("{}", fmt::join(extra, ", "));
  for (const auto& [name, t] : theirs) {
    if (ours.count(name)) {
      EXPECT_EQ(ours.at(name).sizes(), t.sizes()) << name;
    }
  }
  EXPECT_EQ(count_parameters(*model), 702499);
}

TEST(DiffusersParity, ForwardMatchesDiffusers) {
  UNet model(tiny_unet_config());
  load_state_dict(*model, test::load_fixture("tiny-unet/diffusion_pytorch_model.safetensors"),
                  "tiny-unet");
  model->eval();
  auto io = test::load_fixture("tiny-unet/forward.safetensors");
  torch::NoGradGuard no_grad;
  auto eps = model->forward(io.at("x"), io.at("t"));  // t int64 → float, as diffusers
  auto check = test::tensors_close(eps, io.at("eps"), 1e-4);
  std::cout << "[ parity   ] tiny-unet forward: " << check.message() << "\n";
  EXPECT_TRUE(check);
}

// diffusers' DDIMScheduler (10 steps, leading spacing, steps_offset 0, η = 0, clip_sample,
// set_alpha_to_one) driving the same UNet from the same x_T: same timesteps, same x_0.
TEST(DiffusersParity, DDIMRunMatchesDiffusers) {
  UNet model(tiny_unet_config());
  load_state_dict(*model, test::load_fixture("tiny-unet/diffusion_pytorch_model.safetensors"),
                  "tiny-unet");
  model->eval();
  auto ref = test::load_fixture("tiny-unet/ddim-10-leading.safetensors");
  auto timesteps = inference_timesteps(TimestepSpacing::leading, 1000, 10);
  auto ref_t = ref.at("timesteps");
  ASSERT_EQ(int64_t(timesteps.size()), ref_t.numel());
  for (size_t i = 0; i < timesteps.size(); ++i) EXPECT_EQ(timesteps[i], ref_t[i].item<int64_t>());

  auto schedule = make_noise_schedule(ScheduleConfig{});
  DDIMOptions options;  // η = 0, clip to [-1, 1], ᾱ_prev = 1 after the last step
  auto x0 = ddim_sample(make_denoise_fn(model, schedule), schedule, options, timesteps,
                        ref.at("x_T"), {});
  auto check = test::tensors_close(x0, ref.at("x_0"), 1e-3);
  std::cout << "[ parity   ] tiny-unet DDIM-10: " << check.message() << "\n";
  EXPECT_TRUE(check);
}

}  // namespace
}  // namespace ddpm
