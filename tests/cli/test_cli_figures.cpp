// The figure commands end to end (issue #4): trajectory, reconstruct, interpolate, encode/decode,
// plot and a tiny study. Each writes a PNG whose size follows from the grid code
// (rows·(S + 2) + 2 by columns·(S + 2) + 2 for S-pixel tiles), a JSON beside it, and the same
// bytes for the same seed.
#include <fstream>
#include <regex>
#include <set>

#include "cli_runner.h"
#include "io/image.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::read_bytes;
using test::run_ddpm;

constexpr int64_t kSize = 16;  // model images, 16×16 RGB

int64_t grid_extent(int64_t cells) {
  return cells * (kSize + 2) + 2;
}

/// {height, width} of a PNG.
std::vector<int64_t> png_size(const fs::path& p) {
  auto image = read_image(p);
  return {image.size(1), image.size(2)};
}

// 24 random 20×20 RGB PNGs (validation split: 5 of them).
fs::path image_folder(const fs::path& root) {
  torch::manual_seed(1);
  const fs::path dir = root / "images";
  fs::create_directories(dir);
  for (int i = 0; i < 24; ++i)
    write_png(dir / fmt::format("img{:02d}.png", i),
              torch::randint(0, 256, {3, 20, 20}, torch::kUInt8));
  return dir;
}

// One tiny run shared by the tests of this file (trained once, ~2 s).
class CliFigures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    images_ = image_folder(dir_->path);
    run_ = dir_->path / "run";
    std::ofstream(dir_->path / "tiny.json") << nlohmann::json{{"model", test::tiny_model_json()},
                                                              {"training",
                                                               {{"steps", 6},
                                                                {"batch_size", 4},
                                                                {"sample_every", 0},
                                                                {"log_every", 1},
                                                                {"sample_images", 4},
                                                                {"sample_steps", 2},
                                                                {"threads", 1}}}};
    train_ = new test::CliResult(
        run_ddpm({"train", "--data", images_.string(), "--image-size", "16", "--config",
                  (dir_->path / "tiny.json").string(), "--out", run_.string()}));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete dir_;
  }
  void SetUp() override { ASSERT_EQ(train_->exit_code, 0) << train_->output; }

  /// Runs `ddpm args --threads 1` (`with_threads`: the commands that run a network) and expects
  /// success.
  static test::CliResult ok(std::vector<std::string> args, bool with_threads = true) {
    if (with_threads) args.insert(args.end(), {"--threads", "1"});
    auto r = run_ddpm(args);
    EXPECT_EQ(r.exit_code, 0) << fmt::format("ddpm {}\n{}", fmt::join(args, " "), r.output);
    return r;
  }
  fs::path out(const std::string& name) const { return dir_->path / name; }

  static test::TempDir* dir_;
  static fs::path images_, run_;
  static test::CliResult* train_;
};

test::TempDir* CliFigures::dir_ = nullptr;
fs::path CliFigures::images_, CliFigures::run_;
test::CliResult* CliFigures::train_ = nullptr;

TEST_F(CliFigures, HelpListsTheCommandsAndTheirFlags) {
  auto top = run_ddpm({"--help"});
  for (const char* sub :
       {"trajectory", "reconstruct", "interpolate", "encode", "decode", "study", "plot"})
    EXPECT_TRUE(contains(top.output, sub)) << sub;
  const std::vector<std::pair<std::string, std::vector<std::string>>> flags{
      {"trajectory", {"--model", "--sampler", "--steps", "--n", "--show", "--out", "--seed"}},
      {"reconstruct", {"--model", "--data", "--from-steps", "--n", "--per-image", "--out"}},
      {"interpolate", {"--model", "--data", "--mode", "--t", "--lambdas", "--out"}},
      {"encode", {"--model", "--data", "--steps", "--out"}},
      {"decode", {"--model", "--codes", "--out"}},
      {"study", {"--data", "--budget", "--out", "--seed", "--image-size", "--ddpm-steps"}},
      {"plot", {"RUN_DIR", "--out", "--smoothing"}}};
  for (const auto& [sub, names] : flags) {
    auto help = run_ddpm({sub, "--help"});
    EXPECT_EQ(help.exit_code, 0) << sub;
    for (const auto& n : names) EXPECT_TRUE(contains(help.output, n)) << sub << " " << n;
  }
}

