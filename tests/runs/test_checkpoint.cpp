#include <fstream>
#include "runs/checkpoint.h"

#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

Checkpoint sample_checkpoint(float value, int64_t step) {
  Checkpoint c;
  c.model["w"] = torch::full({3, 2}, value);
  c.ema["w"] = torch::full({3, 2}, value / 2);
  c.optimizer["w.exp_avg"] = torch::zeros({3, 2});
  c.state = {{"step", step}};
  return c;
}

TEST(Checkpoint, WriteReadRoundTrip) {
  test::TempDir dir;
  const auto latest = dir.path / "checkpoints" / "latest";
  write_checkpoint(latest, sample_checkpoint(1.0f, 10));
  EXPECT_TRUE(checkpoint_exists(latest));
  for (const char* f :
       {"model.safetensors", "ema.safetensors", "optimizer.safetensors", "state.json"})
    EXPECT_TRUE(fs::is_regular_file(latest / f)) << f;
  write_checkpoint(latest, sample_checkpoint(2.0f, 20));  // replaces the old one
  auto c = read_checkpoint(latest);
  EXPECT_EQ(c.state["step"], 20);
  EXPECT_TRUE(torch::equal(c.model.at("w"), torch::full({3, 2}, 2.0f)));
  EXPECT_TRUE(torch::equal(c.ema.at("w"), torch::full({3, 2}, 1.0f)));
  EXPECT_FALSE(fs::exists(dir.path / "checkpoints" / "latest.tmp"));
  EXPECT_FALSE(fs::exists(dir.path / "checkpoints" / "latest.old"));
  EXPECT_TRUE(read_checkpoint(latest, /*with_optimizer=*/false).optimizer.empty());
}

// The states a kill can leave behind, each of which must still read as a complete checkpoint.
TEST(Checkpoint, SurvivesAKillAtEveryStage) {
  test::TempDir dir;
  const auto ckpt = dir.path / "checkpoints";
  const auto latest = ckpt / "latest";
  write_checkpoint(latest, sample_checkpoint(1.0f, 10));

  // Killed while writing latest.tmp: the half-written folder is ignored.
  fs::create_directories(ckpt / "latest.tmp");
  std::ofstream(ckpt / "latest.tmp" / "model.safetensors") << "partial";
  EXPECT_EQ(read_checkpoint(latest).state["step"], 10);

  // Killed between the two renames: only latest.old exists.
  fs::rename(latest, ckpt / "latest.old");
  EXPECT_TRUE(checkpoint_exists(latest));
  EXPECT_EQ(read_checkpoint(latest).state["step"], 10);

  // The next write cleans both up.
  write_checkpoint(latest, sample_checkpoint(3.0f, 30));
  EXPECT_EQ(read_checkpoint(latest).state["step"], 30);
  EXPECT_FALSE(fs::exists(ckpt / "latest.old"));
  EXPECT_FALSE(fs::exists(ckpt / "latest.tmp"));
}

TEST(Checkpoint, MissingFolderIsAClearError) {
  test::TempDir dir;
  try {
    read_checkpoint(dir.path / "nope");
    FAIL() << "no throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a checkpoint folder"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ddpm
