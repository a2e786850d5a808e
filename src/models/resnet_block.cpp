#include "models/resnet_block.h"

#include "models/conv3x3.h"
#include "models/fused_dropout.h"

namespace ddpm {

namespace {

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
}

}  // namespace

ResnetBlock2DImpl::ResnetBlock2DImpl(const ResnetBlockOptions& o) : options_(o) {
  TORCH_CHECK(o.in_channels >= 1 && o.out_channels >= 1,
              "ResnetBlock2D needs positive channel counts, got ", o.in_channels, " -> ",
              o.out_channels);
  const bool keras = o.style == UNetLayout::keras;
  const bool scale_shift = o.time_scale_shift == ResnetTimeScaleShift::scale_shift;
  TORCH_CHECK(!(keras && scale_shift),
              "keras-style residual blocks support only the default time embedding");
  // Registration order = diffusers' attribute order, so state dicts list the same way.
  norm1_ = NormLayer(*this, keras ? "norm" : "norm1", o.norm, o.in_channels);
  conv1 = register_module("conv1", conv(o.in_channels, o.out_channels, 3));
  if (o.temb_channels > 0)
    time_emb_proj = register_module(
        "time_emb_proj",
        torch::nn::Linear(o.temb_channels, scale_shift ? 2 * o.out_channels : o.out_channels));
  if (!keras) norm2_ = NormLayer(*this, "norm2", o.norm, o.out_channels);
  dropout = register_module("dropout", torch::nn::Dropout(o.dropout));
  conv2 = register_module("conv2", conv(o.out_channels, o.out_channels, 3));
  if (o.in_channels != o.out_channels)
    conv_shortcut = register_module("conv_shortcut", conv(o.in_channels, o.out_channels, 1));
}

torch::Tensor ResnetBlock2DImpl::add_time(const torch::Tensor& h, const torch::Tensor& temb) {
  if (time_emb_proj.is_empty()) return h;
  TORCH_CHECK(temb.defined(), "ResnetBlock2D has a time_emb_proj but received no time embedding");
  auto t = time_emb_proj(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);  // [B, out(·2), 1, 1]
  return h + t;
}

torch::Tensor ResnetBlock2DImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
  return run(x, {}, temb);
}

torch::Tensor ResnetBlock2DImpl::forward_concat(const torch::Tensor& x, const torch::Tensor& skip,
                                                const torch::Tensor& temb) {
  return run(x, skip, temb);
}

torch::Tensor ResnetBlock2DImpl::run(const torch::Tensor& x_in, const torch::Tensor& skip,
                                     const torch::Tensor& temb) {
  const auto& o = options_;
  const bool split = skip.defined() && o.style != UNetLayout::keras && !conv_shortcut.is_empty();
  // Without the split, the concatenation is made here (keras style, identity shortcut).
  const auto x = skip.defined() && !split ? torch::cat({x_in, skip}, 1) : x_in;
  torch::Tensor h;
  if (o.style == UNetLayout::keras) {
    h = torch::silu(conv3x3(conv1, norm1_(x)));  // [B, out, H, W]  (Conv2D(activation=swish))
    h = add_time(h, temb);
    h = conv3x3(conv2, fused_dropout(h, dropout->options.p(), is_training()));  // [B, out, H, W]
    return h + (conv_shortcut.is_empty() ? x : conv1x1(conv_shortcut, x));
  }
  h = conv3x3(conv1, split ? norm1_.forward_concat(x, skip, /*silu=*/true)
                           : norm1_.forward(x, {}, /*silu=*/true));  // [B, out, H, W]
  if (o.time_scale_shift == ResnetTimeScaleShift::scale_shift && !time_emb_proj.is_empty()) {
    TORCH_CHECK(temb.defined(), "ResnetBlock2D (scale_shift) received no time embedding");
    auto t = time_emb_proj(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);  // [B, 2·out, 1, 1]
    auto chunks = t.chunk(2, 1);
    h = torch::silu(norm2_(h) * (1 + chunks[0]) + chunks[1]);  // [B, out, H, W]
  } else {
    torch::Tensor t;  // [B, out]: added to h before norm2, inside the fused kernel
    if (!time_emb_proj.is_empty()) {
      TORCH_CHECK(temb.defined(),
                  "ResnetBlock2D has a time_emb_proj but received no time embedding");
      t = time_emb_proj(torch::silu(temb));
    }
    h = norm2_.forward(h, t, /*silu=*/true);  // silu(norm2(h + t))  [B, out, H, W]
  }
  auto shortcut = conv_shortcut.is_empty() ? x
                  : split                  ? conv1x1_concat(conv_shortcut, x, skip)
                                           : conv1x1(conv_shortcut, x);  // [B, out, H, W]
  // conv2(h) + shortcut, the sum made inside the convolution where it can be.
  auto out = conv3x3(conv2, fused_dropout(h, dropout->options.p(), is_training()), shortcut);
  return o.output_scale_factor == 1.0 ? out : out / o.output_scale_factor;
}

}  // namespace ddpm
