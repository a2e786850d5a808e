// Faults during a run (issue 13) at the library level: a step with a non-finite loss or
// gradient changes nothing and enough of them in a row stop the run naming the step and the
// tensor; non-finite weights are never checkpointed; a failed write of a checkpoint, grid or
// log row throws and keeps the previous checkpoint, leaving no temporaries.
#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "file_size_limit.h"
#include "runs/checkpoint.h"
#include "test_util.h"
#include "training/non_finite.h"
#include "training/trainer.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

// The tiny run of test_trainer.cpp: a 2-level UNet on 16×16 grayscale noise, one thread.
RunConfig tiny_run(int64_t steps) {
  RunConfig c = resolve_run_config("fashion-mnist", {});
  UNetConfig m;
  m.sample_size = 16;
  m.in_channels = m.out_channels = 1;
  m.block_out_channels = {8, 16};
  m.layers_per_block = 1;
  m.down_block_types = {DownBlockType::plain, DownBlockType::attention};
  m.up_block_types = {UpBlockType::attention, UpBlockType::plain};
  m.norm_num_groups = 4;
  m.attention_head_dim = 8;
  c.model = m;
  c.data.source = "synthetic";
  c.training.steps = steps;
  c.training.batch_size = 8;
  c.training.lr = 1e-3;
  c.training.log_every = 1;
  c.training.sample_every = 0;
  c.training.checkpoint_every = 1000;
  c.training.sample_images = 4;
  c.training.sample_steps = 2;
  c.training.device = "cpu";
  c.training.threads = 1;
  c.training.seed = 5;
  return c;
}

Dataset synthetic_data() {
  torch::manual_seed(0);
  Dataset d;
  d.train = torch::randint(0, 256, {40, 1, 16, 16}, torch::kUInt8);
  d.validation = torch::randint(0, 256, {8, 1, 16, 16}, torch::kUInt8);
  d.image_size = 16;
  d.channels = 1;
  return d;
}

/// Runs `trainer` until step `n` (it checkpoints there, as on Ctrl-C).
void run_until(Trainer& trainer, int64_t n) {
  std::atomic<bool> stop{false};
  TrainEvents events;
  events.on_progress = [&](const TrainProgress& p) {
    if (p.step == n) stop = true;
  };
  trainer.run(events, &stop);
  ASSERT_EQ(trainer.step(), n);
}

/// Every tensor of `a` equals the one of the same name in `b`, bit for bit.
::testing::AssertionResult same_tensors(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " tensors";
  for (const auto& [name, t] : a)
    if (!b.count(name) || !torch::equal(t, b.at(name)))
      return ::testing::AssertionFailure() << name << " differs";
  return ::testing::AssertionSuccess();
}

/// From now on, the gradient of `name` arrives as NaN whenever `*on` is true.
void poison_gradient(Trainer& trainer, const std::string& name, const bool* on) {
  auto p = trainer.model()->named_parameters()[name];
  p.register_hook([on](torch::Tensor g) {
    return *on ? torch::full_like(g, std::numeric_limits<float>::quiet_NaN()) : g;
  });
}

// Steps 2 and 3 get a NaN gradient in conv_out.bias; max_bad_steps = 2 stops the run at step 3,
// naming step 2 and the parameter, with weights, EMA and AdamW state exactly as after step 1.
TEST(TrainerFaults, BadStepsChangeNothingAndStopTheRunNamingStepAndTensor) {
  test::TempDir dir;
  auto config = tiny_run(10);
  config.training.max_bad_steps = 2;
  Trainer trainer(config, synthetic_data(), dir.path);
  run_until(trainer, 1);
  const auto after_step_1 = read_checkpoint(dir.path / "checkpoints/latest");
  ASSERT_EQ(after_step_1.state.at("step"), 1);

  bool poisoned = true;
  poison_gradient(trainer, "conv_out.bias", &poisoned);
  std::vector<std::string> bad_steps;
  TrainEvents events;
  events.on_bad_step = [&](int64_t step, const std::string& tensor, int64_t consecutive) {
    bad_steps.push_back(fmt::format("{}:{}:{}", step, tensor, consecutive));
  };
  try {
    trainer.run(events);
    FAIL() << "the run went on through non-finite gradients";
  } catch (const TrainingDiverged& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.first_step(), 2);
    EXPECT_EQ(e.tensor(), "conv_out.bias");
    for (const char* part : {"step 3", "step 2", "the gradient of conv_out.bias",
                             "checkpoints/latest holds step 1", "max_bad_steps = 2"})
      EXPECT_NE(what.find(part), std::string::npos) << part << " in: " << what;
  }
  EXPECT_EQ(trainer.step(), 3);
  EXPECT_EQ(bad_steps, (std::vector<std::string>{"2:conv_out.bias:1", "3:conv_out.bias:2"}));
  // The run stopped without checkpointing; the state in memory is still step 1's.
  EXPECT_EQ(read_checkpoint(dir.path / "checkpoints/latest").state.at("step"), 1);
  trainer.save_checkpoint();
  const auto now = read_checkpoint(dir.path / "checkpoints/latest");
  EXPECT_TRUE(same_tensors(now.model, after_step_1.model)) << "weights";
  EXPECT_TRUE(same_tensors(now.ema, after_step_1.ema)) << "EMA";
  EXPECT_TRUE(same_tensors(now.optimizer, after_step_1.optimizer)) << "AdamW moments and step";
  // log.csv records the skipped steps honestly (no finite loss: nan).
  const auto rows = read_training_log(dir.path / "log.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(std::isfinite(rows[0].loss));
  EXPECT_TRUE(std::isnan(rows[2].loss));
}

