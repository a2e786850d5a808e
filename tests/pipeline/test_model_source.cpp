// train --init / --arch: the model a run takes from elsewhere, and the contradictions refused.
#include "pipeline/model_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "models/presets.h"
#include "test_util.h"

namespace ddpm {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(ModelSource, InitTakesTheModelsArchitectureScheduleAndPrediction) {
  const auto source =
      init_source(test::repo_fixture("diffusers/scale-shift-1ch"), WeightsKind::raw);
  EXPECT_EQ(source.model.resnet_time_scale_shift, ResnetTimeScaleShift::scale_shift);
  ASSERT_TRUE(source.settings);
  const RunConfig run = resolve_run_config("fashion-mnist", {source_patch(source)});
  EXPECT_EQ(run.model, source.model);
  EXPECT_EQ(run.prediction_type, PredictionType::v_prediction);
  EXPECT_EQ(run.schedule.beta_schedule, BetaSchedule::squaredcos_cap_v2);
  EXPECT_EQ(run.sampling.sampler.timestep_spacing, TimestepSpacing::trailing);
  EXPECT_EQ(run.training.init, source.init);
  EXPECT_TRUE(std::filesystem::path(run.training.init).is_absolute());
  EXPECT_EQ(run.training.init_weights, WeightsKind::raw);
  // The fashion-mnist recipe still gives everything else.
  EXPECT_EQ(run.training.batch_size, resolve_run_config("fashion-mnist", {}).training.batch_size);
}

TEST(ModelSource, ArchTakesTheArchitectureOnly) {
  const auto source = arch_source(test::fixture("tiny-unet/config.json"));
  EXPECT_FALSE(source.settings);
  const json flags = {{"model", {{"dropout", 0.2}}}, {"prediction_type", "v_prediction"}};
  check_model_source(source, "fashion-mnist", false, {flags});
  const RunConfig run = resolve_run_config("fashion-mnist", {source_patch(source), flags});
  EXPECT_EQ(run.model.block_out_channels, source.model.block_out_channels);
  EXPECT_EQ(run.model.dropout, 0.2);
  EXPECT_EQ(run.prediction_type, PredictionType::v_prediction);
  EXPECT_TRUE(run.training.init.empty());

  EXPECT_THAT(error_of([] { arch_source(test::fixture("tiny-unet")); }),
              HasSubstr("config.json file"));
  EXPECT_THAT(
      error_of([] { arch_source(test::fixture("tiny-unet/scheduler/scheduler_config.json")); }),
      HasSubstr("UNet2DModel"));
}

TEST(ModelSource, ContradictionsAreRefusedNamingBothSides) {
  const auto tiny = init_source(test::fixture("tiny-unet"), WeightsKind::ema);
  // A preset with another architecture, given explicitly.
  std::string message = error_of([&] { check_model_source(tiny, "ddpm-cifar10", true, {}); });
  EXPECT_THAT(message, HasSubstr("--preset ddpm-cifar10"));
  EXPECT_THAT(message, HasSubstr("--init"));
  EXPECT_THAT(message, HasSubstr("block_out_channels"));
  // The same preset left implicit (the default recipe) is fine.
  EXPECT_NO_THROW(check_model_source(tiny, "fashion-mnist", false, {}));
  // Model keys other than dropout and sample_size.
  message = error_of([&] {
    check_model_source(tiny, "fashion-mnist", false,
                       {json{{"model", {{"sample_size", 32}, {"layers_per_block", 3}}}}});
  });
  EXPECT_THAT(message, HasSubstr("model.layers_per_block"));

  // A preset whose architecture agrees but whose prediction type does not.
  ModelSource cifar;
  cifar.flag = "--init google";
  cifar.model = model_preset("ddpm-cifar10");
  cifar.settings = resolve_run_config("ddpm-cifar10", {});
  EXPECT_NO_THROW(check_model_source(cifar, "ddpm-cifar10", true, {}));
  cifar.settings->prediction_type = PredictionType::v_prediction;
  message = error_of([&] { check_model_source(cifar, "ddpm-cifar10", true, {}); });
  EXPECT_THAT(message, HasSubstr("predicts \"epsilon\""));
  cifar.settings->prediction_type = PredictionType::epsilon;
  cifar.settings->schedule.beta_schedule = BetaSchedule::squaredcos_cap_v2;
  EXPECT_THAT(error_of([&] { check_model_source(cifar, "ddpm-cifar10", true, {}); }),
              HasSubstr("noise schedule"));
  // --arch carries no schedule: only the architecture is compared.
  ModelSource arch = cifar;
  arch.settings.reset();
  arch.model.dropout = 0.0;
  EXPECT_NO_THROW(check_model_source(arch, "ddpm-cifar10", true, {}));
}

}  // namespace
}  // namespace ddpm
