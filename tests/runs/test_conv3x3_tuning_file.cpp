// The convolution tuning file: where it lives, that a decision written by one process is taken
// by the next on the same machine (and not by another thread count), that a later writer keeps
// the earlier ones' decisions, that writers at the same time lose none and agree on each shape
// (the first decision stands, for the autotune too), and that a corrupt or unwritable file only
// costs a measurement.
#include "runs/conv3x3_tuning_file.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

/// Sets an environment variable for the scope, restoring what it was.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Conv3x3TuningFile, LivesInTheCacheDirectoryTheEnvironmentNames) {
  ScopedEnv cache("DDPM_CACHE_DIR", "/somewhere/cache");
  ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
  ScopedEnv home("HOME", "/home/someone");
  EXPECT_EQ(default_conv3x3_tuning_file(), fs::path("/somewhere/cache/conv3x3-tuning.json"));
  {
    ScopedEnv no_cache("DDPM_CACHE_DIR", nullptr);
    EXPECT_EQ(default_conv3x3_tuning_file(), fs::path("/xdg/ddpm/conv3x3-tuning.json"));
    ScopedEnv no_xdg("XDG_CACHE_HOME", nullptr);
    EXPECT_EQ(default_conv3x3_tuning_file(),
              fs::path("/home/someone/.cache/ddpm/conv3x3-tuning.json"));
    ScopedEnv no_home("HOME", nullptr);
    EXPECT_TRUE(default_conv3x3_tuning_file().empty());
  }
}

TEST(Conv3x3TuningFile, ADecisionIsTakenByTheNextProcessOnTheSameMachineOnly) {
  test::TempDir dir;
  const fs::path file = dir.path / "sub" / "conv3x3-tuning.json";
  const int threads = at::get_num_threads();
  {
    Conv3x3TuningFile first(file);
    EXPECT_FALSE(first.find("8x64->64x16x16").has_value());
    first.record("8x64->64x16x16", Conv3x3Algorithm::winograd4);
    EXPECT_FALSE(first.write_failed());
  }
  Conv3x3TuningFile second(file);  // as a later process
  EXPECT_EQ(second.find("8x64->64x16x16"), Conv3x3Algorithm::winograd4);
  EXPECT_FALSE(second.find("8x64->64x16x16+grad").has_value());
  // Another writer of the same file (a concurrent process) adds without dropping the first.
  Conv3x3TuningFile(file).record("8x64->64x16x16+grad", Conv3x3Algorithm::onednn);
  EXPECT_EQ(second.find("8x64->64x16x16"), Conv3x3Algorithm::winograd4);
  EXPECT_EQ(second.find("8x64->64x16x16+grad"), Conv3x3Algorithm::onednn);

  const auto j = nlohmann::json::parse(std::ifstream(file));
  EXPECT_EQ(j.at("machines").at(conv3x3_tuning_machine()).at("8x64->64x16x16"), "winograd4");
  EXPECT_NE(conv3x3_tuning_machine().find(std::to_string(threads) + " threads"), std::string::npos)
      << conv3x3_tuning_machine();

  // Other thread counts are another machine: their timings differ.
  at::set_num_threads(threads + 1);
  EXPECT_FALSE(second.find("8x64->64x16x16").has_value());
  at::set_num_threads(threads);
  EXPECT_TRUE(second.find("8x64->64x16x16").has_value());
}

TEST(Conv3x3TuningFile, WritersAtTheSameTimeLoseNothingAndTheFirstDecisionStands) {
  test::TempDir dir;
  const fs::path file = dir.path / "conv3x3-tuning.json";
  // Each writer opens the file on its own, as processes do (the lock is per open file): each
  // records shapes of its own, and all of them the same shape with an answer of its own.
  constexpr int kWriters = 6, kShapes = 15;
  const Conv3x3Algorithm answers[] = {Conv3x3Algorithm::onednn, Conv3x3Algorithm::winograd2,
                                      Conv3x3Algorithm::winograd4};
  std::vector<Conv3x3Algorithm> shared_decision(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      Conv3x3TuningFile store(file);
      for (int s = 0; s < kShapes; ++s) {
        EXPECT_EQ(store.record(fmt::format("{}x8->8x8x8", w * kShapes + s + 1), answers[w % 3]),
                  answers[w % 3]);
        if (s == kShapes / 2) shared_decision[w] = store.record("1x1->1x1x1", answers[w % 3]);
      }
    });
  for (auto& writer : writers) writer.join();

  Conv3x3TuningFile reader(file);
  for (int w = 0; w < kWriters; ++w) {
    for (int s = 0; s < kShapes; ++s)
      EXPECT_EQ(reader.find(fmt::format("{}x8->8x8x8", w * kShapes + s + 1)), answers[w % 3]);
    EXPECT_EQ(shared_decision[w], reader.find("1x1->1x1x1")) << "writer " << w;
  }
}

