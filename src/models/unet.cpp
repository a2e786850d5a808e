#include "models/unet.h"

#include "models/conv3x3.h"

#include <fmt/format.h>

namespace ddpm {

namespace {

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
}

}  // namespace

UNetImpl::UNetImpl(const UNetConfig& config) : config_(config) {
  validate(config_);
  const auto& c = config_;
  const auto& boc = c.block_out_channels;
  const int64_t L = num_levels(c);
  const bool keras = c.layout == UNetLayout::keras;
  const bool every_block = c.injection == Injection::every_block;
  const int64_t temb_channels = every_block ? time_embed_dim(c) : 0;
  const NormOptions norm = norm_options(c);

  auto resnet = [&](int64_t in, int64_t out, double output_scale_factor) {
    ResnetBlockOptions r;
    r.in_channels = in;
    r.out_channels = out;
    r.temb_channels = temb_channels;
    r.style = c.layout;
    r.norm = norm;
    r.dropout = c.dropout;
    r.output_scale_factor = output_scale_factor;
    r.time_scale_shift = c.resnet_time_scale_shift;
    return r;
  };
  auto attention = [&](std::optional<NormOptions> attn_norm, double rescale) {
    AttentionOptions a;  // channels are filled in per resnet by the block
    a.head_dim = c.attention_head_dim;
    a.norm = attn_norm;
    a.rescale_output_factor = rescale;
    return a;
  };

  // diffusers time_proj (Timesteps) has no parameters: it is timestep_embedding() in forward().
  conv_in = register_module("conv_in", conv(c.in_channels, boc[0], c.conv_in_kernel));
  if (every_block)
    time_embedding = register_module("time_embedding", TimestepEmbedding(boc[0], temb_channels));
  // diffusers UNet2DModel.__init__: class_embed_type None with num_class_embeds →
  // nn.Embedding(num_class_embeds, time_embed_dim); "timestep" → TimestepEmbedding(
  // timestep_input_dim, time_embed_dim) over time_proj(labels). The Keras layout embeds into the
  // width of its input-only conditioning embedding instead.
  if (c.num_class_embeds > 0) {
    const int64_t width = every_block ? temb_channels : c.embedding_dim;
    if (c.class_embed_type == ClassEmbedType::embedding)
      class_embedding_table_ =
          register_module("class_embedding", torch::nn::Embedding(c.num_class_embeds, width));
    else
      class_embedding_mlp_ =
          register_module("class_embedding", TimestepEmbedding(boc[0], temb_channels));
  }

  // Down path. `skips` tracks the channels of every tensor pushed for the up path, so the up
  // resnets' input widths follow from the same bookkeeping the forward pass does.
  int64_t ch = boc[0] + (every_block ? 0 : c.embedding_dim);
  std::vector<int64_t> skips;
  if (!keras) skips.push_back(ch);  // diffusers keeps conv_in's output as the first skip
  const int64_t num_blocks = keras ? L - 1 : L;
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_blocks; ++i) {
    const int64_t out = boc[i];
    DownBlockOptions d;
    for (int64_t j = 0; j < c.layers_per_block; ++j) {
      d.resnets.push_back(resnet(j == 0 ? ch : out, out, 1.0));
      skips.push_back(out);
    }
    ch = out;
    if (c.down_block_types[i] == DownBlockType::attention) d.attention = attention(norm, 1.0);
    if (keras || i < L - 1) {  // diffusers: every block but the last halves the resolution
      d.downsample = DownsampleOptions{out, c.downsampling, c.downsample_padding};
      d.skip_after_downsample = !keras;
      if (!keras) skips.push_back(out);
    }
    down_list_.push_back(DownBlock2D(d));
    down_blocks->push_back(down_list_.back());
  }

  // Mid block at the lowest resolution: diffusers resnet, attention, resnet with
  // mid_block_scale_factor; Keras block_depth resnets at block_out_channels[-1].
  MidBlockOptions m;
  const int64_t mid = boc[L - 1];
  const int64_t mid_resnets = keras ? c.layers_per_block : 2;
  for (int64_t j = 0; j < mid_resnets; ++j)
    m.resnets.push_back(resnet(j == 0 ? ch : mid, mid, c.mid_block_scale_factor));
  ch = mid;
  // diffusers UNetMidBlock2D: attn_groups = resnet_groups only for the "default" time scale
  // shift, otherwise the mid attention has no group_norm.
  // attn_norm_num_groups (diffusers' attn_groups) overrides that rule when set.
  std::optional<NormOptions> mid_attn_norm;
  if (c.attn_norm_num_groups > 0) {
    mid_attn_norm = norm;
    mid_attn_norm->num_groups = c.attn_norm_num_groups;
  } else if (c.resnet_time_scale_shift == ResnetTimeScaleShift::additive) {
    mid_attn_norm = norm;
  }
  if (c.add_attention) m.attention = attention(mid_attn_norm, c.mid_block_scale_factor);
  mid_block = register_module("mid_block", MidBlock2D(m));

  // Up path, lowest resolution first; every resnet consumes one skip.
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_blocks; ++i) {
    const int64_t out = keras ? boc[L - 2 - i] : boc[L - 1 - i];
    UpBlockOptions u;
    if (keras) {
      u.upsample = UpsampleOptions{ch, c.upsampling};
      u.upsample_first = true;
    }
    const int64_t n = keras ? c.layers_per_block : c.layers_per_block + 1;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t skip = skips.back();
      skips.pop_back();
      u.resnets.push_back(resnet((j == 0 ? ch : out) + skip, out, 1.0));
    }
    ch = out;
    if (c.up_block_types[i] == UpBlockType::attention) u.attention = attention(norm, 1.0);
    if (!keras && i < L - 1) u.upsample = UpsampleOptions{out, c.upsampling};
    up_list_.push_back(UpBlock2D(u));
    up_blocks->push_back(up_list_.back());
  }
  TORCH_CHECK(skips.empty(), "UNet: ", skips.size(), " skip connections left unconsumed");

  if (c.norm_out) conv_norm_out_ = NormLayer(*this, "conv_norm_out", norm, ch);
  conv_out = register_module("conv_out", conv(ch, c.out_channels, c.conv_out_kernel));
  if (c.zero_init_out) {
    torch::NoGradGuard no_grad;
    conv_out->weight.zero_();
    conv_out->bias.zero_();
  }
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x, const torch::Tensor& c_in,
                                const torch::Tensor& class_labels) {
  const auto& c = config_;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == c.in_channels, "UNet expects x of shape [B, ",
              c.in_channels, ", H, W], got ", x.sizes());
  TORCH_CHECK(x.is_floating_point(), "UNet expects a floating-point x, got ", x.scalar_type());
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  const int64_t factor = int64_t(1) << (num_levels(c) - 1);
  TORCH_CHECK(H % factor == 0 && W % factor == 0, "UNet with ", num_levels(c),
              " levels needs H and W divisible by ", factor, ", got ", H, "x", W);
  TORCH_CHECK(c_in.defined() && c_in.numel() >= 1 && c_in.dim() <= 1 &&
                  (c_in.numel() == B || c_in.numel() == 1),
              "UNet expects the conditioning c of shape [B] = [", B, "] (or a scalar), got ",
              c_in.sizes());
  auto cond = c_in.to(x.device()).reshape({-1}).expand({B});  // [B]

  const int64_t dim = conditioning_embedding_dim(c);
  auto emb = c.conditioning == Conditioning::timestep
                 ? timestep_embedding(cond, dim, c.flip_sin_to_cos, c.freq_shift)
                 : noise_variance_embedding(cond, dim);  // [B, D] float32
  emb = emb.to(x.scalar_type());
  torch::Tensor temb;
  if (!time_embedding.is_empty()) temb = time_embedding(emb);  // [B, 4·boc[0]]

  check_class_labels(c, class_labels, B);
  if (c.num_class_embeds > 0) {  // diffusers UNet2DModel.forward: emb = emb + class_emb
    auto labels = class_labels.to(x.device(), torch::kLong);  // [B]
    auto class_emb = class_embedding_mlp_.is_empty()
                         ? class_embedding_table_(labels)
                         : class_embedding_mlp_(timestep_embedding(labels, dim, c.flip_sin_to_cos,
                                                                   c.freq_shift)
                                                    .to(x.scalar_type()));  // [B, temb]
    class_emb = class_emb.to(x.scalar_type());
    if (temb.defined())
      temb = temb + class_emb;
    else
      emb = emb + class_emb;  // Keras layout: [B, D], concatenated below
  }

  auto h = c.center_input_sample ? 2 * x - 1 : x;  // [B, in, H, W]
  h = conv3x3(conv_in, h);                         // [B, boc[0], H, W]
  if (c.injection == Injection::input_only)        // Keras: UpSampling2D(nearest) + Concatenate
    h = torch::cat({h, emb.view({B, dim, 1, 1}).expand({B, dim, H, W})}, 1);  // [B, boc[0]+D, H, W]

  std::vector<torch::Tensor> skips;
  if (c.layout == UNetLayout::diffusers) skips.push_back(h);
  for (auto& down : down_list_) h = down(h, temb, skips);  // [B, boc[i], H/2^i, W/2^i]
  h = mid_block(h, temb);                                  // [B, boc[-1], H/f, W/f]
  for (auto& up : up_list_) h = up(h, temb, skips);        // back up to [B, boc[0], H, W]
  if (conv_norm_out_.defined()) h = conv_norm_out_.forward(h, {}, /*silu=*/true);
  return conv3x3(conv_out, h);  // [B, out, H, W]
}

}  // namespace ddpm
