#include "pipeline/run_config.h"

#include "test_util.h"

namespace ddpm {
namespace {

using nlohmann::json;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(RunConfig, EveryPresetResolvesAndRoundTrips) {
  auto names = preset_names();
  for (const char* expected : {"fashion-mnist", "ddpm-cifar10", "keras-ddim", "bk", "bbno", "bbano",
                               "bgano"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  for (const auto& name : names) {
    auto config = resolve_run_config(name, {});
    EXPECT_EQ(config.preset, name);
    auto again = run_config_from_json(to_json(config));
    EXPECT_EQ(to_json(again), to_json(config)) << name;
  }
}

TEST(RunConfig, LayersApplyInOrder) {
  json file = {{"training", {{"lr", 0.5}, {"batch_size", 8}}}};
  json flags = {{"training", {{"lr", 0.25}}}};
  auto config = resolve_run_config("fashion-mnist", {file, flags});
  EXPECT_DOUBLE_EQ(config.training.lr, 0.25);      // flag beats file
  EXPECT_EQ(config.training.batch_size, 8);        // file beats preset
  EXPECT_EQ(config.training.steps, preset_json("fashion-mnist")["training"]["steps"]);
  auto keras = resolve_run_config("fashion-mnist", {{{"preset", "keras-ddim"}}});
  EXPECT_EQ(keras.preset, "keras-ddim");
  EXPECT_EQ(keras.schedule.beta_schedule, BetaSchedule::keras_cosine);
  EXPECT_EQ(keras.training.loss, LossType::l1);
}

// --epochs N on a preset that counts steps (fashion-mnist: 1500) must replace the steps, not
// be ignored under them; both above 0 in one patch is an error.
TEST(RunConfig, EpochsReplaceThePresetsSteps) {
  ASSERT_GT(preset_json("fashion-mnist")["training"]["steps"].get<int64_t>(), 0);
  auto by_epochs = resolve_run_config("fashion-mnist", {{{"training", {{"epochs", 3}}}}});
  EXPECT_EQ(by_epochs.training.steps, 0);
  EXPECT_EQ(by_epochs.training.epochs, 3);
  // A later patch in steps wins back.
  auto back = resolve_run_config(
      "fashion-mnist", {{{"training", {{"epochs", 3}}}}, {{"training", {{"steps", 7}}}}});
  EXPECT_EQ(back.training.steps, 7);
  auto both = error_of([] {
    resolve_run_config("fashion-mnist", {{{"training", {{"epochs", 3}, {"steps", 7}}}}});
  });
  EXPECT_NE(both.find("training.steps and training.epochs"), std::string::npos) << both;
}

TEST(RunConfig, ErrorsNameWhatIsAllowed) {
  auto unknown = error_of([] { resolve_run_config("fashion-mnist", {{{"training", {{"lrate", 1}}}}}); });
  EXPECT_NE(unknown.find("unknown key 'lrate'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("lr"), std::string::npos) << unknown;
  auto bad_enum = error_of([] { resolve_run_config("fashion-mnist", {{{"training", {{"loss", "huber"}}}}}); });
  EXPECT_NE(bad_enum.find("mse, l1"), std::string::npos) << bad_enum;
  auto bad_type = error_of([] { resolve_run_config("fashion-mnist", {{{"training", {{"steps", 1.5}}}}}); });
  EXPECT_NE(bad_type.find("expected an integer"), std::string::npos) << bad_type;
  auto bad_value = error_of([] { resolve_run_config("fashion-mnist", {{{"training", {{"batch_size", 0}}}}}); });
  EXPECT_NE(bad_value.find("batch_size"), std::string::npos) << bad_value;
  auto bad_preset = error_of([] { resolve_run_config("cifar", {}); });
  EXPECT_NE(bad_preset.find("fashion-mnist"), std::string::npos) << bad_preset;
}

TEST(RunConfig, ModelShapeFollowsTheDataUnlessSet) {
  auto config = resolve_run_config("fashion-mnist", {});
  resolve_data_shape(config, {}, 32, 3);
  EXPECT_EQ(config.model.in_channels, 3);
  EXPECT_EQ(config.model.out_channels, 3);
  EXPECT_EQ(config.model.sample_size, 32);
  json fixed = {{"model", {{"sample_size", 64}}}};
  auto pinned = resolve_run_config("fashion-mnist", {fixed});
  auto message = error_of([&] { resolve_data_shape(pinned, {fixed}, 32, 1); });
  EXPECT_NE(message.find("64x64"), std::string::npos) << message;
}

}  // namespace
}  // namespace ddpm
