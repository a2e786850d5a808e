// libFuzzer target: a diffusers scheduler_config.json (src/runs/scheduler_config.cpp, read as
// model loading reads it: parse_python_json → apply_scheduler_config), then the noise schedule
// the accepted config describes (make_noise_schedule), as load_model builds it next.
#include "core/noise_schedule.h"
#include "fuzz_util.h"
#include "io/python_json.h"
#include "runs/scheduler_config.h"

using namespace ddpm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    RunConfig run;
    apply_scheduler_config(parse_python_json(text), run, "fuzz/scheduler_config.json");
    fuzz::check(run.schedule.num_train_timesteps >= 2 &&
                    run.schedule.num_train_timesteps <= kMaxTrainTimesteps,
                "num_train_timesteps within bounds");
    const NoiseSchedule schedule = make_noise_schedule(run.schedule);
    fuzz::check(schedule.alphas_cumprod.numel() == run.schedule.num_train_timesteps,
                "one alpha-bar per training step");
  });
  return 0;
}
