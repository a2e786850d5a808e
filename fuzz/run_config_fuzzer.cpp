// libFuzzer target: the run config.json parser (src/runs/run_config.cpp: JSON with comments →
// run_config_from_json, and the same text as a --config patch over the default preset through
// resolve_run_config). An accepted config round-trips: to_json, parsed again, gives the same JSON.
#include "fuzz_util.h"
#include "runs/run_config.h"

using namespace ddpm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json j;
  try {
    j = parse_json_with_comments(text, "fuzz/config.json");
  } catch (const std::exception&) {
    return 0;
  }
  fuzz::expect_clean([&] {
    const RunConfig c = run_config_from_json(j);
    const nlohmann::json out = to_json(c);
    fuzz::check(to_json(run_config_from_json(out)) == out, "an accepted config round-trips");
  });
  if (j.is_object())
    fuzz::expect_clean([&] {
      const RunConfig c = resolve_run_config("fashion-mnist", {j});
      fuzz::check(to_json(run_config_from_json(to_json(c))) == to_json(c),
                  "a resolved config round-trips");
    });
  return 0;
}