TEST_F(CliFigures, TrajectoryRowsPerSampleColumnsPerStateDeterministic) {
  auto args = [&](const std::string& file, const std::string& seed) {
    return std::vector<std::string>{"trajectory", "--model", run_.string(),     "--n",    "2",
                                    "--steps",    "5",       "--show",          "x_t,x0", "--seed",
                                    seed,         "--out",   out(file).string()};
  };
  ok(args("t1.png", "1"));
  ok(args("t2.png", "1"));
  ok(args("t3.png", "2"));
  // 2 samples × (x_t, x0) rows; 5 steps → 6 states.
  EXPECT_EQ(png_size(out("t1.png")), (std::vector<int64_t>{grid_extent(4), grid_extent(6)}));
  EXPECT_EQ(read_bytes(out("t1.png")), read_bytes(out("t2.png")));
  EXPECT_NE(read_bytes(out("t1.png")), read_bytes(out("t3.png")));
  auto json = nlohmann::json::parse(std::ifstream(out("t1.json")));
  EXPECT_EQ(json["column_timesteps"].size(), 6u);
  EXPECT_EQ(json["column_timesteps"].back(), -1);
  // A long DDPM chain is thinned to --max-columns evenly picked states.
  ok({"trajectory", "--model", run_.string(), "--sampler", "ddpm", "--steps", "50", "--n", "1",
      "--max-columns", "10", "--out", out("t4.png").string()});
  EXPECT_EQ(png_size(out("t4.png")), (std::vector<int64_t>{grid_extent(1), grid_extent(10)}));
}

