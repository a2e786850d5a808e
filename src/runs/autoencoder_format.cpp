// diffusers 0.21.4: AutoencoderKL.__init__ (autoencoder_kl.py) and VQModel.__init__
// (vq_model.py) give the keys and defaults read here.
#include "runs/autoencoder_format.h"

#include "io/json_fields.h"
#include "runs/diffusers_format.h"
#include "runs/diffusers_keys.h"

namespace ddpm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void require_block_types(const json& config, const std::string& origin, const std::string& key,
                         const std::string& name, size_t levels) {
  auto it = config.find(key);
  if (it == config.end()) return;
  require(it->is_array() && it->size() == levels, origin,
          fmt::format("{} must list one block per entry of block_out_channels ({}), found {}", key,
                      levels, it->dump()));
  for (size_t i = 0; i < it->size(); ++i)
    require((*it)[i] == name, origin,
            fmt::format("{}[{}] = {} is not supported (allowed: \"{}\")", key, i, (*it)[i].dump(),
                        name));
}

}  // namespace

const char* diffusers_class_name(AutoencoderKind kind) {
  return kind == AutoencoderKind::kl ? "AutoencoderKL" : "VQModel";
}

AutoencoderConfig autoencoder_config_from_diffusers(const json& config, const std::string& origin) {
  require(config.is_object(), origin,
          "expected an AutoencoderKL or VQModel config (a JSON object), found " +
              std::string(config.type_name()));
  AutoencoderConfig c;
  if (auto it = config.find("_class_name"); it != config.end()) {
    require(*it == "AutoencoderKL" || *it == "VQModel", origin,
            "_class_name " + it->dump() +
                " is not an autoencoder this project builds (allowed: \"AutoencoderKL\", "
                "\"VQModel\")");
    c.kind = *it == "VQModel" ? AutoencoderKind::vq : AutoencoderKind::kl;
  } else if (config.contains("num_vq_embeddings")) {
    c.kind = AutoencoderKind::vq;
  }
  // The classes' defaults where they differ from AutoencoderConfig's.
  if (c.kind == AutoencoderKind::vq) c.latent_channels = 3;
  JsonFields in(config, origin);
  for (const auto& item : config.items())
    if (!item.key().empty() && item.key()[0] == '_') in.ignore(item.key());
  in.read("in_channels", c.in_channels);
  in.read("out_channels", c.out_channels);
  in.read("block_out_channels", c.block_out_channels);
  in.read("layers_per_block", c.layers_per_block);
  in.read("latent_channels", c.latent_channels);
  in.read("norm_num_groups", c.norm_num_groups);
  in.read("sample_size", c.sample_size);
  in.read("scaling_factor", c.scaling_factor);
  require_block_types(config, origin, "down_block_types", "DownEncoderBlock2D",
                      c.block_out_channels.size());
  require_block_types(config, origin, "up_block_types", "UpDecoderBlock2D",
                      c.block_out_channels.size());
  in.ignore("down_block_types");
  in.ignore("up_block_types");
  require_choice(config, origin, "act_fn", {"silu", "swish"}, "every activation here is SiLU");
  in.ignore("act_fn");
  if (c.kind == AutoencoderKind::kl) {
    // force_upcast only changes fp16 pipelines (the VAE is run in float32 here anyway).
    in.ignore("force_upcast");
  } else {
    in.read("num_vq_embeddings", c.num_vq_embeddings);
    std::optional<int64_t> dim;
    in.read("vq_embed_dim", dim);
    c.vq_embed_dim = dim.value_or(0);
    require_choice(config, origin, "norm_type", {"group"},
                   "the decoder's norms are GroupNorm (the spatial norm of MoVQ is not built)");
    in.ignore("norm_type");
  }
  try {
    in.finish();
    validate(c);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(origin + ": " + e.what());
  }
  return c;
}

json autoencoder_config_to_diffusers(const AutoencoderConfig& c) {
  const size_t levels = c.block_out_channels.size();
  json j{{"_class_name", diffusers_class_name(c.kind)},
         {"_diffusers_version", kDiffusersVersion},
         {"act_fn", "silu"},
         {"block_out_channels", c.block_out_channels},
         {"down_block_types", std::vector<std::string>(levels, "DownEncoderBlock2D")},
         {"in_channels", c.in_channels},
         {"latent_channels", c.latent_channels},
         {"layers_per_block", c.layers_per_block},
         {"norm_num_groups", c.norm_num_groups},
         {"out_channels", c.out_channels},
         {"sample_size", c.sample_size},
         {"scaling_factor", c.scaling_factor},
         {"up_block_types", std::vector<std::string>(levels, "UpDecoderBlock2D")}};
  if (c.kind == AutoencoderKind::kl) {
    j["force_upcast"] = true;
  } else {
    j["norm_type"] = "group";
    j["num_vq_embeddings"] = c.num_vq_embeddings;
    j["vq_embed_dim"] = c.vq_embed_dim > 0 ? json(c.vq_embed_dim) : json(nullptr);
  }
  return j;
}

}  // namespace ddpm
