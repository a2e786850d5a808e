// ddpm predict: one network evaluation on given inputs, written as a tensor, to compare this
// implementation with another (diffusers' UNet2DModel(x, t).sample) value for value.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "enum_choices.h"
#include "io/safetensors.h"
#include "model_option.h"
#include "pipeline/predict.h"
#include "runs/threads.h"

namespace ddpm::cli {

namespace {

struct PredictFlags {
  std::string model;
  std::string input;
  std::string save_tensor;
  std::string weights;  ///< "" = ema
  int64_t batch_size = 64;
  std::string device = "auto";
  int64_t threads = 0;
};

}  // namespace

Run add_predict(CLI::App& app) {
  auto flags = std::make_shared<PredictFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "predict", "Evaluate the network once on given inputs and save its raw output");
  cmd->footer(
      "--input holds x (float [N, C, H, W]) and t (int64 [N], step indices); --save-tensor "
      "receives eps (float32 [N, C_out, H, W]), the network's raw output: epsilon, x0 or v as "
      "the model was trained.");
  cmd->add_option("--model", f.model, kModelHelp)->required();
  cmd->add_option(
         "--input", f.input,
         "safetensors file with tensors x and t (and class_labels for class-conditional models)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--save-tensor", f.save_tensor, "safetensors file to write eps to")->required();
  cmd->add_option("--weights", f.weights, kWeightsHelp)->check(enum_choices<WeightsKind>());
  cmd->add_option("--batch-size", f.batch_size, "Images per network call")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--device", f.device, "auto, cpu, cuda or cuda:N");
  cmd->add_option("--threads", f.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);

  return [flags]() -> int {
    auto& f = *flags;
    configure_cpu_threads(f.threads);
    const auto device = parse_device(f.device);
    auto loaded = load_model_option(f.model, f.weights, device);
    const auto input =
        read_predict_input(f.input, loaded.config.model, loaded.schedule.num_train_timesteps);
    fmt::print("model: {} on {}\n", describe(loaded, f.weights), device.str());
    auto eps =
        predict(loaded.model, loaded.schedule, input.x, input.t, f.batch_size, input.class_labels);
    write_safetensors(f.save_tensor, {{"eps", eps}});
    fmt::print("wrote eps [{}] ({}) to {}\n", fmt::join(eps.sizes(), ", "),
               to_string(loaded.config.prediction_type), f.save_tensor);
    return 0;
  };
}

}  // namespace ddpm::cli
