#include "eval/fid_inception.h"

#include <map>
#include <stdexcept>

namespace ddpm {

namespace {

// One BasicConv2d (torchvision inception.py): conv without bias, BatchNorm(eps = 0.001), ReLU.
struct ConvSpec {
  int64_t in, out, kh, kw, sh = 1, sw = 1, ph = 0, pw = 0;
};

constexpr double kBatchNormEps = 0.001;

// The convolutions of fid_inception_v3 in module order, with torchvision 0.14's hyperparameters.
const std::vector<std::pair<std::string, ConvSpec>>& conv_specs() {
  static const auto specs = [] {
    std::vector<std::pair<std::string, ConvSpec>> s;
    auto add = [&](const std::string& name, ConvSpec c) { s.emplace_back(name, c); };
    auto square = [](int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0) {
      return ConvSpec{in, out, k, k, stride, stride, pad, pad};
    };
    auto row = [](int64_t in, int64_t out, int64_t k) {  // kernel (1, k), padding (0, k/2)
      return ConvSpec{in, out, 1, k, 1, 1, 0, k / 2};
    };
    auto col = [](int64_t in, int64_t out, int64_t k) {  // kernel (k, 1), padding (k/2, 0)
      return ConvSpec{in, out, k, 1, 1, 1, k / 2, 0};
    };
    add("Conv2d_1a_3x3", square(3, 32, 3, 2));
    add("Conv2d_2a_3x3", square(32, 32, 3));
    add("Conv2d_2b_3x3", square(32, 64, 3, 1, 1));
    add("Conv2d_3b_1x1", square(64, 80, 1));
    add("Conv2d_4a_3x3", square(80, 192, 3));
    auto inception_a = [&](const std::string& n, int64_t in, int64_t pool_features) {
      add(n + ".branch1x1", square(in, 64, 1));
      add(n + ".branch5x5_1", square(in, 48, 1));
      add(n + ".branch5x5_2", square(48, 64, 5, 1, 2));
      add(n + ".branch3x3dbl_1", square(in, 64, 1));
      add(n + ".branch3x3dbl_2", square(64, 96, 3, 1, 1));
      add(n + ".branch3x3dbl_3", square(96, 96, 3, 1, 1));
      add(n + ".branch_pool", square(in, pool_features, 1));
    };
    inception_a("Mixed_5b", 192, 32);
    inception_a("Mixed_5c", 256, 64);
    inception_a("Mixed_5d", 288, 64);
    add("Mixed_6a.branch3x3", square(288, 384, 3, 2));  // InceptionB
    add("Mixed_6a.branch3x3dbl_1", square(288, 64, 1));
    add("Mixed_6a.branch3x3dbl_2", square(64, 96, 3, 1, 1));
    add("Mixed_6a.branch3x3dbl_3", square(96, 96, 3, 2));
    auto inception_c = [&](const std::string& n, int64_t c7) {
      add(n + ".branch1x1", square(768, 192, 1));
      add(n + ".branch7x7_1", square(768, c7, 1));
      add(n + ".branch7x7_2", row(c7, c7, 7));
      add(n + ".branch7x7_3", col(c7, 192, 7));
      add(n + ".branch7x7dbl_1", square(768, c7, 1));
      add(n + ".branch7x7dbl_2", col(c7, c7, 7));
      add(n + ".branch7x7dbl_3", row(c7, c7, 7));
      add(n + ".branch7x7dbl_4", col(c7, c7, 7));
      add(n + ".branch7x7dbl_5", row(c7, 192, 7));
      add(n + ".branch_pool", square(768, 192, 1));
    };
    inception_c("Mixed_6b", 128);
    inception_c("Mixed_6c", 160);
    inception_c("Mixed_6d", 160);
    inception_c("Mixed_6e", 192);
    add("Mixed_7a.branch3x3_1", square(768, 192, 1));  // InceptionD
    add("Mixed_7a.branch3x3_2", square(192, 320, 3, 2));
    add("Mixed_7a.branch7x7x3_1", square(768, 192, 1));
    add("Mixed_7a.branch7x7x3_2", row(192, 192, 7));
    add("Mixed_7a.branch7x7x3_3", col(192, 192, 7));
    add("Mixed_7a.branch7x7x3_4", square(192, 192, 3, 2));
    auto inception_e = [&](const std::string& n, int64_t in) {
      add(n + ".branch1x1", square(in, 320, 1));
      add(n + ".branch3x3_1", square(in, 384, 1));
      add(n + ".branch3x3_2a", row(384, 384, 3));
      add(n + ".branch3x3_2b", col(384, 384, 3));
      add(n + ".branch3x3dbl_1", square(in, 448, 1));
      add(n + ".branch3x3dbl_2", square(448, 384, 3, 1, 1));
      add(n + ".branch3x3dbl_3a", row(384, 384, 3));
      add(n + ".branch3x3dbl_3b", col(384, 384, 3));
      add(n + ".branch_pool", square(in, 192, 1));
    };
    inception_e("Mixed_7b", 1280);
    inception_e("Mixed_7c", 2048);
    return s;
  }();
  return specs;
}

const ConvSpec& conv_spec(const std::string& name) {
  static const auto by_name = [] {
    std::map<std::string, ConvSpec> m;
    for (const auto& [n, c] : conv_specs()) m.emplace(n, c);
    return m;
  }();
  return by_name.at(name);
}

constexpr int64_t kNumClasses = 1008;  // the 2015 graph's classifier (1000 ImageNet + 8 unused)

// TensorFlow's average pool ignores the zero padding (pytorch-fid's "Patch" comments).
torch::Tensor avg_pool_3x3(const torch::Tensor& x) {
  return torch::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, /*ceil_mode=*/false,
                           /*count_include_pad=*/false);
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> FIDInception::parameter_shapes() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& [name, c] : conv_specs()) {
    shapes.push_back({name + ".conv.weight", {c.out, c.in, c.kh, c.kw}});
    for (const char* bn : {"weight", "bias", "running_mean", "running_var"})
      shapes.push_back({name + ".bn." + bn, {c.out}});
  }
  shapes.push_back({"fc.weight", {kNumClasses, 2048}});
  shapes.push_back({"fc.bias", {kNumClasses}});
  return shapes;
}

