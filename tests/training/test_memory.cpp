// Issue #6's memory bound: training the fashion-mnist preset at batch 128 on the CPU stays under
// 2 GiB of resident memory (the whole test process, LibTorch included), measured as VmHWM after
// resetting it (proc(5), /proc/self/clear_refs value 5) — what ddpm_bench reports per task.
#include <fstream>
#include <string>

#include "models/presets.h"
#include "test_util.h"
#include "training/adamw.h"
#include "training/train_step.h"

namespace ddpm {
namespace {

double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

TEST(Memory, FashionMnistTrainingAtBatch128StaysUnder2GiB) {
  std::ofstream("/proc/self/clear_refs") << "5";
  torch::manual_seed(0);
  UNet model(model_preset("fashion-mnist"));
  model->train();
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (auto& p : model->named_parameters(true)) params.emplace_back(p.key(), p.value());
  AdamW optimizer(params, AdamWOptions{});
  auto schedule = make_noise_schedule(ScheduleConfig{});
  torch::Generator g = at::detail::createCPUGenerator(1);
  auto x0 = torch::rand({128, 1, 32, 32}, g) * 2 - 1;
  LossScaler scaler(false);
  TrainStep train_step(model, optimizer, scaler, schedule, {});
  for (int step = 0; step < 2; ++step) {  // the second step runs with the optimizer state
    const auto draws = draw_training_noise(schedule, x0.sizes(), g);
    ASSERT_TRUE(train_step.run({x0, draws.t, draws.noise, {}}, 1e-4).applied);
  }
  const double peak = peak_rss_mib();
  std::cout << "[ memory   ] peak resident memory, fashion-mnist, batch 128, 2 steps: " << peak
            << " MiB\n";
  ASSERT_GT(peak, 0) << "no VmHWM in /proc/self/status";
  EXPECT_LT(peak, 2048.0);
}

}  // namespace
}  // namespace ddpm