/// A store in which another process decides every shape between this one's look-up and record.
struct DecidedMeanwhile : Conv3x3TuningStore {
  std::optional<Conv3x3Algorithm> find(const std::string&) override { return std::nullopt; }
  Conv3x3Algorithm record(const std::string&, Conv3x3Algorithm) override {
    return Conv3x3Algorithm::winograd2;
  }
};

TEST(Conv3x3TuningFile, TheAutotuneTakesADecisionMadeMeanwhileOverItsOwnMeasurement) {
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::automatic);
  set_conv3x3_tuning_store(std::make_shared<DecidedMeanwhile>());
  torch::manual_seed(0);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(16, 16, 3).padding(1));
  {
    torch::NoGradGuard no_grad;
    const auto x = torch::randn({1, 16, 8, 8});
    EXPECT_LT((conv3x3(conv, x) - conv->forward(x)).abs().max().item<double>(), 1e-4);
  }
  const std::string key = "1x16->16x8x8";
  EXPECT_EQ(conv3x3_measurements().count(key), 1u) << "measured";
  EXPECT_EQ(conv3x3_choices().at(key), Conv3x3Algorithm::winograd2) << "yet the store's answer";
  set_conv3x3_tuning_store(nullptr);
  set_conv3x3_policy(Conv3x3Policy::onednn);
  reset_conv3x3_choices();
}

TEST(Conv3x3TuningFile, ACorruptOrUnwritableFileOnlyCostsAMeasurement) {
  test::TempDir dir;
  const fs::path file = dir.path / "conv3x3-tuning.json";
  std::ofstream(file) << "{\"machines\": [1, 2";  // cut short
  Conv3x3TuningFile store(file);
  EXPECT_FALSE(store.find("1x32->32x8x8").has_value());
  store.record("1x32->32x8x8", Conv3x3Algorithm::winograd2);
  EXPECT_EQ(Conv3x3TuningFile(file).find("1x32->32x8x8"), Conv3x3Algorithm::winograd2);

  // A path under a regular file cannot be created: the decision is not lost, only not kept.
  Conv3x3TuningFile unwritable(file / "below-a-file.json");
  EXPECT_NO_THROW(unwritable.record("1x32->32x8x8", Conv3x3Algorithm::winograd2));
  EXPECT_TRUE(unwritable.write_failed());
}

TEST(Conv3x3TuningFile, TheAutotuneTakesTheFilesDecisionsAndRecordsItsOwn) {
  test::TempDir dir;
  const fs::path file = dir.path / "conv3x3-tuning.json";
  // A decision made earlier on this machine, for a shape that oneDNN would likely win: taken as
  // written, not measured.
  const std::string known = "1x64->64x16x16";
  Conv3x3TuningFile(file).record(known, Conv3x3Algorithm::winograd2);

  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::automatic);
  set_conv3x3_tuning_store(std::make_shared<Conv3x3TuningFile>(file));
  torch::manual_seed(0);
  torch::nn::Conv2d wide(torch::nn::Conv2dOptions(64, 64, 3).padding(1));
  torch::nn::Conv2d narrow(torch::nn::Conv2dOptions(64, 32, 3).padding(1));
  {
    torch::NoGradGuard no_grad;
    const auto x = torch::randn({1, 64, 16, 16});
    const auto y = conv3x3(wide, x);
    EXPECT_LT((y - wide->forward(x)).abs().max().item<double>(), 1e-3);
    conv3x3(narrow, x);
  }
  const auto choices = conv3x3_choices();
  EXPECT_EQ(choices.at(known), Conv3x3Algorithm::winograd2);
  EXPECT_EQ(conv3x3_measurements().count(known), 0u) << "taken from the file, not measured";
  const std::string measured = "1x64->32x16x16";
  EXPECT_EQ(conv3x3_measurements().count(measured), 1u);
  EXPECT_EQ(Conv3x3TuningFile(file).find(measured), choices.at(measured)) << "recorded";

  set_conv3x3_tuning_store(nullptr);
  set_conv3x3_policy(Conv3x3Policy::onednn);
  reset_conv3x3_choices();
}

}  // namespace
}  // namespace ddpm
