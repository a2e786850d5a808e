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
#include "samplers/guidance.h"
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

// The class-conditional tiny UNet2DModel (num_class_embeds 5, class_embed_type null: an
// nn.Embedding added to the time embedding). Label 4 is the fixture's null class.
UNet tiny_cond_unet() {
  std::ifstream in(test::fixture("tiny-cond-unet/config.json"));
  UNet model(unet_config_from_diffusers(nlohmann::json::parse(in), "tiny-cond-unet/config.json"));
  load_state_dict(*model, test::load_fixture("tiny-cond-unet/diffusion_pytorch_model.safetensors"),
                  "tiny-cond-unet");
  model->eval();
  return model;
}

TEST(DiffusersParity, ClassConditionalForwardMatchesDiffusers) {
  auto model = tiny_cond_unet();
  EXPECT_EQ(model->config().num_class_embeds, 5);
  EXPECT_EQ(state_dict(*model).at("class_embedding.weight").sizes(),
            (std::vector<int64_t>{5, 128}));
  auto io = test::load_fixture("tiny-cond-unet/forward.safetensors");
  torch::NoGradGuard no_grad;
  auto eps = model->forward(io.at("x"), io.at("t"), io.at("class_labels"));
  auto check = test::tensors_close(eps, io.at("eps"), 1e-4);
  std::cout << "[ parity   ] tiny-cond-unet forward: " << check.message() << "\n";
  EXPECT_TRUE(check);
  // The labels matter: other labels give another output.
  auto other = model->forward(io.at("x"), io.at("t"), torch::zeros({3}, torch::kLong));
  EXPECT_FALSE(test::tensors_close(other, io.at("eps"), 1e-3));
}

// DDIM-10 (leading, η = 0, clip_sample) with classifier-free guidance at w = 2 around the
// network, conditional and null halves in one batched call: diffusers' x_0.
TEST(DiffusersParity, GuidedDDIMRunMatchesDiffusers) {
  auto model = tiny_cond_unet();
  auto ref = test::load_fixture("tiny-cond-unet/cfg-ddim-10-w2.0.safetensors");
  const double scale = ref.at("guidance_scale").item<double>();
  const int64_t null_class = ref.at("null_class").item<int64_t>();
  EXPECT_EQ(scale, 2.0);
  EXPECT_EQ(null_class, 4);
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto denoise = guided_denoise_fn(make_labelled_denoise_fn(model, schedule),
                                   {ref.at("class_labels"), scale, null_class});
  auto x0 = ddim_sample(denoise, schedule, DDIMOptions{},
                        inference_timesteps(TimestepSpacing::leading, 1000, 10), ref.at("x_T"), {});
  auto check = test::tensors_close(x0, ref.at("x_0"), 1e-3);
  std::cout << "[ parity   ] tiny-cond-unet guided DDIM-10 (w = 2): " << check.message() << "\n";
  EXPECT_TRUE(check);
}

TEST(ClassLabels, ModelsRefuseLabelsTheyCannotTake) {
  auto cond = tiny_cond_unet();
  UNet plain(tiny_unet_config());
  auto x = torch::zeros({2, 3, 16, 16});
  auto t = torch::zeros({2});
  torch::NoGradGuard no_grad;
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] {
              plain->forward(x, t, torch::zeros({2}, torch::kLong));
            }).find("not class-conditional"),
            std::string::npos);
  EXPECT_NE(message([&] { cond->forward(x, t); }).find("class labels are required"),
            std::string::npos);
  EXPECT_NE(message([&] {
              cond->forward(x, t, torch::tensor({0, 5}, torch::kLong));
            }).find("[0, 5)"),
            std::string::npos);
  EXPECT_NE(message([&] {
              cond->forward(x, t, torch::tensor({0.0, 1.0}));
            }).find("integers"),
            std::string::npos);
  EXPECT_NE(
      message([&] { cond->forward(x, t, torch::tensor({0}, torch::kLong)); }).find("shape [2]"),
      std::string::npos);
}

}  // namespace
}  // namespace ddpm
