// The papers' own checkpoint folders through the program: predict (raw output, 2·C channels with
// learned variances), sample with the format's own DDIM, DDPM with Σ_θ, nll with Σ_θ, and export
// to a diffusers folder whose forward equals the original's (the round trip, measured here).
#include <gtest/gtest.h>

#include <fstream>

#include "cli_runner.h"
#include "io/image.h"
#include "models/denoiser.h"
#include "runs/model_loading.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::read_bytes;
using test::run_ddpm;

fs::path ddim_dir() {
  return test::repo_fixture("original/tiny-ddim-official");
}
fs::path improved_dir() {
  return test::repo_fixture("original/tiny-improved-diffusion");
}

TEST(CliOriginalFormats, PredictWritesTheRawOutput) {
  test::TempDir dir;
  for (const auto& [folder, key] :
       {std::pair<fs::path, std::string>{ddim_dir(), "eps"}, {improved_dir(), "out"}}) {
    const fs::path out = dir.path / "out.safetensors";
    fs::remove(out);
    auto r = run_ddpm({"predict", "--model", folder.string(), "--input",
                       (folder / "forward.safetensors").string(), "--save-tensor", out.string(),
                       "--threads", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto eps = read_safetensors(out).tensors.at("eps");
    const auto ref = read_safetensors(folder / "forward.safetensors").tensors.at(key);
    auto check = test::tensors_close(eps, ref, 1e-4);
    std::cout << "[ original ] ddpm predict " << folder.filename() << ": " << check.message()
              << "\n";
    EXPECT_TRUE(check);
  }
}

TEST(CliOriginalFormats, SampleReproducesTheFormatsDdimAndRunsDdpmWithLearnedVariances) {
  test::TempDir dir;
  const auto ref = read_safetensors(improved_dir() / "ddim10.safetensors").tensors;
  write_safetensors(dir.path / "x_T.safetensors", {{"x_T", ref.at("x_T")}});
  auto r =
      run_ddpm({"sample", "--model", improved_dir().string(), "--sampler", "ddim", "--steps", "10",
                "--eta", "0", "--n", "2", "--init-noise", (dir.path / "x_T.safetensors").string(),
                "--save-tensor", (dir.path / "x_0.safetensors").string(), "--out",
                (dir.path / "g.png").string(), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto x0 = read_safetensors(dir.path / "x_0.safetensors").tensors.begin()->second;
  EXPECT_TRUE(test::tensors_close(x0, ref.at("x_0"), 1e-3));
  auto ddpm =
      run_ddpm({"sample", "--model", improved_dir().string(), "--sampler", "ddpm", "--steps", "20",
                "--n", "2", "--out", (dir.path / "d.png").string(), "--threads", "1"});
  ASSERT_EQ(ddpm.exit_code, 0) << ddpm.output;
  EXPECT_TRUE(contains(ddpm.output, "learned_range")) << ddpm.output;
}

TEST(CliOriginalFormats, ExportRoundTripsTheForwardPass) {
  for (const auto& [folder, key] :
       {std::pair<fs::path, std::string>{ddim_dir(), "eps"}, {improved_dir(), "out"}}) {
    test::TempDir dir;
    const fs::path out = dir.path / "exported";
    auto r = run_ddpm(
        {"export", "--model", folder.string(), "--format", "diffusers", "--out", out.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto scheduler = read_bytes(out / "scheduler_config.json");
    EXPECT_TRUE(contains(scheduler, "DDPMScheduler")) << scheduler;
    const auto config = read_bytes(out / "config.json");
    if (folder == improved_dir()) {
      EXPECT_TRUE(contains(scheduler, "\"learned_range\"")) << scheduler;
      EXPECT_TRUE(contains(scheduler, "squaredcos_cap_v2")) << scheduler;
      EXPECT_TRUE(contains(config, "\"scale_shift\"")) << config;
      EXPECT_TRUE(contains(config, "\"out_channels\": 6")) << config;
    } else {
      EXPECT_TRUE(contains(config, "\"downsample_padding\": 0")) << config;
    }
    auto loaded = load_model(out, WeightsKind::ema, torch::kCPU);
    const auto ref = read_safetensors(folder / "forward.safetensors").tensors;
    auto y = make_denoise_fn(loaded.model, loaded.schedule)(ref.at("x"), ref.at("t"));
    auto original = load_model(folder, WeightsKind::ema, torch::kCPU);
    auto y0 = make_denoise_fn(original.model, original.schedule)(ref.at("x"), ref.at("t"));
    const double gap = (y - y0).abs().max().item<double>();
    std::cout << "[ original ] export round trip " << folder.filename() << ": max |diff| " << gap
              << "\n";
    EXPECT_EQ(gap, 0.0);
    EXPECT_TRUE(test::tensors_close(y, ref.at(key), 1e-4));
  }
}

TEST(CliOriginalFormats, BadFoldersNameTheFault) {
  test::TempDir dir;
  std::ofstream(dir.path / "args.json") << "{}";
  std::ofstream(dir.path / "x.safetensors") << "";  // an existing --input: the model fails first
  auto r = run_ddpm({"predict", "--model", dir.path.string(), "--input",
                     (dir.path / "x.safetensors").string(), "--save-tensor",
                     (dir.path / "o.safetensors").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "without a *.pt")) << r.output;
  fs::copy_file(improved_dir() / "args.json", dir.path / "args.json",
                fs::copy_options::overwrite_existing);
  fs::copy_file(test::repo_fixture("original/hostile/runs-code.pt"), dir.path / "model.pt");
  r = run_ddpm(
      {"sample", "--model", dir.path.string(), "--n", "1", "--out", (dir.path / "g.png").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "posix.system")) << r.output;
}

}  // namespace
}  // namespace ddpm