FIDInception::FIDInception(const TensorMap& weights, const std::string& origin,
                           torch::Device device)
    : device_(device) {
  const auto shapes = parameter_shapes();
  for (const auto& [name, shape] : shapes) {
    auto it = weights.find(name);
    if (it == weights.end())
      throw std::invalid_argument(origin + ": the FID Inception weights lack tensor '" + name +
                                  "' (convert pytorch-fid's pt_inception-2015-12-05 .pth with "
                                  "scripts/convert_fid_inception.py)");
    if (it->second.sizes() != torch::IntArrayRef(shape))
      throw std::invalid_argument(origin + ": tensor '" + name + "' has shape " +
                                  c10::str(it->second.sizes()) + ", the FID Inception needs " +
                                  c10::str(torch::IntArrayRef(shape)));
    weights_[name] = it->second.to(device, torch::kFloat32).contiguous();
  }
  for (const auto& [name, tensor] : weights) {
    const std::string suffix = ".num_batches_tracked";
    const bool ignored = name.size() > suffix.size() &&
                         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    if (!ignored && !weights_.count(name))
      throw std::invalid_argument(origin + ": unexpected tensor '" + name +
                                  "' for the FID Inception (expected pytorch-fid's names, e.g. " +
                                  "Mixed_5b.branch1x1.conv.weight)");
  }
}

const torch::Tensor& FIDInception::weight(const std::string& name) const {
  return weights_.at(name);
}

torch::Tensor FIDInception::conv(const torch::Tensor& x, const std::string& name) const {
  const auto& c = conv_spec(name);
  auto y = torch::conv2d(x, weight(name + ".conv.weight"), {}, {c.sh, c.sw}, {c.ph, c.pw});
  y = torch::batch_norm(y, weight(name + ".bn.weight"), weight(name + ".bn.bias"),
                        weight(name + ".bn.running_mean"), weight(name + ".bn.running_var"),
                        /*training=*/false, /*momentum=*/0.0, kBatchNormEps,
                        /*cudnn_enabled=*/true);
  return torch::relu(y);
}

torch::Tensor FIDInception::inception_a(const torch::Tensor& x, const std::string& n) const {
  // FIDInceptionA
  auto b1 = conv(x, n + ".branch1x1");
  auto b5 = conv(conv(x, n + ".branch5x5_1"), n + ".branch5x5_2");
  auto b3 =
      conv(conv(conv(x, n + ".branch3x3dbl_1"), n + ".branch3x3dbl_2"), n + ".branch3x3dbl_3");
  auto bp = conv(avg_pool_3x3(x), n + ".branch_pool");
  return torch::cat({b1, b5, b3, bp}, 1);
}

torch::Tensor FIDInception::inception_b(const torch::Tensor& x, const std::string& n) const {
  // torchvision InceptionB (unpatched)
  auto b3 = conv(x, n + ".branch3x3");
  auto bd =
      conv(conv(conv(x, n + ".branch3x3dbl_1"), n + ".branch3x3dbl_2"), n + ".branch3x3dbl_3");
  auto bp = torch::max_pool2d(x, {3, 3}, {2, 2});
  return torch::cat({b3, bd, bp}, 1);
}

