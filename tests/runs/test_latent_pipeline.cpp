// Latent diffusion pipelines read by load_model: diffusers 0.21.4's LDMPipeline (vqvae + unet +
// scheduler, tests/fixtures/diffusers-0.21.4/tiny-ldm-vq-pipeline/ with its own 5-step DDIM run)
// and the Stable Diffusion layout (vae + unet + scheduler, latents divided by scaling_factor
// before decoding), through the model's codec.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "core/timesteps.h"
#include "io/python_json.h"
#include "models/state_dict.h"
#include "runs/autoencoder_format.h"
#include "runs/diffusers_format.h"
#include "runs/generate.h"
#include "runs/model_loading.h"
#include "samplers/sampler_registry.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

void copy_folder(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  fs::copy(from, to, fs::copy_options::recursive);
  fs::permissions(to, fs::perms::owner_all, fs::perm_options::add);
}

TEST(LatentPipeline, LDMPipelineDDIMRunMatchesDiffusers) {
  const fs::path pipe = test::fixture("tiny-ldm-vq-pipeline");
  auto loaded = load_model(pipe, WeightsKind::ema, torch::kCPU);
  EXPECT_EQ(loaded.layout, ModelLayout::diffusers_pipeline);
  ASSERT_TRUE(loaded.codec.is_latent());
  EXPECT_EQ(loaded.codec.latent_scale(), 1.0);  // LDMPipeline decodes vqvae latents unscaled
  EXPECT_EQ(loaded.codec.downsample(), 2);
  EXPECT_EQ(loaded.config.data.image_size, 32);  // the decoded images, not the 16² latents
  EXPECT_EQ(loaded.config.data.channels, 3);
  EXPECT_EQ(read_model_config(pipe).data.image_size, 32);

  const auto ref = test::load_fixture("tiny-ldm-vq-pipeline/ddim-5.safetensors");
  SamplingConfig sampling = loaded.config.sampling;  // the pipeline's DDIMScheduler, η = 0
  sampling.sampler.steps = 5;
  const auto timesteps = sampler_timesteps(sampling.sampler, loaded.schedule);
  ASSERT_EQ(int64_t(timesteps.size()), ref.at("timesteps").numel());
  for (size_t i = 0; i < timesteps.size(); ++i)
    EXPECT_EQ(timesteps[i], ref.at("timesteps")[i].item<double>());
  GenerateRequest request;
  request.x_T = ref.at("x_T");
  request.count = request.x_T.size(0);
  const auto latents =
      generate(loaded.model, loaded.schedule, loaded.config.prediction_type, sampling, request);
  const auto check = test::tensors_close(latents, ref.at("latents"), 1e-3);
  std::cout << "[ parity   ] tiny-ldm-vq-pipeline DDIM-5 latents: " << check.message() << "\n";
  EXPECT_TRUE(check);
  const auto x0 = loaded.codec.decode(latents);
  const auto decoded = test::tensors_close(x0, ref.at("x_0"), 1e-3);
  std::cout << "[ parity   ] tiny-ldm-vq-pipeline DDIM-5 x_0: " << decoded.message() << "\n";
  EXPECT_TRUE(decoded);
}

// A vae/ + unet/ + scheduler/ folder: latents are divided by the VAE's scaling_factor before
// decoding, and images encode to mean · scaling_factor.
TEST(LatentPipeline, VaeLayoutScalesLatentsByTheScalingFactor) {
  test::TempDir dir;
  const fs::path pipe = dir.path / "pipe";
  copy_folder(test::fixture("tiny-autoencoder-kl"), pipe / "vae");
  fs::remove(pipe / "vae" / "autoencode.safetensors");
  copy_folder(test::fixture("tiny-ldm-vq-pipeline/scheduler"), pipe / "scheduler");
  auto unet_json = read_json(test::fixture("tiny-ldm-vq-pipeline/unet/config.json"));
  unet_json["in_channels"] = 4;
  unet_json["out_channels"] = 4;
  fs::create_directories(pipe / "unet");
  std::ofstream(pipe / "unet" / "config.json") << unet_json.dump(2);
  UNet unet(unet_config_from_diffusers(unet_json, "unet"));
  write_safetensors(pipe / "unet" / "diffusion_pytorch_model.safetensors", state_dict(*unet));
  std::ofstream(pipe / "model_index.json")
      << nlohmann::json{{"_class_name", "MyLatentPipeline"},
                        {"scheduler", {"diffusers", "DDIMScheduler"}},
                        {"unet", {"diffusers", "UNet2DModel"}},
                        {"vae", {"diffusers", "AutoencoderKL"}}};
  auto loaded = load_model(pipe, WeightsKind::ema, torch::kCPU);
  ASSERT_TRUE(loaded.codec.is_latent());
  EXPECT_DOUBLE_EQ(loaded.codec.latent_scale(), 0.18215);
  auto ae = load_autoencoder(test::fixture("tiny-autoencoder-kl"), torch::kCPU);
  torch::NoGradGuard no_grad;
  const auto z = torch::randn({2, 4, 16, 16});
  EXPECT_TRUE(test::tensors_close(loaded.codec.decode(z), ae->decode(z / 0.18215), 1e-6));
  const auto ref = test::load_fixture("tiny-autoencoder-kl/autoencode.safetensors");
  const auto images = ((ref.at("x") + 1) * 127.5).round().clamp(0, 255).to(torch::kUInt8);
  const auto encoded = loaded.codec.encode(images);
  const auto x = images.to(torch::kFloat32) / 127.5 - 1;
  EXPECT_TRUE(test::tensors_close(encoded, ae->encode(x).mean * 0.18215, 1e-6));
  // to_uint8 is decode, then the [-1, 1] pixels rounded.
  EXPECT_EQ(loaded.codec.to_uint8(z).sizes(), (std::vector<int64_t>{2, 3, 32, 32}));

  // The vae's latent channels and the unet's must agree; the error names the pipeline folder.
  unet_json["in_channels"] = 3;
  unet_json["out_channels"] = 3;
  std::ofstream(pipe / "unet" / "config.json") << unet_json.dump(2);
  const auto err = error_of([&] { load_model(pipe, WeightsKind::ema, torch::kCPU); });
  EXPECT_THAT(err, HasSubstr(pipe.string()));
  EXPECT_THAT(err, HasSubstr("4 latent channels"));
  // A listed component that is missing is named.
  fs::remove_all(pipe / "vae");
  EXPECT_THAT(error_of([&] { load_model(pipe, WeightsKind::ema, torch::kCPU); }),
              HasSubstr("lists vae but the folder"));
}

}  // namespace
}  // namespace ddpm
