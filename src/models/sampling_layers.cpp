#include "models/sampling_layers.h"

#include <ATen/record_function.h>

#include <vector>

#include "models/conv3x3.h"
#include "models/kernels/upsample_kernel.h"

namespace ddpm {

namespace F = torch::nn::functional;

Downsample2DImpl::Downsample2DImpl(int64_t channels, Downsampling kind, int64_t padding)
    : kind_(kind), padding_(padding) {
  if (kind == Downsampling::conv) {
    TORCH_CHECK(padding == 0 || padding == 1, "Downsample2D padding must be 0 or 1, got ", padding);
    conv = register_module(
        "conv", torch::nn::Conv2d(
                    torch::nn::Conv2dOptions(channels, channels, 3).stride(2).padding(padding)));
  }
}

torch::Tensor Downsample2DImpl::forward(const torch::Tensor& x) {
  if (kind_ == Downsampling::avg_pool)
    return F::avg_pool2d(x, F::AvgPool2dFuncOptions(2).stride(2));             // [B, C, H/2, W/2]
  if (padding_ == 0) return conv(F::pad(x, F::PadFuncOptions({0, 1, 0, 1})));  // [B, C, H/2, W/2]
  return conv(x);                                                              // [B, C, H/2, W/2]
}

Upsample2DImpl::Upsample2DImpl(int64_t channels, Upsampling kind) : kind_(kind) {
  if (kind == Upsampling::nearest)
    conv = register_module(
        "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).padding(1)));
}

torch::Tensor upsample_nearest2x(const torch::Tensor& x) {
  const bool fast = x.dim() == 4 && x.is_cpu() && x.scalar_type() == torch::kFloat32 &&
                    !(torch::GradMode::is_enabled() && x.requires_grad());
  if (!fast)
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .scale_factor(std::vector<double>{2.0, 2.0})
                                 .mode(torch::kNearest));
  RECORD_FUNCTION("ddpm::upsample_nearest2x", std::vector<c10::IValue>{x});
  const auto in = x.contiguous();
  auto y = torch::empty({in.size(0), in.size(1), 2 * in.size(2), 2 * in.size(3)}, in.options());
  kernels::upsample_nearest2x(in.data_ptr<float>(), in.size(0) * in.size(1), in.size(2), in.size(3),
                              y.data_ptr<float>());
  return y;
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& x) {
  const std::vector<double> factor{2.0, 2.0};
  if (kind_ == Upsampling::bilinear)
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .scale_factor(factor)
                                 .mode(torch::kBilinear)
                                 .align_corners(false));  // [B, C, 2H, 2W]
  return conv3x3(conv, upsample_nearest2x(x));            // [B, C, 2H, 2W]
}

}  // namespace ddpm