// One bad step among good ones is skipped and the run goes on: max_bad_steps counts steps in a
// row, and AdamW took one step fewer than the run.
TEST(TrainerFaults, ALoneBadStepIsSkippedAndTheRunFinishes) {
  test::TempDir dir;
  auto config = tiny_run(4);
  config.training.max_bad_steps = 2;
  Trainer trainer(config, synthetic_data(), dir.path);
  bool poisoned = false;
  poison_gradient(trainer, "down_blocks.0.resnets.0.conv1.weight", &poisoned);
  int64_t bad = 0;
  TrainEvents events;
  events.on_progress = [&](const TrainProgress& p) { poisoned = p.step == 1; };  // step 2 only
  events.on_bad_step = [&](int64_t step, const std::string& tensor, int64_t consecutive) {
    EXPECT_EQ(step, 2);
    EXPECT_EQ(tensor, "down_blocks.0.resnets.0.conv1.weight");
    EXPECT_EQ(consecutive, 1);
    ++bad;
  };
  trainer.run(events);
  EXPECT_EQ(trainer.step(), 4);
  EXPECT_EQ(bad, 1);
  const auto c = read_checkpoint(dir.path / "checkpoints/latest");
  EXPECT_EQ(c.optimizer.at("step").item<int64_t>(), 3);
  EXPECT_EQ(first_non_finite(c.model), std::nullopt);
}

// Weights that went non-finite are refused at checkpoint time (latest keeps the last finite
// state), and their NaN loss makes every later step a bad one.
TEST(TrainerFaults, NonFiniteWeightsAreNeverCheckpointed) {
  test::TempDir dir;
  Trainer trainer(tiny_run(20), synthetic_data(), dir.path);
  run_until(trainer, 2);
  const auto good = read_checkpoint(dir.path / "checkpoints/latest");
  {
    torch::NoGradGuard no_grad;
    trainer.model()->named_parameters()["conv_in.weight"].view(-1)[0] =
        std::numeric_limits<float>::quiet_NaN();
  }
  try {
    trainer.save_checkpoint();
    FAIL() << "a checkpoint of NaN weights was written";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("conv_in.weight"), std::string::npos) << e.what();
  }
  try {
    trainer.run();
    FAIL() << "a run with NaN weights went on";
  } catch (const TrainingDiverged& e) {
    EXPECT_EQ(e.first_step(), 3);
    EXPECT_EQ(e.tensor(), "loss");
    EXPECT_NE(std::string(e.what()).find("training.max_bad_steps = 5"), std::string::npos);
  }
  EXPECT_EQ(trainer.step(), 7);
  const auto latest = read_checkpoint(dir.path / "checkpoints/latest");
  EXPECT_EQ(latest.state.at("step"), 2);
  EXPECT_TRUE(same_tensors(latest.model, good.model));
  EXPECT_TRUE(test::temporaries_under(dir.path).empty());
}

// EFBIG (RLIMIT_FSIZE) while writing a checkpoint, a grid and a log row: each throws naming the
// file and the OS error; checkpoints/latest is the previous one, intact; nothing half-written or
// temporary is left.
TEST(TrainerFaults, FailedWritesThrowAndKeepThePreviousCheckpoint) {
  test::TempDir dir;
  Trainer trainer(tiny_run(20), synthetic_data(), dir.path);
  run_until(trainer, 2);
  const auto before = read_checkpoint(dir.path / "checkpoints/latest");
  const auto model_bytes = fs::file_size(dir.path / "checkpoints/latest/model.safetensors");
  ASSERT_GT(model_bytes, 8192u);
  {
    test::FileSizeLimit limit(4096);  // state.json fits, model.safetensors does not
    try {
      trainer.save_checkpoint();
      FAIL() << "a checkpoint was written past RLIMIT_FSIZE";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::strerror(EFBIG)), std::string::npos) << e.what();
    }
  }
  const auto after = read_checkpoint(dir.path / "checkpoints/latest");
  EXPECT_EQ(after.state, before.state);
  EXPECT_TRUE(same_tensors(after.model, before.model));
  EXPECT_TRUE(same_tensors(after.optimizer, before.optimizer));
  EXPECT_EQ(test::temporaries_under(dir.path), std::vector<std::string>{});

  {
    test::FileSizeLimit limit(64);
    EXPECT_THROW(trainer.save_sample_grid(), std::runtime_error);
  }
  EXPECT_FALSE(fs::exists(dir.path / "samples/step_000002.png"));
  EXPECT_EQ(test::temporaries_under(dir.path), std::vector<std::string>{});

  // A log row that does not fit: run() stops with the error at its first row (step 3).
  const auto log_bytes = fs::file_size(dir.path / "log.csv");
  {
    test::FileSizeLimit limit(log_bytes + 8);
    try {
      trainer.run();
      FAIL() << "training went on without its log";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("log.csv"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::strerror(EFBIG)), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(trainer.step(), 3);
  EXPECT_EQ(fs::file_size(dir.path / "log.csv"), log_bytes) << "no torn row";
  EXPECT_EQ(read_training_log(dir.path / "log.csv").size(), 2u);
  EXPECT_EQ(read_checkpoint(dir.path / "checkpoints/latest").state.at("step"), 2);
}

}  // namespace
}  // namespace ddpm