torch::Tensor FIDInception::inception_c(const torch::Tensor& x, const std::string& n) const {
  // FIDInceptionC
  auto b1 = conv(x, n + ".branch1x1");
  auto b7 = conv(conv(conv(x, n + ".branch7x7_1"), n + ".branch7x7_2"), n + ".branch7x7_3");
  auto bd = x;
  for (const char* s : {"_1", "_2", "_3", "_4", "_5"}) bd = conv(bd, n + ".branch7x7dbl" + s);
  auto bp = conv(avg_pool_3x3(x), n + ".branch_pool");
  return torch::cat({b1, b7, bd, bp}, 1);
}

torch::Tensor FIDInception::inception_d(const torch::Tensor& x, const std::string& n) const {
  // torchvision InceptionD (unpatched)
  auto b3 = conv(conv(x, n + ".branch3x3_1"), n + ".branch3x3_2");
  auto b7 = x;
  for (const char* s : {"_1", "_2", "_3", "_4"}) b7 = conv(b7, n + ".branch7x7x3" + s);
  auto bp = torch::max_pool2d(x, {3, 3}, {2, 2});
  return torch::cat({b3, b7, bp}, 1);
}

torch::Tensor FIDInception::inception_e(const torch::Tensor& x, const std::string& n,
                                        bool max_pool) const {
  // FIDInceptionE_1 (average pool without padding) and FIDInceptionE_2 (max pool)
  auto b1 = conv(x, n + ".branch1x1");
  auto b3 = conv(x, n + ".branch3x3_1");
  b3 = torch::cat({conv(b3, n + ".branch3x3_2a"), conv(b3, n + ".branch3x3_2b")}, 1);
  auto bd = conv(conv(x, n + ".branch3x3dbl_1"), n + ".branch3x3dbl_2");
  bd = torch::cat({conv(bd, n + ".branch3x3dbl_3a"), conv(bd, n + ".branch3x3dbl_3b")}, 1);
  auto pooled = max_pool ? torch::max_pool2d(x, {3, 3}, {1, 1}, {1, 1}) : avg_pool_3x3(x);
  auto bp = conv(pooled, n + ".branch_pool");
  return torch::cat({b1, b3, bd, bp}, 1);
}

std::vector<torch::Tensor> FIDInception::blocks(const torch::Tensor& images01) const {
  TORCH_CHECK(images01.dim() == 4 && images01.size(1) == 3,
              "FID Inception: images must be [N, 3, H, W] in [0, 1], got ", images01.sizes());
  torch::NoGradGuard no_grad;
  auto x = images01.to(device_, torch::kFloat32);
  // InceptionV3.forward: resize_input, then normalize_input.
  namespace F = torch::nn::functional;
  x = F::interpolate(x, F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{299, 299})
                            .mode(torch::kBilinear)
                            .align_corners(false));
  x = 2 * x - 1;
  std::vector<torch::Tensor> out;
  // Block 0: input to maxpool1
  x = conv(conv(conv(x, "Conv2d_1a_3x3"), "Conv2d_2a_3x3"), "Conv2d_2b_3x3");
  x = torch::max_pool2d(x, {3, 3}, {2, 2});
  out.push_back(x);  // [N, 64, 73, 73]
  // Block 1: maxpool1 to maxpool2
  x = conv(conv(x, "Conv2d_3b_1x1"), "Conv2d_4a_3x3");
  x = torch::max_pool2d(x, {3, 3}, {2, 2});
  out.push_back(x);  // [N, 192, 35, 35]
  // Block 2: maxpool2 to the aux classifier
  x = inception_a(x, "Mixed_5b");
  x = inception_a(x, "Mixed_5c");
  x = inception_a(x, "Mixed_5d");
  x = inception_b(x, "Mixed_6a");
  for (const char* n : {"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"}) x = inception_c(x, n);
  out.push_back(x);  // [N, 768, 17, 17]
  // Block 3: aux classifier to the final average pool
  x = inception_d(x, "Mixed_7a");
  x = inception_e(x, "Mixed_7b", /*max_pool=*/false);
  x = inception_e(x, "Mixed_7c", /*max_pool=*/true);
  out.push_back(torch::adaptive_avg_pool2d(x, {1, 1}));  // [N, 2048, 1, 1]
  return out;
}

torch::Tensor FIDInception::pool_features(const torch::Tensor& images01) const {
  return blocks(images01).back().flatten(1);  // [N, 2048]
}

torch::Tensor FIDInception::logits_unbiased(const torch::Tensor& features) const {
  torch::NoGradGuard no_grad;
  return features.to(device_, torch::kFloat32).matmul(weight("fc.weight").t());  // [N, 1008]
}

}  // namespace ddpm
