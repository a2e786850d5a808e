#include "models/autoencoder_config.h"

#include <fmt/format.h>

#include <stdexcept>

#include "io/json_fields.h"

namespace ddpm {

template <>
const EnumTable<AutoencoderKind>& enum_table<AutoencoderKind>() {
  static const EnumTable<AutoencoderKind> table{
      "autoencoder kind", {{AutoencoderKind::kl, "kl"}, {AutoencoderKind::vq, "vq"}}};
  return table;
}

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("autoencoder config: " + message);
}

}  // namespace

nlohmann::json to_json(const AutoencoderConfig& c) {
  return {{"kind", to_string(c.kind)},
          {"in_channels", c.in_channels},
          {"out_channels", c.out_channels},
          {"block_out_channels", c.block_out_channels},
          {"layers_per_block", c.layers_per_block},
          {"latent_channels", c.latent_channels},
          {"norm_num_groups", c.norm_num_groups},
          {"sample_size", c.sample_size},
          {"scaling_factor", c.scaling_factor},
          {"num_vq_embeddings", c.num_vq_embeddings},
          {"vq_embed_dim", c.vq_embed_dim}};
}

AutoencoderConfig autoencoder_config_from_json(const nlohmann::json& json) {
  AutoencoderConfig c;
  JsonFields in(json, "model");
  in.read_enum("kind", c.kind);
  in.read("in_channels", c.in_channels);
  in.read("out_channels", c.out_channels);
  in.read("block_out_channels", c.block_out_channels);
  in.read("layers_per_block", c.layers_per_block);
  in.read("latent_channels", c.latent_channels);
  in.read("norm_num_groups", c.norm_num_groups);
  in.read("sample_size", c.sample_size);
  in.read("scaling_factor", c.scaling_factor);
  in.read("num_vq_embeddings", c.num_vq_embeddings);
  in.read("vq_embed_dim", c.vq_embed_dim);
  in.finish();
  return c;
}

void validate(const AutoencoderConfig& c) {
  require(c.in_channels >= 1 && c.in_channels <= 4096,
          fmt::format("in_channels must be in [1, 4096], found {}", c.in_channels));
  require(c.out_channels >= 1 && c.out_channels <= 4096,
          fmt::format("out_channels must be in [1, 4096], found {}", c.out_channels));
  require(
      !c.block_out_channels.empty() && c.block_out_channels.size() <= 8,
      fmt::format("block_out_channels needs 1 to 8 levels, found {}", c.block_out_channels.size()));
  require(c.norm_num_groups >= 1,
          fmt::format("norm_num_groups must be >= 1, found {}", c.norm_num_groups));
  for (size_t i = 0; i < c.block_out_channels.size(); ++i) {
    const int64_t w = c.block_out_channels[i];
    require(w >= 1 && w <= 8192,
            fmt::format("block_out_channels[{}] must be in [1, 8192], found {}", i, w));
    require(w % c.norm_num_groups == 0,
            fmt::format("block_out_channels[{}] = {} is not divisible by norm_num_groups = {}", i,
                        w, c.norm_num_groups));
  }
  require(c.layers_per_block >= 1 && c.layers_per_block <= 16,
          fmt::format("layers_per_block must be in [1, 16], found {}", c.layers_per_block));
  require(c.latent_channels >= 1 && c.latent_channels <= 1024,
          fmt::format("latent_channels must be in [1, 1024], found {}", c.latent_channels));
  const int64_t f = downsample_factor(c);
  require(c.sample_size >= f && c.sample_size <= 65536 && c.sample_size % f == 0,
          fmt::format("sample_size must be a positive multiple of the downsample factor {} (at "
                      "most 65536), found {}",
                      f, c.sample_size));
  require(c.scaling_factor > 0 && std::isfinite(c.scaling_factor),
          fmt::format("scaling_factor must be positive, found {}", c.scaling_factor));
  if (c.kind == AutoencoderKind::vq) {
    require(
        c.num_vq_embeddings >= 1 && c.num_vq_embeddings <= (1 << 20),
        fmt::format("num_vq_embeddings must be in [1, 1048576], found {}", c.num_vq_embeddings));
    require(c.vq_embed_dim >= 0 && c.vq_embed_dim <= 1024,
            fmt::format("vq_embed_dim must be in [0, 1024] (0: latent_channels), found {}",
                        c.vq_embed_dim));
  }
}

int64_t downsample_factor(const AutoencoderConfig& c) {
  return int64_t(1) << (c.block_out_channels.empty() ? 0 : c.block_out_channels.size() - 1);
}

std::vector<int64_t> latent_shape(const AutoencoderConfig& c) {
  const int64_t side = c.sample_size / downsample_factor(c);
  return {c.latent_channels, side, side};
}

int64_t codebook_dim(const AutoencoderConfig& c) {
  return c.vq_embed_dim > 0 ? c.vq_embed_dim : c.latent_channels;
}

}  // namespace ddpm
