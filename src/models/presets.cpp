#include "models/presets.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <stdexcept>
#include <utility>

namespace ddpm {

namespace {

// google/ddpm-cifar10-32 config.json (diffusers): the DDPM CIFAR-10 network, ch = 128,
// ch_mult (1, 2, 2, 2), 2 res blocks, attention at 16×16, dropout 0.1, GroupNorm(32, ε 1e-6).
UNetConfig ddpm_cifar10() {
  UNetConfig c;
  c.layout = UNetLayout::diffusers;
  c.sample_size = 32;
  c.in_channels = 3;
  c.out_channels = 3;
  c.block_out_channels = {128, 256, 256, 256};
  c.layers_per_block = 2;
  c.down_block_types = {DownBlockType::plain, DownBlockType::attention, DownBlockType::plain,
                        DownBlockType::plain};
  c.up_block_types = {UpBlockType::plain, UpBlockType::plain, UpBlockType::attention,
                      UpBlockType::plain};
  c.add_attention = true;
  c.attention_head_dim = 0;  // null: one head, as the DDPM attn_block
  c.norm = NormType::group;
  c.norm_num_groups = 32;
  c.norm_eps = 1e-6;
  c.dropout = 0.1;
  c.flip_sin_to_cos = false;  // DDPM's sin-then-cos
  c.freq_shift = 1;           // DDPM divides by half − 1
  c.downsample_padding = 0;   // DDPM's TF SAME padding on a stride-2 conv
  c.mid_block_scale_factor = 1;
  return c;
}

// The Keras DDIM example's get_network(image_size = 64, widths = [32, 64, 96, 128],
// block_depth = 2), embedding_dims = 32.
UNetConfig keras_ddim() {
  UNetConfig c;
  c.layout = UNetLayout::keras;
  c.sample_size = 64;
  c.in_channels = 3;
  c.out_channels = 3;
  c.block_out_channels = {32, 64, 96, 128};
  c.layers_per_block = 2;  // block_depth
  c.down_block_types = {DownBlockType::plain, DownBlockType::plain, DownBlockType::plain};
  c.up_block_types = {UpBlockType::plain, UpBlockType::plain, UpBlockType::plain};
  c.add_attention = false;
  c.attention_head_dim = 0;
  c.norm = NormType::batch;      // BatchNormalization(center=False, scale=False)
  c.norm_eps = 1e-3;             // Keras BatchNormalization epsilon
  c.batch_norm_momentum = 0.01;  // Keras momentum 0.99
  c.conditioning = Conditioning::noise_variance;
  c.injection = Injection::input_only;
  c.embedding_dim = 32;
  c.upsampling = Upsampling::bilinear;
  c.downsampling = Downsampling::avg_pool;
  c.dropout = 0.0;
  c.conv_in_kernel = 1;
  c.conv_out_kernel = 1;
  c.norm_out = false;
  c.zero_init_out = true;  // kernel_initializer="zeros"
  return c;
}

// bbno: the DDPM/DDIM positional embedding of t instead of the noise-variance sinusoid, a 3×3
// conv_in, and norm + SiLU before conv_out; everything else as keras-ddim.
UNetConfig bbno() {
  UNetConfig c = keras_ddim();
  c.conditioning = Conditioning::timestep;
  c.flip_sin_to_cos = false;  // DDPM / DDIM get_timestep_embedding: sin first
  c.freq_shift = 1;           // and half − 1 in the denominator
  c.conv_in_kernel = 3;
  c.norm_out = true;
  return c;
}

UNetConfig bbano() {
  UNetConfig c = bbno();
  c.norm = NormType::batch_affine;
  return c;
}

UNetConfig bgano() {
  UNetConfig c = bbano();
  c.norm = NormType::group;
  c.norm_num_groups = 8;  // divides 32, 64, 96, 128 and the 32-channel embedding
  c.norm_eps = 1e-5;      // torch / diffusers GroupNorm default
  return c;
}

// Small enough to train on two CPU cores at 32×32×1: four levels 16/32/64/96, one resnet per down
// block, attention at 8×8 (down block 2, up block 1) and in the 4×4 mid block. Each level costs
// about the same in convolutions (width doubles as the side halves); 1.7M parameters, about 0.5 s
// for forward + backward at batch 64 on 2 threads with OpenBLAS (tests/models/test_presets.cpp
// prints it).
UNetConfig fashion_mnist() {
  UNetConfig c;
  c.layout = UNetLayout::diffusers;
  c.sample_size = 32;
  c.in_channels = 1;
  c.out_channels = 1;
  c.block_out_channels = {16, 32, 64, 96};
  c.layers_per_block = 1;
  c.down_block_types = {DownBlockType::plain, DownBlockType::plain, DownBlockType::attention,
                        DownBlockType::plain};
  c.up_block_types = {UpBlockType::plain, UpBlockType::attention, UpBlockType::plain,
                      UpBlockType::plain};
  c.add_attention = true;
  c.attention_head_dim = 8;  // 8 heads at 64 channels, 12 at 96
  c.norm = NormType::group;
  c.norm_num_groups = 8;  // divides every width; 2 channels per group at 16
  c.norm_eps = 1e-5;
  c.dropout = 0.0;  // short runs do not overfit
  c.flip_sin_to_cos = true;
  c.freq_shift = 0;
  c.downsample_padding = 1;
  return c;
}

const std::vector<std::pair<std::string, std::function<UNetConfig()>>>& presets() {
  static const std::vector<std::pair<std::string, std::function<UNetConfig()>>> table{
      {"fashion-mnist", fashion_mnist},
      {"ddpm-cifar10", ddpm_cifar10},
      {"keras-ddim", keras_ddim},
      {"bk", keras_ddim},
      {"bbno", bbno},
      {"bbano", bbano},
      {"bgano", bgano}};
  return table;
}

}  // namespace

UNetConfig model_preset(const std::string& name) {
  for (const auto& [preset, make] : presets())
    if (preset == name) return make();
  throw std::invalid_argument(fmt::format("unknown model preset '{}' (allowed: {})", name,
                                          fmt::join(model_preset_names(), ", ")));
}

std::vector<std::string> model_preset_names() {
  std::vector<std::string> names;
  for (const auto& entry : presets()) names.push_back(entry.first);
  return names;
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) n += p.numel();
  return n;
}

}  // namespace ddpm
