#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ddpm {

template <>
const EnumTable<Normalization>& enum_table<Normalization>() {
  static const EnumTable<Normalization> table{
      "normalization",
      {{Normalization::minus_one_one, "[-1,1]"}, {Normalization::mean_std, "mean-std"}}};
  return table;
}

namespace {

namespace F = torch::nn::functional;

// Keras backend.epsilon(): Normalization divides by max(√variance, ε).
constexpr double kMinStddev = 1e-7;

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

void check_images(const torch::Tensor& t, const char* what, bool want_uint8) {
  if (!t.defined() || t.dim() < 3)
    throw std::invalid_argument(std::string(what) + ": expected images [..., C, H, W], found " +
                                (t.defined() ? shape_of(t) : "an undefined tensor"));
  if (want_uint8 && t.scalar_type() != torch::kUInt8)
    throw std::invalid_argument(std::string(what) + ": expected uint8 pixels, found " +
                                std::string(c10::toString(t.scalar_type())));
  if (!want_uint8 && !t.is_floating_point())
    throw std::invalid_argument(std::string(what) + ": expected floating-point values, found " +
                                std::string(c10::toString(t.scalar_type())));
}

// Per-channel statistics as a float32 [C, 1, 1] tensor beside `like`; checks C matches.
torch::Tensor channel_tensor(const std::vector<double>& values, const torch::Tensor& like,
                             const char* name) {
  const int64_t channels = like.size(-3);
  if (int64_t(values.size()) != channels)
    throw std::invalid_argument("mean-std normalization has " + std::to_string(values.size()) +
                                " " + name + " value(s) but the images have " +
                                std::to_string(channels) + " channel(s)");
  return torch::tensor(values, torch::kFloat64)
      .to(like.device(), torch::kFloat32)
      .view({channels, 1, 1});
}

void check_stddev(const NormalizationParams& params) {
  for (double s : params.stddev)
    if (!(s > 0))
      throw std::invalid_argument("mean-std normalization needs every stddev > 0, found " +
                                  std::to_string(s));
}

}  // namespace

NormalizationParams fit_normalization(Normalization kind, const torch::Tensor& images) {
  NormalizationParams params;
  params.kind = kind;
  if (kind != Normalization::mean_std) return params;
  check_images(images, "fit_normalization", /*want_uint8=*/true);
  if (images.dim() != 4 || images.size(0) == 0)
    throw std::invalid_argument(
        "fit_normalization: expected a non-empty batch [N, C, H, W], found " + shape_of(images));
  const int64_t channels = images.size(1);
  auto sum = torch::zeros({channels}, torch::kFloat64);
  auto sum_sq = torch::zeros({channels}, torch::kFloat64);
  // Chunks keep the float64 copy small (60000 Fashion-MNIST images would need 490 MB at once).
  constexpr int64_t kChunk = 2048;
  for (int64_t start = 0; start < images.size(0); start += kChunk) {
    auto x = images.slice(0, start, start + kChunk).to(torch::kFloat64) / 255.0;
    sum += x.sum({0, 2, 3});
    sum_sq += x.square().sum({0, 2, 3});
  }
  const double count = double(images.size(0) * images.size(2) * images.size(3));
  auto mean = sum / count;
  auto variance = (sum_sq / count - mean.square()).clamp_min(0);
  auto stddev = variance.sqrt().clamp_min(kMinStddev);
  params.mean.assign(mean.data_ptr<double>(), mean.data_ptr<double>() + channels);
  params.stddev.assign(stddev.data_ptr<double>(), stddev.data_ptr<double>() + channels);
  return params;
}

torch::Tensor normalize(const torch::Tensor& images, const NormalizationParams& params) {
  check_images(images, "normalize", /*want_uint8=*/true);
  auto x = images.to(torch::kFloat32);
  switch (params.kind) {
    case Normalization::minus_one_one:
      return x / 127.5f - 1.0f;  // DDPM: [0, 255] → [-1, 1]
    case Normalization::mean_std: {
      check_stddev(params);
      auto mean = channel_tensor(params.mean, x, "mean");
      auto stddev = channel_tensor(params.stddev, x, "stddev");
      return (x / 255.0f - mean) / stddev;
    }
  }
  throw std::logic_error("normalize: unhandled normalization");
}

