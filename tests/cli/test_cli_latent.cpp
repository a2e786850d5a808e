// Latent diffusion end to end, as a user runs it: ddpm train-autoencoder on a small folder
// (resume exact, reconstruction grid, PSNR, scaling factor), ddpm autoencode, ddpm train
// --autoencoder (the UNet follows the latents, latents cached), ddpm sample --save-tensor
// (latents and decoded x_0), export to the vae/unet/scheduler layout and back bit-exact, and the
// errors a latent model gives where only pixels make sense.
#include <gtest/gtest.h>

#include <fstream>

#include "cli_runner.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "models/state_dict.h"
#include "runs/autoencoder_format.h"
#include "runs/checkpoint.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::contains;
using test::run_ddpm;

// 24 random 32×32 gray PNGs with some structure (a bright square each) to reconstruct.
fs::path gray_folder(const fs::path& root) {
  torch::manual_seed(3);
  const fs::path dir = root / "gray";
  fs::create_directories(dir);
  for (int i = 0; i < 24; ++i) {
    auto image = torch::randint(0, 64, {1, 32, 32}, torch::kUInt8);
    image.slice(1, 4 + i % 8, 20 + i % 8).slice(2, 8, 24).fill_(220);
    write_png(dir / fmt::format("img{:02d}.png", i), image);
  }
  return dir;
}

// A tiny AutoencoderKL recipe over that folder: 32 → 8×8×4 in milliseconds per step.
fs::path tiny_autoencoder_config(const fs::path& root) {
  const fs::path path = root / "ae.json";
  std::ofstream(path) << json{
      {"model", {{"block_out_channels", {8, 8, 8}}, {"norm_num_groups", 4}}},
      {"training",
       {{"batch_size", 4},
        {"sample_every", 0},
        {"checkpoint_every", 3},
        {"log_every", 1},
        {"sample_images", 4},
        {"eval_images", 8},
        {"scale_images", 16},
        {"warmup_steps", 0}}}};
  return path;
}

