// libFuzzer target: a diffusers UNet2DModel config.json (src/runs/diffusers_format.cpp, read
// as model loading reads it: parse_python_json → unet_config_from_diffusers). An accepted config
// is expressible in diffusers and round-trips through unet_config_to_diffusers unchanged.
#include "fuzz_util.h"
#include "io/python_json.h"
#include "runs/diffusers_format.h"

using namespace ddpm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    const UNetConfig c = unet_config_from_diffusers(parse_python_json(text), "fuzz/config.json");
    const UNetConfig back =
        unet_config_from_diffusers(unet_config_to_diffusers(c), "fuzz/config.json (written)");
    fuzz::check(back == c, "an accepted config round-trips through unet_config_to_diffusers");
  });
  return 0;
}