torch::Tensor denormalize_to_uint8(const torch::Tensor& x, const NormalizationParams& params) {
  check_images(x, "denormalize_to_uint8", /*want_uint8=*/false);
  auto y = x.to(torch::kFloat32);
  torch::Tensor unit;  // pixels in [0, 1]
  switch (params.kind) {
    case Normalization::minus_one_one:
      unit = (y + 1.0f) * 0.5f;
      break;
    case Normalization::mean_std: {
      check_stddev(params);
      auto mean = channel_tensor(params.mean, y, "mean");
      auto stddev = channel_tensor(params.stddev, y, "stddev");
      unit = y * stddev + mean;  // Keras example: mean + std·x, clipped to [0, 1]
      break;
    }
  }
  return (unit.clamp(0.0, 1.0) * 255.0f).round().to(torch::kCPU, torch::kUInt8);
}

torch::Tensor hflip_mask(int64_t count, torch::Generator& generator) {
  return torch::rand({count}, generator) < 0.5;
}

torch::Tensor random_hflip(const torch::Tensor& images, torch::Generator& generator) {
  if (!images.defined() || images.dim() != 4)
    throw std::invalid_argument("random_hflip: expected images [N, C, H, W], found " +
                                (images.defined() ? shape_of(images) : "an undefined tensor"));
  auto mask = hflip_mask(images.size(0), generator).to(images.device()).view({-1, 1, 1, 1});
  return torch::where(mask, images.flip({3}), images);
}

torch::Tensor center_crop_square(const torch::Tensor& image) {
  if (!image.defined() || image.dim() < 2)
    throw std::invalid_argument("center_crop_square: expected an image [..., H, W], found " +
                                (image.defined() ? shape_of(image) : "an undefined tensor"));
  const int64_t h = image.size(-2), w = image.size(-1), side = std::min(h, w);
  return image.narrow(-2, (h - side) / 2, side).narrow(-1, (w - side) / 2, side);
}

torch::Tensor pad_to_size(const torch::Tensor& images, int64_t size) {
  if (!images.defined() || images.dim() < 2)
    throw std::invalid_argument("pad_to_size: expected images [..., H, W], found " +
                                (images.defined() ? shape_of(images) : "an undefined tensor"));
  const int64_t dh = size - images.size(-2), dw = size - images.size(-1);
  if (dh < 0 || dw < 0 || dh % 2 || dw % 2)
    throw std::invalid_argument("pad_to_size: cannot centre " + std::to_string(images.size(-2)) +
                                "x" + std::to_string(images.size(-1)) + " images in " +
                                std::to_string(size) + "x" + std::to_string(size) +
                                " (the gaps must be even and non-negative)");
  return torch::constant_pad_nd(images, {dw / 2, dw / 2, dh / 2, dh / 2}, 0);
}

torch::Tensor resize_antialiased(const torch::Tensor& images, int64_t size) {
  check_images(images, "resize_antialiased", /*want_uint8=*/true);
  if (size <= 0)
    throw std::invalid_argument("resize_antialiased: size must be positive, got " +
                                std::to_string(size));
  if (images.size(-2) == size && images.size(-1) == size) return images;
  // interpolate wants [N, C, H, W]; fold any leading dimensions into N.
  auto sizes = images.sizes().vec();
  const int64_t channels = sizes[sizes.size() - 3];
  auto x = images.reshape({-1, channels, sizes[sizes.size() - 2], sizes.back()});
  auto out = torch::empty({x.size(0), channels, size, size}, images.options());
  // Chunks bound the float32 copies (Fashion-MNIST at 64x64 would need 1 GB at once).
  constexpr int64_t kChunk = 1024;
  for (int64_t start = 0; start < x.size(0); start += kChunk) {
    auto chunk = x.slice(0, start, start + kChunk).to(torch::kFloat32);
    auto y = F::interpolate(chunk, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{size, size})
                                       .mode(torch::kBilinear)
                                       .align_corners(false)
                                       .antialias(true));
    out.slice(0, start, start + kChunk).copy_(y.round().clamp(0, 255));
  }
  sizes[sizes.size() - 2] = size;
  sizes.back() = size;
  return out.reshape(sizes);
}

}  // namespace ddpm