TEST_F(CliFigures, ReconstructRowsPerStartStepAndPrintsTheMse) {
  auto args = [&](const std::string& file) {
    return std::vector<std::string>{"reconstruct",
                                    "--model",
                                    run_.string(),
                                    "--data",
                                    images_.string(),
                                    "--from-steps",
                                    "1,100",
                                    "--n",
                                    "2",
                                    "--per-image",
                                    "2",
                                    "--sampler",
                                    "ddim",
                                    "--steps",
                                    "4",
                                    "--out",
                                    out(file).string()};
  };
  auto r = ok(args("r1.png"));
  ok(args("r2.png"));
  EXPECT_TRUE(contains(r.output, "MSE")) << r.output;
  // Originals row + one row per start step; per image x_t and 2 draws.
  EXPECT_EQ(png_size(out("r1.png")), (std::vector<int64_t>{grid_extent(3), grid_extent(2 * 3)}));
  EXPECT_EQ(read_bytes(out("r1.png")), read_bytes(out("r2.png")));
  auto json = nlohmann::json::parse(std::ifstream(out("r1.json")));
  ASSERT_EQ(json["results"].size(), 2u);
  EXPECT_LT(json["results"][0]["mse"].get<double>(), json["results"][1]["mse"].get<double>());
  auto bad = run_ddpm({"reconstruct", "--model", run_.string(), "--data", images_.string(),
                       "--from-steps", "1001", "--out", out("bad.png").string()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(contains(bad.output, "1..T")) << bad.output;
  auto too_many = run_ddpm({"reconstruct", "--model", run_.string(), "--data", images_.string(),
                            "--n", "9", "--out", out("bad.png").string()});
  EXPECT_NE(too_many.exit_code, 0);
  EXPECT_TRUE(contains(too_many.output, "5")) << "names how many there are: " << too_many.output;
}

TEST_F(CliFigures, InterpolateInAllThreeModes) {
  auto xt = [&](const std::string& file) {
    return std::vector<std::string>{"interpolate",    "--model", run_.string(),     "--data",
                                    images_.string(), "--t",     "10,30",           "--lambdas",
                                    "0:1:0.5",        "--out",   out(file).string()};
  };
  ok(xt("i1.png"));
  ok(xt("i2.png"));
  // One row per t; source, 3 mixes, source.
  EXPECT_EQ(png_size(out("i1.png")), (std::vector<int64_t>{grid_extent(2), grid_extent(5)}));
  EXPECT_EQ(read_bytes(out("i1.png")), read_bytes(out("i2.png")));
  auto slerp = [&](const std::string& file, const std::string& seed) {
    return std::vector<std::string>{
        "interpolate", "--model", run_.string(), "--mode",  "slerp",
        "--pairs",     "2",       "--lambdas",   "0,0.5,1", "--steps",
        "5",           "--seed",  seed,          "--out",   out(file).string()};
  };
  ok(slerp("s.png", "0"));
  EXPECT_EQ(png_size(out("s.png")), (std::vector<int64_t>{grid_extent(2), grid_extent(3)}));
  ok(slerp("s_again.png", "0"));
  ok(slerp("s_other.png", "1"));
  EXPECT_EQ(read_bytes(out("s.png")), read_bytes(out("s_again.png")));
  EXPECT_NE(read_bytes(out("s.png")), read_bytes(out("s_other.png")));
  // The issue's usage always passes --data: slerp takes it (it picks no images) and says so.
  auto with_data = slerp("s_data.png", "0");
  with_data.insert(with_data.end(), {"--data", images_.string()});
  auto noted = ok(with_data);
  EXPECT_TRUE(contains(noted.output, "picks no images")) << noted.output;
  EXPECT_EQ(read_bytes(out("s.png")), read_bytes(out("s_data.png")));
  ok({"interpolate", "--model", run_.string(), "--mode", "inversion", "--data", images_.string(),
      "--lambdas", "0,1", "--steps", "5", "--out", out("v.png").string()});
  EXPECT_EQ(png_size(out("v.png")), (std::vector<int64_t>{grid_extent(1), grid_extent(4)}));
  auto json = nlohmann::json::parse(std::ifstream(out("v.json")));
  EXPECT_TRUE(json.contains("round_trip_mse_a"));
  for (const auto& [args, expected] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--mode", "slerp", "--t", "5"}, "--t"},
           {{"--mode", "xt"}, "--data"},
           {{"--mode", "slerp", "--fixed-point-iterations", "2"}, "inversion only"},
           {{"--lambdas", "0:2:0.5", "--data", images_.string()}, "[0, 1]"}}) {
    std::vector<std::string> all{"interpolate", "--model", run_.string(), "--out",
                                 out("bad.png").string()};
    all.insert(all.end(), args.begin(), args.end());
    auto r = run_ddpm(all);
    EXPECT_NE(r.exit_code, 0) << fmt::format("{}", fmt::join(all, " "));
    EXPECT_TRUE(contains(r.output, expected)) << r.output;
  }
}

TEST_F(CliFigures, EncodeDecodeRoundTrip) {
  const auto codes = out("codes.safetensors").string();
  auto enc = ok({"encode", "--model", run_.string(), "--data", images_.string(), "--n", "3",
                 "--steps", "10", "--out", codes, "--figure", out("enc.png").string()});
  EXPECT_TRUE(contains(enc.output, "round trip")) << enc.output;
  // Fixed-point refinement is applied and recorded (its convergence is tested with the exact ε
  // of Gaussian data in tests/samplers/test_ddim_inversion.cpp; this 4-step model is far from
  // smooth, yet the error still falls).
  const auto plain = nlohmann::json::parse(std::ifstream(out("enc.json")))["round_trip"];
  ok({"encode", "--model", run_.string(), "--data", images_.string(), "--n", "3", "--steps", "10",
      "--fixed-point-iterations", "4", "--out", out("codes4.safetensors").string(), "--figure",
      out("enc4.png").string()});
  const auto refined = nlohmann::json::parse(std::ifstream(out("enc4.json")))["round_trip"];
  EXPECT_LT(refined["mse"].get<double>(), plain["mse"].get<double>()) << plain << " vs " << refined;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(out("enc4.json")))["fixed_point_iterations"], 4);
  EXPECT_EQ(png_size(out("enc.png")), (std::vector<int64_t>{grid_extent(3), grid_extent(3)}));
  auto dec =
      ok({"decode", "--model", run_.string(), "--codes", codes, "--out", out("dec.png").string()});
  EXPECT_TRUE(contains(dec.output, "round trip")) << dec.output;
  EXPECT_EQ(png_size(out("dec.png")), (std::vector<int64_t>{grid_extent(2), grid_extent(2)}));
  // The decoded images are the encoding figure's third column.
  auto enc_png = read_image(out("enc.png")), dec_png = read_image(out("dec.png"));
  const int64_t cell = kSize + 2;
  EXPECT_TRUE(
      torch::equal(enc_png.slice(1, 2, 2 + kSize).slice(2, 2 + 2 * cell, 2 + 2 * cell + kSize),
                   dec_png.slice(1, 2, 2 + kSize).slice(2, 2, 2 + kSize)));
  auto bad = run_ddpm({"decode", "--model", run_.string(), "--codes",
                       (run_ / "checkpoints/latest/model.safetensors").string(), "--out",
                       out("bad.png").string()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(contains(bad.output, "codes")) << bad.output;
}

TEST_F(CliFigures, PlotWritesTheLossPngBesideTheRun) {
  auto r = ok({"plot", run_.string()}, /*with_threads=*/false);
  EXPECT_EQ(png_size(run_ / "loss.png"), (std::vector<int64_t>{540, 960}));
  EXPECT_TRUE(fs::is_regular_file(run_ / "loss.csv"));
  EXPECT_TRUE(contains(r.output, "6 rows")) << r.output;
  ok({"plot", run_.string(), run_.string(), "--out", out("p.png").string(), "--log-y", "--width",
      "400", "--height", "300"},
     /*with_threads=*/false);
  EXPECT_EQ(png_size(out("p.png")), (std::vector<int64_t>{300, 400}));
  auto two = run_ddpm({"plot", run_.string(), run_.string()});
  EXPECT_NE(two.exit_code, 0);
  EXPECT_TRUE(contains(two.output, "--out")) << two.output;
}

TEST_F(CliFigures, TinyStudyWritesAPageWhoseFilesExist) {
  const auto study = out("study");
  std::ofstream(out("study.json")) << nlohmann::json{
      {"model",
       {{"block_out_channels", {8, 16}},
        {"layers_per_block", 1},
        {"down_block_types", {"DownBlock2D"}},
        {"up_block_types", {"UpBlock2D"}},
        {"embedding_dim", 8}}},
      {"training",
       {{"log_every", 1}, {"sample_images", 4}, {"sample_steps", 2}, {"checkpoint_every", 100}}}};
  const std::vector<std::string> args{"study",
                                      "--data",
                                      images_.string(),
                                      "--budget",
                                      "3",
                                      "--batch-size",
                                      "4",
                                      "--image-size",
                                      "16",
                                      "--config",
                                      out("study.json").string(),
                                      "--n",
                                      "4",
                                      "--strip-n",
                                      "2",
                                      "--ddpm-steps",
                                      "10",
                                      "--out",
                                      study.string()};
  auto r = ok(args);
  ASSERT_TRUE(fs::is_regular_file(study / "index.html")) << r.output;
  const auto html = read_bytes(study / "index.html");
  std::set<std::string> refs;
  std::regex attr(R"((?:src|href)="([^"]*)\")");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), attr); it != std::sregex_iterator();
       ++it)
    refs.insert((*it)[1]);
  EXPECT_GT(refs.size(), 4u * 2 * 4);  // four variants × EMA/raw × four figures, and more
  for (const auto& ref : refs) {
    EXPECT_NE(ref.front(), '/') << "relative: " << ref;
    EXPECT_TRUE(fs::is_regular_file(study / ref)) << ref;
  }
  for (const char* v : {"bk", "bbno", "bbano", "bgano"}) {
    // Every figure of the issue, for EMA and raw weights.
    for (const char* weights : {"ema", "raw"})
      for (const char* figure : {"ddim20_strip", "ddim50", "ddim100", "ddpm10"})
        EXPECT_TRUE(contains(html, fmt::format("{}/figures/{}_{}.png", v, weights, figure)))
            << v << " " << weights << " " << figure;
    // EMA and raw are different weights (after 3 steps the EMA lags), so their deterministic
    // DDIM-50 grids from the same x_T differ.
    EXPECT_NE(read_bytes(study / v / "figures/ema_ddim50.png"),
              read_bytes(study / v / "figures/raw_ddim50.png"))
        << v;
    // The four variants ran the same budget with the same seed.
    const auto config = nlohmann::json::parse(std::ifstream(study / v / "config.json"));
    EXPECT_EQ(config["training"]["steps"], 3) << v;
    EXPECT_EQ(config["training"]["seed"],
              nlohmann::json::parse(std::ifstream(study / "bk/config.json"))["training"]["seed"]);
    EXPECT_TRUE(contains(html, std::string(v) + "/figures/ema_ddim20_strip.png")) << v;
    EXPECT_TRUE(contains(html, std::string(v) + "/figures/raw_ddpm10.png")) << v;
    // DDIM-20 strip: 2 samples × (x_t, x̂_0) rows, 21 states.
    EXPECT_EQ(png_size(study / v / "figures/ema_ddim20_strip.png"),
              (std::vector<int64_t>{grid_extent(4), grid_extent(21)}));
    EXPECT_EQ(png_size(study / v / "figures/raw_ddim100.png"),
              (std::vector<int64_t>{grid_extent(2), grid_extent(2)}));
  }
  EXPECT_EQ(png_size(study / "loss.png"), (std::vector<int64_t>{540, 960}));
  // Run again: the runs are complete and reused; the figures come out byte for byte the same.
  const auto before = read_bytes(study / "bgano/figures/ema_ddpm10.png");
  auto again = ok(args);
  EXPECT_TRUE(contains(again.output, "reusing")) << again.output;
  EXPECT_EQ(read_bytes(study / "bgano/figures/ema_ddpm10.png"), before);
}

}  // namespace
}  // namespace ddpm
