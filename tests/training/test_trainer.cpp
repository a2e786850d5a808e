#include "training/trainer.h"

#include <fstream>

#include "models/conv3x3.h"
#include "models/state_dict.h"
#include "runs/checkpoint.h"
#include "runs/model_loading.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

// A tiny run: a 2-level UNet on 16×16 grayscale noise images, a handful of steps.
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
  m.dropout = 0.1;  // exercises the dropout RNG across a resume
  c.model = m;
  c.data.source = "synthetic";
  c.data.hflip = true;  // exercises the flip RNG across a resume
  c.training.steps = steps;
  c.training.batch_size = 8;
  c.training.lr = 1e-3;
  c.training.warmup_steps = 2;
  c.training.ema_decay = 0.9;
  c.training.log_every = 1;
  c.training.sample_every = 0;
  c.training.checkpoint_every = 2;
  c.training.sample_images = 4;
  c.training.sample_steps = 2;
  c.training.device = "cpu";
  c.training.threads = 1;  // one thread: bit-for-bit reproducible reductions
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

TEST(Trainer, WritesTheRunDirectoryLayout) {
  test::TempDir dir;
  Trainer trainer(tiny_run(4), synthetic_data(), dir.path);
  std::vector<std::string> files;
  trainer.run({nullptr, [&](const std::string& kind, const fs::path& p) {
                 files.push_back(kind + ":" + p.filename().string());
               }});
  EXPECT_EQ(trainer.step(), 4);
  for (const char* f :
       {"config.json", "log.csv", "samples/step_000004.png", "checkpoints/latest/model.safetensors",
        "checkpoints/latest/ema.safetensors", "checkpoints/latest/optimizer.safetensors",
        "checkpoints/latest/state.json"})
    EXPECT_TRUE(fs::is_regular_file(dir.path / f)) << f;

  std::ifstream log(dir.path / "log.csv");
  std::string header;
  std::getline(log, header);
  EXPECT_EQ(header, "step,loss,lr,grad_norm,images_per_s,seconds");
  auto rows = read_training_log(dir.path / "log.csv");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows.back().step, 4);

  auto ckpt = read_checkpoint(dir.path / "checkpoints/latest");
  EXPECT_EQ(ckpt.state.at("step"), 4);
  // One generator per source of randomness (issue 16), and the world size that wrote it.
  for (const char* source : {"noise", "augment", "labels"})
    EXPECT_TRUE(ckpt.state.at("generators").contains(source)) << source;
  EXPECT_TRUE(ckpt.state.contains("global_generator"));
  EXPECT_EQ(ckpt.state.at("world_size"), 1);
  auto config =
      run_config_from_json(nlohmann::json::parse(std::ifstream(dir.path / "config.json")));
  EXPECT_EQ(config.model.block_out_channels, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(files.back(), "samples:step_000004.png");
}

