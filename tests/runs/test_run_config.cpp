#include "runs/run_config.h"

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
  for (const char* expected :
       {"fashion-mnist", "ddpm-cifar10", "keras-ddim", "bk", "bbno", "bbano", "bgano"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  for (const auto& name : names) {
    auto config = resolve_run_config(name, {});
    EXPECT_EQ(config.preset, name);
    const auto again = run_config_from_json(to_json(config));
    // Field by field where the sections have a field-wise ==, else the fields that differ
    // between presets: to_json against to_json would pass a field left out of both.
    EXPECT_EQ(again.preset, config.preset);
    EXPECT_EQ(again.model, config.model) << name;
    EXPECT_EQ(again.prediction_type, config.prediction_type);
    EXPECT_EQ(again.data.source, config.data.source);
    EXPECT_EQ(again.data.image_size, config.data.image_size);
    EXPECT_EQ(again.data.normalization, config.data.normalization);
    EXPECT_EQ(again.schedule.num_train_timesteps, config.schedule.num_train_timesteps);
    EXPECT_EQ(again.schedule.beta_start, config.schedule.beta_start);
    EXPECT_EQ(again.schedule.beta_end, config.schedule.beta_end);
    EXPECT_EQ(again.training.steps, config.training.steps);
    EXPECT_EQ(again.training.batch_size, config.training.batch_size);
    EXPECT_EQ(again.training.lr, config.training.lr);
    EXPECT_EQ(again.training.weight_decay, config.training.weight_decay);
    EXPECT_EQ(again.training.loss, config.training.loss);
    EXPECT_EQ(again.training.ema_decay, config.training.ema_decay);
    EXPECT_EQ(again.training.sample_every, config.training.sample_every);
    EXPECT_EQ(again.sampling.sampler.kind, config.sampling.sampler.kind);
    EXPECT_EQ(again.sampling.sampler.steps, config.sampling.sampler.steps);
    EXPECT_EQ(to_json(again), to_json(config)) << name;
  }
  // Every key of every section carries its field: with the key gone, the value read back is
  // the default, not what was written.
  auto config = resolve_run_config("fashion-mnist", {});
  config.training.lr = 0.0123;
  config.data.hflip = true;
  config.model.dropout = 0.3;
  auto j = to_json(config);
  EXPECT_EQ(run_config_from_json(j).training.lr, 0.0123);
  for (const char* section : {"training", "data", "model"}) {
    for (const auto& [key, value] : j[section].items()) {
      auto without = j;
      without[section].erase(key);
      RunConfig read;
      try {
        read = run_config_from_json(without);
      } catch (const std::invalid_argument&) {
        continue;  // refused without it: noticed
      }
      if (to_json(RunConfig{})[section].at(key) != value)
        EXPECT_NE(to_json(read)[section].at(key), value) << section << "." << key;
    }
  }
}

TEST(RunConfig, LayersApplyInOrder) {
  json file = {{"training", {{"lr", 0.5}, {"batch_size", 8}}}};
  json flags = {{"training", {{"lr", 0.25}}}};
  auto config = resolve_run_config("fashion-mnist", {file, flags});
  EXPECT_DOUBLE_EQ(config.training.lr, 0.25);  // flag beats file
  EXPECT_EQ(config.training.batch_size, 8);    // file beats preset
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
  auto back = resolve_run_config("fashion-mnist",
                                 {{{"training", {{"epochs", 3}}}}, {{"training", {{"steps", 7}}}}});
  EXPECT_EQ(back.training.steps, 7);
  auto both = error_of([] {
    resolve_run_config("fashion-mnist", {{{"training", {{"epochs", 3}, {"steps", 7}}}}});
  });
  EXPECT_NE(both.find("training.steps and training.epochs"), std::string::npos) << both;
}

TEST(RunConfig, ErrorsNameWhatIsAllowed) {
  auto unknown = error_of([] {
    resolve_run_config("fashion-mnist", {{{"training", {{"lrate", 1}}}}});
  });
  EXPECT_NE(unknown.find("unknown key 'lrate'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("lr"), std::string::npos) << unknown;
  auto bad_enum = error_of([] {
    resolve_run_config("fashion-mnist", {{{"training", {{"loss", "huber"}}}}});
  });
  EXPECT_NE(bad_enum.find("mse, l1"), std::string::npos) << bad_enum;
  auto bad_type = error_of([] {
    resolve_run_config("fashion-mnist", {{{"training", {{"steps", 1.5}}}}});
  });
  EXPECT_NE(bad_type.find("expected an integer"), std::string::npos) << bad_type;
  auto bad_value = error_of([] {
    resolve_run_config("fashion-mnist", {{{"training", {{"batch_size", 0}}}}});
  });
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