TEST(CliLatent, TrainAutoencoderResumesExactlyAndWritesTheDiffusersFolder) {
  test::TempDir dir;
  const auto data = gray_folder(dir.path);
  const auto config = tiny_autoencoder_config(dir.path);
  const auto straight = dir.path / "straight", split = dir.path / "split";
  auto r = run_ddpm({"train-autoencoder", "--data", data.string(), "--config", config.string(),
                     "--out", straight.string(), "--steps", "6", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "PSNR")) << r.output;
  EXPECT_TRUE(contains(r.output, "4x8x8 latents")) << r.output;
  r = run_ddpm({"train-autoencoder", "--data", data.string(), "--config", config.string(), "--out",
                split.string(), "--steps", "3", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_ddpm(
      {"train-autoencoder", "--out", split.string(), "--resume", "--steps", "6", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "resumed")) << r.output;
  // Resume continues exactly: the same weights as one straight run.
  for (const char* file : {"model.safetensors", "ema.safetensors"}) {
    const auto a = read_safetensors(straight / "checkpoints/latest" / file).tensors;
    const auto b = read_safetensors(split / "checkpoints/latest" / file).tensors;
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_TRUE(torch::equal(t, b.at(name))) << file << name;
  }
  // The diffusers folder with the measured scale, metrics and a reconstruction grid.
  std::ifstream metrics_file(straight / "metrics.json");
  const auto metrics = json::parse(metrics_file);
  EXPECT_GT(metrics.at("psnr_db").get<double>(), 0);
  auto ae = load_autoencoder(straight / "autoencoder", torch::kCPU);
  EXPECT_DOUBLE_EQ(ae->config().scaling_factor, metrics.at("scaling_factor").get<double>());
  EXPECT_NEAR(ae->config().scaling_factor * metrics.at("latent_std").get<double>(), 1.0, 1e-12);
  EXPECT_TRUE(fs::exists(straight / "samples" / "step_000006.png"));
  EXPECT_TRUE(fs::exists(straight / "log.csv"));

  // ddpm autoencode on the run: the contract's tensors.
  const auto input = dir.path / "x.safetensors";
  write_safetensors(input, {{"x", torch::rand({3, 1, 32, 32}) * 2 - 1}});
  const auto out = dir.path / "ae-out.safetensors";
  r = run_ddpm({"autoencode", "--model", straight.string(), "--input", input.string(),
                "--save-tensor", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto t = read_safetensors(out).tensors;
  EXPECT_EQ(t.at("latent_mean").sizes(), (std::vector<int64_t>{3, 4, 8, 8}));
  EXPECT_EQ(t.at("latent_logvar").sizes(), (std::vector<int64_t>{3, 4, 8, 8}));
  EXPECT_EQ(t.at("reconstruction").sizes(), (std::vector<int64_t>{3, 1, 32, 32}));
  // A wrong input is named.
  write_safetensors(input, {{"x", torch::rand({3, 3, 32, 32})}});
  r = run_ddpm({"autoencode", "--model", straight.string(), "--input", input.string(),
                "--save-tensor", out.string()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "x must be a float tensor [B, 1, H, W]")) << r.output;
  // A diffusion command on the autoencoder run says what it is.
  r = run_ddpm({"sample", "--model", straight.string(), "--n", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "autoencoder run")) << r.output;
}

TEST(CliLatent, TrainSampleAndExportALatentModel) {
  test::TempDir dir;
  const auto data = gray_folder(dir.path);
  const auto ae_run = dir.path / "ae";
  auto r = run_ddpm({"train-autoencoder", "--data", data.string(), "--config",
                     tiny_autoencoder_config(dir.path).string(), "--out", ae_run.string(),
                     "--steps", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // The UNet follows the latents (4 channels, 8×8) whatever the preset says.
  const auto unet_config = dir.path / "unet.json";
  std::ofstream(unet_config) << json{{"model", test::tiny_model_json()},
                                     {"training",
                                      {{"steps", 3},
                                       {"batch_size", 4},
                                       {"sample_images", 4},
                                       {"sample_steps", 2},
                                       {"sample_every", 0},
                                       {"checkpoint_every", 3},
                                       {"log_every", 1}}}};
  const auto run = dir.path / "latent";
  r = run_ddpm({"train", "--autoencoder", ae_run.string(), "--data", data.string(), "--config",
                unet_config.string(), "--out", run.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "latent diffusion")) << r.output;
  std::ifstream config_file(run / "config.json");
  const auto config = json::parse(config_file);
  EXPECT_EQ(config.at("model").at("in_channels"), 4);
  EXPECT_EQ(config.at("model").at("out_channels"), 4);
  EXPECT_EQ(config.at("model").at("sample_size"), 8);
  EXPECT_EQ(config.at("data").at("image_size"), 32);
  EXPECT_TRUE(fs::exists(run / "autoencoder" / "diffusion_pytorch_model.safetensors"));
  EXPECT_TRUE(fs::exists(run / "latents.safetensors"));

  // Sampling writes the latents and their decodes.
  const auto s1 = dir.path / "s1.safetensors";
  r = run_ddpm({"sample", "--model", run.string(), "--n", "2", "--steps", "3", "--save-tensor",
                s1.string(), "--out", (dir.path / "grid.png").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto a = read_safetensors(s1).tensors;
  EXPECT_EQ(a.at("latents").sizes(), (std::vector<int64_t>{2, 4, 8, 8}));
  EXPECT_EQ(a.at("x_0").sizes(), (std::vector<int64_t>{2, 1, 32, 32}));
  const auto grid = read_image((dir.path / "grid.png").string());
  EXPECT_EQ(grid.size(0), 1);   // decoded to the autoencoder's gray images
  EXPECT_EQ(grid.size(1), 36);  // one row of two 32 px cells, 2 px padding
  EXPECT_EQ(grid.size(2), 70);

  // Export → a vae/unet/scheduler pipeline that samples the same, bit for bit.
  const auto exported = dir.path / "exported";
  r = run_ddpm(
      {"export", "--model", run.string(), "--format", "diffusers", "--out", exported.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* part : {"model_index.json", "unet/config.json", "vae/config.json",
                           "scheduler/scheduler_config.json"})
    EXPECT_TRUE(fs::exists(exported / part)) << part;
  const auto s2 = dir.path / "s2.safetensors";
  r = run_ddpm({"sample", "--model", exported.string(), "--n", "2", "--steps", "3", "--sampler",
                "ddim", "--save-tensor", s2.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto b = read_safetensors(s2).tensors;
  EXPECT_TRUE(torch::equal(a.at("latents"), b.at("latents")));
  EXPECT_TRUE(torch::equal(a.at("x_0"), b.at("x_0")));

  // Pixel-only measures refuse latent models, saying why.
  r = run_ddpm({"nll", "--model", run.string(), "--data", data.string(), "--n", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "latent model")) << r.output;
  // An explicit contradiction of the latent shape is an error naming both.
  const auto contradiction = dir.path / "contradiction.json";
  std::ofstream(contradiction) << json{{"model", {{"in_channels", 3}}}};
  r = run_ddpm({"train", "--autoencoder", ae_run.string(), "--data", data.string(), "--config",
                contradiction.string(), "--out", (dir.path / "bad").string(), "--steps", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "4x8x8 latents")) << r.output;
  // The experiments decode through the codec: a trajectory's cells are 32 px gray images.
  const auto figure = dir.path / "trajectory.png";
  r = run_ddpm({"trajectory", "--model", run.string(), "--n", "2", "--sampler", "ddim", "--steps",
                "3", "--show", "x_t,x0", "--out", figure.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto picture = read_image(figure.string());
  EXPECT_EQ(picture.size(0), 1);
  EXPECT_EQ(picture.size(1), 2 + 4 * 34);  // 2 samples × (x_t, x̂₀) rows of 32 px cells

  // Resuming the latent run continues exactly: 3 steps + 1 resumed = 4 straight steps.
  r = run_ddpm({"train", "--out", run.string(), "--resume", "--steps", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto straight = dir.path / "straight";
  r = run_ddpm({"train", "--autoencoder", ae_run.string(), "--data", data.string(), "--config",
                unet_config.string(), "--out", straight.string(), "--steps", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* file : {"model.safetensors", "ema.safetensors"}) {
    const auto a = read_safetensors(run / "checkpoints/latest" / file).tensors;
    const auto b = read_safetensors(straight / "checkpoints/latest" / file).tensors;
    for (const auto& [name, t] : a) EXPECT_TRUE(torch::equal(t, b.at(name))) << file << name;
  }
}

TEST(CliLatent, VQAutoencoderTrainsAndAutoencodes) {
  test::TempDir dir;
  const auto data = gray_folder(dir.path);
  const auto ae_run = dir.path / "vq";
  auto r = run_ddpm({"train-autoencoder", "--data", data.string(), "--config",
                     tiny_autoencoder_config(dir.path).string(), "--out", ae_run.string(), "--kind",
                     "vq", "--latent-channels", "3", "--num-vq-embeddings", "16", "--downsample",
                     "2", "--steps", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "VQModel")) << r.output;
  EXPECT_TRUE(contains(r.output, "3x16x16 latents")) << r.output;
  const auto input = dir.path / "x.safetensors";
  write_safetensors(input, {{"x", torch::rand({2, 1, 32, 32}) * 2 - 1}});
  const auto out = dir.path / "out.safetensors";
  r = run_ddpm({"autoencode", "--model", ae_run.string(), "--input", input.string(),
                "--save-tensor", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto t = read_safetensors(out).tensors;
  EXPECT_EQ(t.at("latents").sizes(), (std::vector<int64_t>{2, 3, 16, 16}));
  EXPECT_EQ(t.at("quantized").sizes(), (std::vector<int64_t>{2, 3, 16, 16}));
  EXPECT_EQ(t.at("reconstruction").sizes(), (std::vector<int64_t>{2, 1, 32, 32}));
  // --downsample that is not a power of two is refused, naming what is allowed.
  r = run_ddpm({"train-autoencoder", "--data", data.string(), "--out", (dir.path / "bad").string(),
                "--downsample", "3", "--steps", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "power of two")) << r.output;
}

}  // namespace
}  // namespace ddpm