// N steps, stop, resume, N more == 2N straight: same weights, EMA and optimizer state (≤ 1e-6),
// same log.
TEST(Trainer, ResumedRunEqualsStraightRun) {
  const int64_t n = 3;
  test::TempDir straight_dir, resumed_dir;
  Trainer straight(tiny_run(2 * n), synthetic_data(), straight_dir.path);
  straight.run();

  {
    Trainer first(tiny_run(2 * n), synthetic_data(), resumed_dir.path);
    std::atomic<bool> stop{false};
    first.run({[&](const TrainProgress& p) {
                 if (p.step == n) stop = true;
               },
               nullptr},
              &stop);
    ASSERT_EQ(first.step(), n);
  }
  at::manual_seed(12345);  // the resumed run must not depend on the global RNG's state here
  Trainer second(tiny_run(2 * n), synthetic_data(), resumed_dir.path);
  second.resume();
  EXPECT_EQ(second.step(), n);
  second.run();
  ASSERT_EQ(second.step(), 2 * n);

  auto a = read_checkpoint(straight_dir.path / "checkpoints/latest");
  auto b = read_checkpoint(resumed_dir.path / "checkpoints/latest");
  for (auto [part, x, y] :
       {std::tuple{"model", &a.model, &b.model}, std::tuple{"ema", &a.ema, &b.ema},
        std::tuple{"optimizer", &a.optimizer, &b.optimizer}}) {
    ASSERT_EQ(x->size(), y->size()) << part;
    for (const auto& [name, t] : *x)
      EXPECT_TRUE(test::tensors_close(y->at(name), t, 1e-6)) << part << " " << name;
  }
  auto log_a = read_training_log(straight_dir.path / "log.csv");
  auto log_b = read_training_log(resumed_dir.path / "log.csv");
  ASSERT_EQ(log_a.size(), log_b.size());
  for (size_t i = 0; i < log_a.size(); ++i) {
    EXPECT_EQ(log_a[i].step, log_b[i].step);
    EXPECT_NEAR(log_a[i].loss, log_b[i].loss, 1e-6);
  }
}

// Under the autotuned 3×3 convolutions the checkpoint records the algorithms the run used, and a
// resume (a new process, which has measured nothing) takes them instead of measuring afresh.
TEST(Trainer, ResumeTakesTheRecordedConvolutionAlgorithms) {
  test::TempDir dir;
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::automatic);
  // The first level's 8→8 convolutions at 16×16, batch 8, training: taken as pinned.
  const std::string shape = "8x8->8x16x16+grad";
  pin_conv3x3_choices({{shape, Conv3x3Algorithm::winograd4}});
  {
    Trainer trainer(tiny_run(2), synthetic_data(), dir.path);
    trainer.run();
  }
  const auto state = read_checkpoint(dir.path / "checkpoints/latest").state;
  ASSERT_TRUE(state.contains("conv3x3_choices")) << state.dump();
  EXPECT_EQ(state.at("conv3x3_choices").at(shape), "winograd4");
  // Every training shape the process decided is in the checkpoint (the sample grid made after it
  // adds inference shapes).
  std::map<std::string, Conv3x3Algorithm> recorded;
  for (const auto& [key, algorithm] : state.at("conv3x3_choices").items())
    recorded[key] = parse_enum<Conv3x3Algorithm>(algorithm.get<std::string>());
  for (const auto& [key, algorithm] : conv3x3_choices())
    if (key.find("+grad") != std::string::npos) EXPECT_EQ(recorded.count(key), 1u) << key;

  reset_conv3x3_choices();  // as in a new process
  Trainer resumed(tiny_run(4), synthetic_data(), dir.path);
  resumed.resume();
  EXPECT_EQ(conv3x3_choices(), recorded);
  resumed.run();
  EXPECT_EQ(conv3x3_choices().at(shape), Conv3x3Algorithm::winograd4);
  set_conv3x3_policy(Conv3x3Policy::onednn);
  reset_conv3x3_choices();
}

TEST(Trainer, RejectsDataOfTheWrongShape) {
  test::TempDir dir;
  Dataset d = synthetic_data();
  d.train = torch::zeros({8, 3, 16, 16}, torch::kUInt8);
  d.channels = 3;
  try {
    Trainer trainer(tiny_run(2), d, dir.path);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("1x16x16"), std::string::npos) << e.what();
  }
}

