#include "training/ema.h"

#include "models/presets.h"
#include "models/state_dict.h"
#include "test_util.h"

namespace ddpm {
namespace {

// A Keras-style UNet: non-affine BatchNorm, so it has running statistics to get right.
UNet batch_norm_unet() {
  torch::manual_seed(3);
  UNet model(model_preset("bk"));
  return model;
}

TEST(EMA, StartsAsAnIndependentCopy) {
  UNet model = batch_norm_unet();
  EMA ema(model);
  auto ours = state_dict(*model), theirs = state_dict(*ema.model());
  ASSERT_EQ(ours.size(), theirs.size());
  for (const auto& [name, t] : ours) EXPECT_TRUE(torch::equal(t, theirs.at(name))) << name;
  torch::NoGradGuard no_grad;
  model->parameters().front().add_(1.0);  // not shared storage
  EXPECT_FALSE(torch::equal(model->parameters().front(), ema.model()->parameters().front()));
}

// The study's finding: parameters averaged, BatchNorm running statistics copied, never averaged.
TEST(EMA, AveragesParametersAndCopiesBatchNormStatistics) {
  UNet model = batch_norm_unet();
  EMA ema(model);
  TensorMap before;  // state_dict() shares storage with the module: snapshot it
  for (const auto& [name, t] : state_dict(*ema.model())) before[name] = t.clone();

  model->train();
  model->forward(torch::randn({4, 3, 64, 64}) * 3 + 1, torch::rand({4}));  // moves running stats
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(torch::randn_like(p));
  }
  const double decay = 0.9;
  ema.update(model, decay);

  auto online = model->named_parameters(true);
  for (const auto& p : ema.model()->named_parameters(true)) {
    auto expected = decay * before.at(p.key()) + (1 - decay) * online[p.key()];
    EXPECT_TRUE(test::tensors_close(p.value(), expected, 1e-6)) << p.key();
  }
  int64_t statistics = 0;
  auto online_buffers = model->named_buffers(true);
  for (const auto& b : ema.model()->named_buffers(true)) {
    EXPECT_TRUE(torch::equal(b.value(), online_buffers[b.key()])) << b.key();
    if (b.key().find("running_mean") != std::string::npos) {
      ++statistics;
      EXPECT_FALSE(torch::equal(b.value(), before.at(b.key()))) << b.key() << " did not move";
    }
  }
  EXPECT_GT(statistics, 0);
}

// Sampling from the EMA copy during training (grids, KID) must use the running statistics and
// leave them alone: a BatchNorm model in training mode would normalise with batch statistics
// and write the sampling batches into its running mean/variance.
TEST(EMA, IsInEvalModeAndSamplingLeavesItsStatisticsAlone) {
  UNet model = batch_norm_unet();
  model->train();
  EMA ema(model);
  EXPECT_FALSE(ema.model()->is_training());
  for (const auto& m : ema.model()->modules(false)) EXPECT_FALSE(m->is_training()) << m->name();
  TensorMap before;
  for (const auto& [name, t] : state_dict(*ema.model())) before[name] = t.clone();
  {
    torch::NoGradGuard no_grad;
    ema.model()->forward(torch::randn({4, 3, 64, 64}) * 3 + 1, torch::rand({4}));
  }
  for (const auto& [name, t] : state_dict(*ema.model()))
    EXPECT_TRUE(torch::equal(t, before.at(name))) << name << " changed by an evaluation";
  ema.update(model, 0.9);  // updating keeps the mode
  EXPECT_FALSE(ema.model()->is_training());
}

TEST(EMA, DecayWarmup) {
  EXPECT_DOUBLE_EQ(ema_decay_at(0.999, 0, true), 0.1);  // (1 + 0)/(10 + 0)
  EXPECT_DOUBLE_EQ(ema_decay_at(0.999, 90, true), 91.0 / 100.0);
  EXPECT_DOUBLE_EQ(ema_decay_at(0.999, 1000000, true), 0.999);
  EXPECT_DOUBLE_EQ(ema_decay_at(0.999, 0, false), 0.999);
}

}  // namespace
}  // namespace ddpm
