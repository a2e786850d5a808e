// libFuzzer target: a diffusers AutoencoderKL / VQModel config.json
// (src/runs/autoencoder_format.cpp, read as model loading reads it: parse_python_json →
// autoencoder_config_from_diffusers). An accepted config validates and round-trips through
// autoencoder_config_to_diffusers unchanged.
#include "fuzz_util.h"
#include "io/python_json.h"
#include "runs/autoencoder_format.h"

using namespace ddpm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    const AutoencoderConfig c =
        autoencoder_config_from_diffusers(parse_python_json(text), "fuzz/config.json");
    const AutoencoderConfig back = autoencoder_config_from_diffusers(
        autoencoder_config_to_diffusers(c), "fuzz/config.json (written)");
    fuzz::check(
        back.kind == c.kind && back.block_out_channels == c.block_out_channels &&
            back.latent_channels == c.latent_channels && back.in_channels == c.in_channels &&
            back.sample_size == c.sample_size && back.scaling_factor == c.scaling_factor &&
            back.num_vq_embeddings == c.num_vq_embeddings && back.vq_embed_dim == c.vq_embed_dim,
        "an accepted config round-trips through autoencoder_config_to_diffusers");
  });
  return 0;
}
