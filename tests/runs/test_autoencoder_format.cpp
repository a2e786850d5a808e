// AutoencoderKL and VQModel against diffusers 0.21.4 itself (tests/fixtures/diffusers-0.21.4/
// tiny-autoencoder-kl/, tiny-vqmodel/: a forward of encode and decode on two images), the
// config.json reader and writer, and export → import.
#include "runs/autoencoder_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>

#include "models/state_dict.h"
#include "test_util.h"

namespace ddpm {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(AutoencoderFormat, KLMatchesDiffusers) {
  torch::NoGradGuard no_grad;
  auto ae = load_autoencoder(test::fixture("tiny-autoencoder-kl"), torch::kCPU);
  EXPECT_EQ(ae->config().kind, AutoencoderKind::kl);
  EXPECT_EQ(downsample_factor(ae->config()), 2);
  const auto ref = test::load_fixture("tiny-autoencoder-kl/autoencode.safetensors");
  const auto enc = ae->encode(ref.at("x"));
  for (const auto& [name, actual] :
       {std::pair{"latent_mean", enc.mean}, std::pair{"latent_logvar", enc.logvar},
        std::pair{"reconstruction", ae->decode(enc.mean)}}) {
    const auto check = test::tensors_close(actual, ref.at(name), 1e-4);
    std::cout << "[ parity   ] tiny-autoencoder-kl " << name << ": " << check.message() << "\n";
    EXPECT_TRUE(check) << name;
  }
}

TEST(AutoencoderFormat, VQMatchesDiffusersWithTheQuantizerInsideDecode) {
  torch::NoGradGuard no_grad;
  auto ae = load_autoencoder(test::fixture("tiny-vqmodel"), torch::kCPU);
  EXPECT_EQ(ae->config().kind, AutoencoderKind::vq);
  EXPECT_EQ(ae->config().num_vq_embeddings, 32);
  const auto ref = test::load_fixture("tiny-vqmodel/autoencode.safetensors");
  const auto enc = ae->encode(ref.at("x"));
  EXPECT_FALSE(enc.logvar.defined());
  const auto q = ae->quantize(enc.mean);
  for (const auto& [name, actual] :
       {std::pair{"latents", enc.mean}, std::pair{"quantized", q.quantized},
        std::pair{"reconstruction", ae->decode(enc.mean)}}) {
    const auto check = test::tensors_close(actual, ref.at(name), 1e-4);
    std::cout << "[ parity   ] tiny-vqmodel " << name << ": " << check.message() << "\n";
    EXPECT_TRUE(check) << name;
  }
  // Every quantized vector is the codebook entry its index names.
  const auto codebook = state_dict(*ae).at("quantize.embedding.weight");  // [32, 3]
  const auto picked =
      codebook.index_select(0, q.indices.flatten()).view({2, 16, 16, 3}).permute({0, 3, 1, 2});
  EXPECT_TRUE(test::tensors_close(q.quantized, picked, 1e-6));
}

TEST(AutoencoderFormat, ConfigRoundTripsThroughDiffusersKeys) {
  for (const char* dir : {"tiny-autoencoder-kl", "tiny-vqmodel"}) {
    std::ifstream in(test::fixture(std::string(dir) + "/config.json"));
    const json original = json::parse(in);
    const auto c = autoencoder_config_from_diffusers(original, dir);
    json written = autoencoder_config_to_diffusers(c);
    // Every key diffusers wrote is written back with the same value.
    for (const auto& [key, value] : original.items())
      EXPECT_EQ(written.at(key), value) << dir << ": " << key;
    const auto again = autoencoder_config_from_diffusers(written, "written");
    EXPECT_EQ(again.block_out_channels, c.block_out_channels);
    EXPECT_EQ(again.kind, c.kind);
    EXPECT_EQ(again.vq_embed_dim, c.vq_embed_dim);
    EXPECT_EQ(again.scaling_factor, c.scaling_factor);
  }
}

TEST(AutoencoderFormat, AbsentKeysTakeTheClassDefaults) {
  const auto kl = autoencoder_config_from_diffusers(json{{"_class_name", "AutoencoderKL"}}, "x");
  EXPECT_EQ(kl.latent_channels, 4);
  EXPECT_EQ(kl.block_out_channels, std::vector<int64_t>{64});
  const auto vq = autoencoder_config_from_diffusers(json{{"_class_name", "VQModel"}}, "x");
  EXPECT_EQ(vq.kind, AutoencoderKind::vq);
  EXPECT_EQ(vq.latent_channels, 3);
  EXPECT_EQ(vq.num_vq_embeddings, 256);
  EXPECT_EQ(codebook_dim(vq), 3);
}

TEST(AutoencoderFormat, ConfigsItCannotBuildAreErrorsNamingTheKey) {
  auto err = [](const json& j) {
    return error_of([&] { autoencoder_config_from_diffusers(j, "vae/config.json"); });
  };
  EXPECT_THAT(err(json{{"_class_name", "UNet2DModel"}}), HasSubstr("AutoencoderKL"));
  EXPECT_THAT(err(json{{"act_fn", "gelu"}}), HasSubstr("act_fn"));
  EXPECT_THAT(err(json{{"_class_name", "VQModel"}, {"norm_type", "spatial"}}),
              HasSubstr("norm_type"));
  EXPECT_THAT(err(json{{"block_out_channels", {32, 64}},
                       {"down_block_types", {"DownEncoderBlock2D", "AttnDownEncoderBlock2D"}}}),
              HasSubstr("down_block_types[1]"));
  EXPECT_THAT(err(json{{"latent_channels", -4}}), HasSubstr("latent_channels"));
  EXPECT_THAT(err(json{{"block_out_channels", {30}}}), HasSubstr("norm_num_groups"));
  EXPECT_THAT(err(json{{"sample_size", 30}, {"block_out_channels", {32, 32, 32}}}),
              HasSubstr("sample_size"));
  EXPECT_THAT(err(json{{"latent_chanels", 4}}), HasSubstr("latent_chanels"));
  EXPECT_THAT(err(json::array()), HasSubstr("vae/config.json"));
}

TEST(AutoencoderFormat, ExportThenImportIsBitExact) {
  test::TempDir dir;
  for (const char* name : {"tiny-autoencoder-kl", "tiny-vqmodel"}) {
    auto ae = load_autoencoder(test::fixture(name), torch::kCPU);
    save_autoencoder(ae, dir.path / name);
    auto back = load_autoencoder(dir.path / name, torch::kCPU);
    const auto a = state_dict(*ae), b = state_dict(*back);
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [key, t] : a) EXPECT_TRUE(torch::equal(t, b.at(key))) << name << " " << key;
  }
}

TEST(AutoencoderFormat, AFolderWithoutWeightsIsAnErrorNamingIt) {
  test::TempDir dir;
  std::ofstream(dir.path / "config.json") << R"({"_class_name": "AutoencoderKL"})";
  EXPECT_THAT(error_of([&] { load_autoencoder(dir.path, torch::kCPU); }),
              HasSubstr("diffusion_pytorch_model.safetensors"));
}

}  // namespace
}  // namespace ddpm
