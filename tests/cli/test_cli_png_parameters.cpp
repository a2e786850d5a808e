// Parameters inside every PNG (issue 18): `ddpm sample` grids and single images carry a
// "parameters" tEXt chunk; `ddpm info` prints it; `ddpm sample --from-png` re-creates the file
// byte for byte (the same request writes the same bytes), and refuses when the model changed;
// training grids carry theirs.
#include <fstream>

#include "cli_runner.h"
#include "io/image.h"
#include "io/png_text.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::read_bytes;
using test::run_ddpm;

nlohmann::json parameters_of(const fs::path& png) {
  for (const auto& [keyword, text] : read_png_text_file(png))
    if (keyword == "parameters") return nlohmann::json::parse(text);
  ADD_FAILURE() << png << " has no parameters chunk";
  return {};
}

TEST(CliPngParameters, SampleWritesThemInfoShowsThemFromPngRecreatesTheBytes) {
  test::TempDir dir;
  torch::manual_seed(4);
  const fs::path images = dir.path / "images";
  fs::create_directories(images);
  for (int i = 0; i < 8; ++i)
    write_png(images / fmt::format("{}.png", i),
              torch::randint(0, 256, {3, 16, 16}, torch::kUInt8));
  const fs::path config = dir.path / "tiny.json";
  std::ofstream(config) << nlohmann::json{{"model", test::tiny_model_json()},
                                          {"training",
                                           {{"batch_size", 4},
                                            {"sample_every", 0},
                                            {"sample_images", 4},
                                            {"sample_steps", 2},
                                            {"threads", 1}}}};
  const fs::path run = dir.path / "run";
  auto r = run_ddpm({"train", "--data", images.string(), "--image-size", "16", "--config",
                     config.string(), "--out", run.string(), "--steps", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto training_grid = parameters_of(run / "samples/step_000002.png");
  EXPECT_EQ(training_grid.value("command", ""), "train");
  EXPECT_EQ(training_grid.value("step", -1), 2);

  const std::vector<std::string> request{
      "sample", "--model", run.string(), "--n",       "5",    "--batch-size",
      "2",      "--seed",  "7",          "--sampler", "ddim", "--steps",
      "3",      "--eta",   "0.5",        "--threads", "1"};
  auto with = [&](std::vector<std::string> more) {
    auto args = request;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  const fs::path grid = dir.path / "grid.png";
  r = run_ddpm(with({"--out", grid.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto p = parameters_of(grid);
  EXPECT_EQ(p.at("seed"), 7);
  EXPECT_EQ(p.at("count"), 5);
  EXPECT_EQ(p.at("sampler").at("sampler"), "ddim");
  EXPECT_EQ(p.at("sampler").at("eta"), 0.5);
  EXPECT_EQ(p.at("model"), run.string());
  EXPECT_EQ(p.at("weights_hash").get<std::string>().size(), 16u);
  EXPECT_FALSE(p.contains("index"));
  EXPECT_FALSE(contains(p.dump(), grid.string())) << "no output path inside";
  // The 3×3 convolutions ran autotuned (ddpm's default): the policy and the choices made.
  EXPECT_EQ(p.at("conv3x3").at("policy"), "auto");
  EXPECT_TRUE(p.at("conv3x3").at("choices").is_object());

  r = run_ddpm({"info", grid.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "\"seed\": 7")) << r.output;
  EXPECT_TRUE(contains(r.output, "re-create it with: ddpm sample --from-png")) << r.output;

  // The grid, re-created from its own parameters: the same bytes.
  r = run_ddpm({"sample", "--from-png", grid.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "byte-identical to")) << r.output;
  EXPECT_EQ(read_bytes(dir.path / "grid-again.png"), read_bytes(grid));

  // One image of a folder (index 3, the second image of its batch of 2).
  r = run_ddpm(with({"--out-dir", (dir.path / "each").string()}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path one = dir.path / "each" / "00003.png";
  EXPECT_EQ(parameters_of(one).at("index"), 3);
  r = run_ddpm({"sample", "--from-png", one.string(), "--out", (dir.path / "3.png").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_bytes(dir.path / "3.png"), read_bytes(one));

  // Winograd convolutions (DDPM_CONV): recorded, and re-created as they ran without the variable;
  // the reference path (oneDNN throughout) records nothing.
  const fs::path winograd = dir.path / "winograd.png";
  r = run_ddpm(with({"--out", winograd.string()}), "DDPM_CONV=winograd4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(parameters_of(winograd).at("conv3x3").at("policy"), "winograd4");
  const fs::path onednn = dir.path / "onednn.png";
  r = run_ddpm(with({"--out", onednn.string()}), "DDPM_CONV=onednn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(parameters_of(onednn).contains("conv3x3"));
  r = run_ddpm({"sample", "--from-png", winograd.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "byte-identical to")) << r.output;
  EXPECT_EQ(read_bytes(dir.path / "winograd-again.png"), read_bytes(winograd));
  r = run_ddpm(with({"--out", winograd.string()}), "DDPM_CONV=fastest");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "allowed: auto, onednn, winograd2, winograd4")) << r.output;

  // Other weights under the same path: refused, naming both hashes.
  r = run_ddpm({"train", "--out", run.string(), "--resume", "--steps", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_ddpm({"sample", "--from-png", grid.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "not the same model")) << r.output;
  // A PNG ddpm did not write.
  write_png(dir.path / "plain.png", torch::zeros({1, 4, 4}, torch::kUInt8));
  r = run_ddpm({"sample", "--from-png", (dir.path / "plain.png").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "has no \"parameters\" chunk")) << r.output;
}

}  // namespace
}  // namespace ddpm
