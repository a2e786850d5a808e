// The latent cache of latent diffusion runs: read back when the autoencoder and data are the
// same, rebuilt when either changes or the file is damaged.
#include "training/latent_cache.h"

#include <gtest/gtest.h>

#include <fstream>

#include "io/safetensors.h"
#include "test_util.h"

namespace ddpm {
namespace {

Autoencoder tiny_autoencoder() {
  AutoencoderConfig c;
  c.in_channels = c.out_channels = 1;
  c.block_out_channels = {8, 8};
  c.norm_num_groups = 4;
  c.sample_size = 8;
  torch::manual_seed(0);
  Autoencoder ae(c);
  ae->eval();
  return ae;
}

TEST(LatentCache, ReusedForTheSameAutoencoderAndDataRebuiltOtherwise) {
  test::TempDir dir;
  const auto file = dir.path / "latents.safetensors";
  auto ae = tiny_autoencoder();
  Codec codec(ae, 0.5);
  const auto images = torch::randint(0, 256, {5, 1, 8, 8}, torch::kUInt8);
  int64_t encoded = 0;
  auto count = [&](int64_t done, int64_t) { encoded = done; };
  const auto first = cached_latents(file, codec, images, count);
  EXPECT_EQ(encoded, 5);
  EXPECT_EQ(first.sizes(), (std::vector<int64_t>{5, 4, 4, 4}));
  EXPECT_TRUE(test::tensors_close(first, codec.encode(images), 1e-6));

  // Same autoencoder, same images: read back, nothing encoded.
  encoded = 0;
  EXPECT_TRUE(torch::equal(cached_latents(file, codec, images, count), first));
  EXPECT_EQ(encoded, 0);

  // Other weights: a new key, recomputed.
  const auto key = latent_cache_key(codec, images);
  {
    torch::NoGradGuard no_grad;
    ae->parameters().front().add_(0.1);
  }
  EXPECT_NE(latent_cache_key(codec, images), key);
  const auto changed = cached_latents(file, codec, images, count);
  EXPECT_EQ(encoded, 5);
  EXPECT_FALSE(torch::equal(changed, first));

  // Other images or another scale: other keys.
  auto other = images.clone();
  other[0][0][0][0] = uint8_t(other[0][0][0][0].item<uint8_t>() ^ 1);
  EXPECT_NE(latent_cache_key(codec, other), latent_cache_key(codec, images));
  EXPECT_NE(latent_cache_key(Codec(ae, 0.25), images), latent_cache_key(codec, images));

  // A damaged file is recomputed, not trusted.
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "not a safetensors file";
  encoded = 0;
  EXPECT_TRUE(torch::equal(cached_latents(file, codec, images, count), changed));
  EXPECT_EQ(encoded, 5);
}

}  // namespace
}  // namespace ddpm