// train --init: a fresh run starts from training.init's weights, in the model and in the EMA.
TEST(Trainer, InitStartsFromTheGivenModelsWeights) {
  const auto tiny_unet = test::fixture("tiny-unet");
  RunConfig c = tiny_run(1);
  c.model = read_model_config(tiny_unet).model;  // 3×16×16, the diffusers fixture's network
  c.training.init = tiny_unet.string();
  c.training.lr = 1e-12;  // one AdamW step moves each weight by about lr
  c.training.warmup_steps = 0;
  c.training.sample_every = 0;
  Dataset d = synthetic_data();
  d.train = torch::randint(0, 256, {8, 3, 16, 16}, torch::kUInt8);
  d.channels = 3;
  const auto reference = test::load_fixture("tiny-unet/diffusion_pytorch_model.safetensors");

  test::TempDir dir;
  Trainer trainer(c, d, dir.path);
  trainer.run();
  for (auto* weights : {&trainer.model(), &trainer.ema().model()}) {
    const auto sd = state_dict(**weights);
    ASSERT_EQ(sd.size(), reference.size());
    for (const auto& [name, t] : reference)
      EXPECT_TRUE(test::tensors_close(sd.at(name), t, 1e-9)) << name;
  }
  auto written = nlohmann::json::parse(std::ifstream(dir.path / "config.json"));
  EXPECT_EQ(written["training"]["init"], tiny_unet.string());

  // A run whose architecture differs from the init model's (here only in the embedding) fails,
  // naming the difference.
  c.model.flip_sin_to_cos = false;
  test::TempDir other;
  Trainer mismatch(c, d, other.path);
  try {
    mismatch.load_init_weights();
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("flip_sin_to_cos"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ddpm

namespace ddpm {
namespace {

// Gradient clipping rescales the global norm before AdamW: clipped to 1e-12, the gradient falls
// far below Adam's ε = 1e-8, so a step moves the weights by ~lr·1e-4 instead of ~lr.
TEST(Trainer, ClipsTheGlobalGradientNorm) {
  auto largest_move = [](double clip) {
    test::TempDir dir;
    RunConfig c = tiny_run(1);
    c.training.grad_clip = clip;
    c.training.warmup_steps = 0;
    c.training.weight_decay = 0;
    Trainer trainer(c, synthetic_data(), dir.path);
    TensorMap before;
    for (const auto& [name, t] : state_dict(*trainer.model())) before[name] = t.clone();
    trainer.run();
    double move = 0;
    for (const auto& p : trainer.model()->named_parameters(true))
      move = std::max(move, (p.value() - before.at(p.key())).abs().max().item<double>());
    return move;
  };
  const double free = largest_move(0.0), clipped = largest_move(1e-12);
  EXPECT_GT(free, 0.5e-3) << "an unclipped Adam step moves some weight by about lr = 1e-3";
  EXPECT_LT(clipped, 1e-6) << "free " << free;
}

TEST(Trainer, Bf16AutocastTrainsCloseToFloat32AndFp16NeedsCuda) {
  auto first_losses = [](Precision precision, const fs::path& dir) {
    RunConfig c = tiny_run(3);
    c.training.precision = precision;
    Trainer trainer(c, synthetic_data(), dir);
    trainer.run();
    std::vector<double> losses;
    for (const auto& row : read_training_log(dir / "log.csv")) losses.push_back(row.loss);
    return losses;
  };
  test::TempDir full_dir, bf16_dir;
  const auto full = first_losses(Precision::fp32, full_dir.path);
  const auto bf16 = first_losses(Precision::bf16, bf16_dir.path);
  ASSERT_EQ(full.size(), 3u);
  ASSERT_EQ(bf16.size(), 3u);
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_TRUE(std::isfinite(bf16[i]));
    // Same batches, t and noise: the losses differ by bfloat16 rounding only.
    EXPECT_NEAR(bf16[i], full[i], 0.03 * full[i]) << "step " << i + 1;
  }
  EXPECT_NE(bf16, full) << "bf16 autocast changed nothing";
  std::ifstream config(bf16_dir.path / "config.json");
  EXPECT_EQ(nlohmann::json::parse(config)["training"]["precision"], "bf16");

  test::TempDir fp16_dir;
  RunConfig c = tiny_run(1);
  c.training.precision = Precision::fp16;
  EXPECT_THROW(Trainer(c, synthetic_data(), fp16_dir.path), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm
