// The evaluation commands end to end (issue #5): fid / kid / inception-score / features on image
// folders, features files and a run directory, nll and sweep on a tiny run, and training that
// measures KID every K steps and keeps checkpoints/best. The feature network is the shipped
// Fashion-MNIST classifier, so the images are 1-channel 32×32.
#include <fstream>

#include "cli_runner.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::contains;
using test::run_ddpm;

/// The JSON object a command printed last (the eval commands print one on stdout; progress goes
/// to stderr, which run_ddpm interleaves, so take the last line that parses).
json last_json(const std::string& output) {
  json found;
  std::string text;
  // The object may span lines (pretty-printed): collect from the last line starting with '{'.
  const auto start = output.rfind("\n{");
  text = output.substr(start == std::string::npos ? 0 : start + 1);
  try {
    found = json::parse(text);
  } catch (const json::exception&) {
    ADD_FAILURE() << "no JSON object at the end of:\n" << output;
  }
  return found;
}

/// `count` 1-channel 32×32 PNGs; `noise` > 0 perturbs a copy of `base` instead of drawing anew.
fs::path gray_folder(const fs::path& dir, int64_t count, uint64_t seed) {
  fs::create_directories(dir);
  torch::manual_seed(int64_t(seed));
  for (int64_t i = 0; i < count; ++i) {
    // Smooth blobs rather than white noise, so the classifier's features vary between images.
    auto blob = torch::rand({1, 1, 8, 8});
    auto image = torch::upsample_bilinear2d(blob, {32, 32}, false).squeeze(0);
    write_png(dir / fmt::format("g{:02d}.png", i), (image * 255).round().to(torch::kUInt8));
  }
  return dir;
}

class CliEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    a_ = gray_folder(dir_->path / "a", 24, 1);
    b_ = gray_folder(dir_->path / "b", 24, 2);
    run_ = dir_->path / "run";
    std::ofstream(dir_->path / "tiny.json") << tiny_config(6, 0).dump();
    train_ = new test::CliResult(
        run_ddpm({"train", "--data", a_.string(), "--config", (dir_->path / "tiny.json").string(),
                  "--out", run_.string()}));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete dir_;
  }
  void SetUp() override { ASSERT_EQ(train_->exit_code, 0) << train_->output; }

  /// A tiny 2-level model over T = 50 steps (so that nll's full chain is quick; DDPM's linear β
  /// scaled by 1000/T stays below 1 for T > 20).
  static json tiny_config(int64_t steps, int64_t eval_every) {
    return {{"model",
             {{"block_out_channels", {8, 16}},
              {"layers_per_block", 1},
              {"down_block_types", {"DownBlock2D", "DownBlock2D"}},
              {"up_block_types", {"UpBlock2D", "UpBlock2D"}},
              {"norm_num_groups", 4}}},
            {"schedule", {{"num_train_timesteps", 50}}},
            {"data", {{"image_size", 32}}},
            {"training",
             {{"steps", steps},
              {"batch_size", 4},
              {"sample_every", 0},
              {"sample_images", 4},  // the final grid: 4 images, 2 DDIM steps
              {"sample_steps", 2},
              {"log_every", 1},
              {"threads", 1},
              {"eval_every", eval_every},
              {"eval_samples", 8},
              {"eval_steps", 2}}},
            {"sampling", {{"steps", 4}}}};
  }

  static test::CliResult ok(std::vector<std::string> args) {
    args.insert(args.end(), {"--threads", "1"});
    auto r = run_ddpm(args);
    EXPECT_EQ(r.exit_code, 0) << fmt::format("ddpm {}\n{}", fmt::join(args, " "), r.output);
    return r;
  }
  static fs::path out(const std::string& name) { return dir_->path / name; }

  static test::TempDir* dir_;
  static fs::path a_, b_, run_;
  static test::CliResult* train_;
};

test::TempDir* CliEval::dir_ = nullptr;
fs::path CliEval::a_, CliEval::b_, CliEval::run_;
test::CliResult* CliEval::train_ = nullptr;

TEST_F(CliEval, FidOfASetWithItselfIsZeroAndFeaturesFilesGiveTheSameNumbers) {
  auto self = last_json(ok({"fid", a_.string(), a_.string()}).output);
  EXPECT_EQ(self["metric"], "FD");
  EXPECT_NEAR(self["value"].get<double>(), 0.0, 1e-6) << self;
  auto ab = last_json(ok({"fid", a_.string(), b_.string()}).output);
  const double fd = ab["value"].get<double>();
  EXPECT_GT(fd, 1e-3) << ab;
  EXPECT_TRUE(ab.contains("features")) << "the protocol names the network: " << ab;

  ok({"features", a_.string(), "--out", out("fa.safetensors").string()});
  auto features = read_safetensors(out("fa.safetensors")).tensors;
  ASSERT_TRUE(features.count("features"));
  EXPECT_EQ(features.at("features").sizes(), (std::vector<int64_t>{24, 64}));
  auto from_file = last_json(ok({"fid", out("fa.safetensors").string(), b_.string()}).output);
  EXPECT_NEAR(from_file["value"].get<double>(), fd, 1e-6 * std::max(1.0, fd)) << from_file;
}

TEST_F(CliEval, KidAndInceptionScorePrintMeanAndStd) {
  auto kid = last_json(
      ok({"kid", a_.string(), b_.string(), "--subsets", "10", "--subset-size", "12"}).output);
  EXPECT_EQ(kid["metric"], "KID");
  EXPECT_EQ(kid["subsets"], 10);
  EXPECT_EQ(kid["subset_size"], 12);
  EXPECT_GE(kid["std"].get<double>(), 0.0) << kid;
  EXPECT_TRUE(std::isfinite(kid["mean"].get<double>())) << kid;
  auto is = last_json(ok({"inception-score", a_.string(), "--splits", "2"}).output);
  const double mean = is["mean"].get<double>();
  EXPECT_GE(mean, 1.0 - 1e-9) << is;   // exp(E KL) ≥ 1
  EXPECT_LE(mean, 10.0 + 1e-9) << is;  // at most the number of classes
}

TEST_F(CliEval, RunDirectoriesAreSampledOnTheFly) {
  auto r = ok({"fid", run_.string(), a_.string(), "--n", "8", "--steps", "2"});
  auto j = last_json(r.output);
  EXPECT_GT(j["value"].get<double>(), 0.0) << j;
  EXPECT_TRUE(contains(j["a"].dump(), "8")) << "8 samples drawn: " << j["a"];
}

TEST_F(CliEval, NllReportsTheBoundAndItsTerms) {
  auto r = ok({"nll", "--model", run_.string(), "--data", a_.string(), "--n", "4", "--csv",
               out("nll.csv").string()});
  auto j = last_json(r.output);
  ASSERT_TRUE(j.contains("total_bpd")) << j;
  const double total = j["total_bpd"].get<double>();
  EXPECT_GT(total, 0.0);
  double terms = 0;
  for (const char* key : {"prior_bpd", "diffusion_bpd", "decoder_bpd"}) {
    ASSERT_TRUE(j.contains(key)) << key << " missing: " << j;
    terms += j[key].get<double>();
  }
  EXPECT_NEAR(terms, total, 1e-6 * total) << j;
  // One CSV row per step t = 0..T−1 plus the header.
  std::ifstream csv(out("nll.csv"));
  int64_t rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(rows, 51);
}

TEST_F(CliEval, SweepWritesATableAPlotAndTheProtocol) {
  const auto dir = out("sweep");
  auto r =
      ok({"sweep", "--model", run_.string(), "--steps", "2,3", "--eta", "0,1", "--n", "8", "--ref",
          b_.string(), "--kid-subsets", "2", "--kid-subset-size", "4", "--out", dir.string()});
  std::ifstream csv(dir / "sweep.csv");
  std::vector<std::string> lines;
  for (std::string line; std::getline(csv, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u) << "header + 2 steps × 2 etas";
  EXPECT_TRUE(contains(lines[0], "network_evaluations") && contains(lines[0], "label")) << lines[0];
  EXPECT_TRUE(contains(lines[3], "ddim eta=1")) << lines[3];
  auto image = read_image(dir / "sweep.png");
  EXPECT_EQ(image.size(0), 3);
  auto j = json::parse(std::ifstream(dir / "sweep.json"));
  EXPECT_EQ(j["rows"].size(), 4u);
  EXPECT_EQ(j["protocol"]["samples_per_setting"], 8);
  // The page: both charts described for the dashboard's page code, whose files are beside it.
  const auto page = test::read_bytes(dir / "index.html");
  EXPECT_TRUE(contains(page, R"(data-chart="fd")") && contains(page, R"(data-chart="kid")"));
  EXPECT_TRUE(contains(page, "ddim eta=1")) << "the table";
  for (const char* asset : {"chart.min.js", "charts.js", "report.js", "page.css"})
    EXPECT_TRUE(fs::is_regular_file(dir / "assets" / asset)) << asset;
  // Same seed, same table.
  ok({"sweep", "--model", run_.string(), "--steps", "2,3", "--eta", "0,1", "--n", "8", "--ref",
      b_.string(), "--kid-subsets", "2", "--kid-subset-size", "4", "--out",
      out("sweep2").string()});
  auto again = json::parse(std::ifstream(out("sweep2") / "sweep.json"));
  for (size_t i = 0; i < 4; ++i)
    EXPECT_DOUBLE_EQ(again["rows"][i]["fd"].get<double>(), j["rows"][i]["fd"].get<double>()) << i;
}

TEST_F(CliEval, TrainingKeepsTheBestCheckpointByKid) {
  const auto run = out("eval_run");
  std::ofstream(out("eval.json")) << tiny_config(6, 2).dump();
  auto r = run_ddpm({"train", "--data", a_.string(), "--config", out("eval.json").string(), "--out",
                     run.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "kid")) << "the progress line shows the metric: " << r.output;
  // log.csv: an eval_kid column, filled at steps 2, 4 and 6.
  std::ifstream log(run / "log.csv");
  std::string header;
  std::getline(log, header);
  ASSERT_TRUE(contains(header, "eval_kid")) << header;
  std::vector<std::string> names;
  for (size_t start = 0, comma; start <= header.size(); start = comma + 1) {
    comma = header.find(',', start);
    if (comma == std::string::npos) comma = header.size();
    names.push_back(header.substr(start, comma - start));
  }
  const auto column = size_t(std::find(names.begin(), names.end(), "eval_kid") - names.begin());
  std::map<int64_t, double> measured;
  for (std::string line; std::getline(log, line);) {
    std::vector<std::string> cells;
    for (size_t start = 0, comma; start <= line.size(); start = comma + 1) {
      comma = line.find(',', start);
      if (comma == std::string::npos) comma = line.size();
      cells.push_back(line.substr(start, comma - start));
    }
    if (cells.size() > column && !cells[column].empty())
      measured[std::stoll(cells[0])] = std::stod(cells[column]);
  }
  ASSERT_EQ(measured.size(), 3u) << "evaluations at steps 2, 4, 6";
  auto best = std::min_element(measured.begin(), measured.end(),
                               [](const auto& x, const auto& y) { return x.second < y.second; });
  // checkpoints/best holds that step, its value and the protocol.
  auto state = json::parse(std::ifstream(run / "checkpoints/best/state.json"));
  EXPECT_EQ(state["eval"]["step"].get<int64_t>(), best->first) << state;
  // log.csv keeps 6 significant digits.
  EXPECT_NEAR(state["eval"]["value"].get<double>(), best->second,
              1e-5 * std::max(1.0, std::abs(best->second)));
  EXPECT_EQ(state["eval"]["metric"], "kid");
  EXPECT_TRUE(state["eval"].contains("protocol"));
  for (const char* file : {"model.safetensors", "ema.safetensors", "optimizer.safetensors"})
    EXPECT_TRUE(fs::is_regular_file(run / "checkpoints/best" / file)) << file;
  // Resuming keeps the best so far: a later worse evaluation does not replace it.
  auto resumed = run_ddpm({"train", "--out", run.string(), "--resume", "--steps", "8"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto after = json::parse(std::ifstream(run / "checkpoints/best/state.json"));
  EXPECT_LE(after["eval"]["value"].get<double>(), best->second + 1e-12) << after;
}

}  // namespace
}  // namespace ddpm
