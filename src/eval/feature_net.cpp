#include "eval/feature_net.h"

#include <stdexcept>

#include "data/transforms.h"
#include "eval/fashion_classifier.h"
#include "eval/fid_inception.h"
#include "io/safetensors.h"
#include "runs/model_loading.h"

namespace ddpm {

namespace {

bool classifier_fits(int64_t channels, int64_t height, int64_t width) {
  return channels == 1 && height == width && (height == 28 || height == kClassifierImageSize);
}

std::string classifier_misfit(int64_t channels, int64_t height, int64_t width) {
  return "the built-in Fashion-MNIST classifier features take 1-channel 28x28 or 32x32 images, "
         "but these are " +
         std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width) +
         "; pass --inception WEIGHTS.safetensors to use the FID Inception-v3 instead (see "
         "docs/evaluation.md for converting pytorch-fid's weights)";
}

class InceptionFeatureNet : public FeatureNet {
 public:
  InceptionFeatureNet(const std::string& path, torch::Device device)
      : path_(path), net_(read_safetensors(path).tensors, path, device) {}
  std::string name() const override { return "fid-inception-v3"; }
  std::string protocol() const override {
    return "pytorch-fid FID Inception-v3 (TF 2015-12-05 weights): pool3 2048-d features; images "
           "in [0,1], grayscale repeated to 3 channels, bilinear resize to 299x299 "
           "(align_corners=False), scaled to [-1,1]";
  }
  std::string weights() const override { return path_; }
  int64_t feature_dims() const override { return 2048; }
  void check_input(int64_t channels, int64_t height, int64_t width) const override {
    if (channels != 1 && channels != 3)
      throw std::invalid_argument("the FID Inception takes 1- or 3-channel images, got " +
                                  std::to_string(channels));
    if (height < 1 || width < 1) throw std::invalid_argument("the FID Inception got empty images");
  }
  torch::Tensor features(const torch::Tensor& images) override {
    auto x = (images.to(torch::kFloat32) + 1) / 2;   // pytorch-fid takes [0, 1]
    if (x.size(1) == 1) x = x.repeat({1, 3, 1, 1});  // as fid_score.py's PIL convert('RGB')
    return net_.pool_features(x).cpu();
  }
  torch::Tensor logits(const torch::Tensor& features) override {
    return net_.logits_unbiased(features).cpu();
  }

 private:
  std::string path_;
  FIDInception net_;
};

class ClassifierFeatureNet : public FeatureNet {
 public:
  ClassifierFeatureNet(const std::string& path, torch::Device device)
      : path_(path), device_(device), model_(load_fashion_classifier(path, device)) {}
  std::string name() const override { return "fashion-mnist-classifier"; }
  std::string protocol() const override {
    return "ddpm.cpp Fashion-MNIST classifier (assets/, `ddpm train-classifier`): global-average-"
           "pooled 64-d penultimate features of 1x32x32 images in [-1,1] (28x28 zero-padded to "
           "32x32); an in-domain Frechet distance, not comparable with Inception FID";
  }
  std::string weights() const override { return path_; }
  int64_t feature_dims() const override { return kClassifierFeatureDims; }
  void check_input(int64_t channels, int64_t height, int64_t width) const override {
    if (!classifier_fits(channels, height, width))
      throw std::invalid_argument(classifier_misfit(channels, height, width));
  }
  torch::Tensor features(const torch::Tensor& images) override {
    torch::NoGradGuard no_grad;
    auto x = images.to(device_, torch::kFloat32);
    if (x.size(-1) == 28) x = torch::constant_pad_nd(x, {2, 2, 2, 2}, -1.0);  // as data/ pads
    return model_->features(x).cpu();
  }
  torch::Tensor logits(const torch::Tensor& features) override {
    torch::NoGradGuard no_grad;
    return model_->logits(features.to(device_, torch::kFloat32)).cpu();
  }

 private:
  std::string path_;
  torch::Device device_;
  FashionClassifier model_;
};

}  // namespace

std::unique_ptr<FeatureNet> make_feature_net(const FeatureNetOptions& options, int64_t channels,
                                             int64_t height, int64_t width) {
  const auto device = parse_device(options.device);
  std::unique_ptr<FeatureNet> net;
  if (!options.inception_weights.empty()) {
    net = std::make_unique<InceptionFeatureNet>(options.inception_weights, device);
  } else {
    // Check the input before loading, so the error names both options even without weights.
    if (!classifier_fits(channels, height, width))
      throw std::invalid_argument(classifier_misfit(channels, height, width));
    const std::string path = options.classifier_weights.empty() ? default_classifier_path().string()
                                                                : options.classifier_weights;
    net = std::make_unique<ClassifierFeatureNet>(path, device);
  }
  net->check_input(channels, height, width);
  return net;
}

torch::Tensor extract_features(FeatureNet& net, const torch::Tensor& images, int64_t batch_size,
                               const FeatureProgress& progress) {
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8,
              "extract_features: images must be uint8 [N, C, H, W], got ", images.sizes(), " ",
              images.scalar_type());
  TORCH_CHECK(batch_size >= 1, "extract_features: batch_size must be >= 1");
  net.check_input(images.size(1), images.size(2), images.size(3));
  std::vector<torch::Tensor> out;
  const int64_t n = images.size(0);
  for (int64_t i = 0; i < n; i += batch_size) {
    auto batch = images.slice(0, i, i + batch_size).to(torch::kFloat32) / 127.5 - 1.0;
    out.push_back(net.features(batch));
    if (progress) progress(std::min(n, i + batch_size), n);
  }
  if (out.empty()) return torch::zeros({0, net.feature_dims()});
  return torch::cat(out);
}

}  // namespace ddpm
