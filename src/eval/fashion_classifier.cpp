#include "eval/fashion_classifier.h"

#include <stdexcept>

#include "io/safetensors.h"
#include "models/state_dict.h"

#ifndef DDPM_ASSETS_DIR
#define DDPM_ASSETS_DIR "assets"
#endif

namespace ddpm {

namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
}

}  // namespace

FashionClassifierImpl::FashionClassifierImpl() {
  const int64_t c[] = {1, 16, 16, 32, 32, 64, 64};
  torch::nn::Conv2d* convs[] = {&conv1, &conv2, &conv3, &conv4, &conv5, &conv6};
  torch::nn::BatchNorm2d* bns[] = {&bn1, &bn2, &bn3, &bn4, &bn5, &bn6};
  for (int i = 0; i < 6; ++i) {
    *convs[i] = register_module("conv" + std::to_string(i + 1), conv3x3(c[i], c[i + 1]));
    *bns[i] = register_module("bn" + std::to_string(i + 1), torch::nn::BatchNorm2d(c[i + 1]));
  }
  fc = register_module("fc", torch::nn::Linear(kClassifierFeatureDims, kClassifierClasses));
}

torch::Tensor FashionClassifierImpl::features(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == kClassifierImageSize &&
                  x.size(3) == kClassifierImageSize,
              "the Fashion-MNIST classifier takes images [N, 1, 32, 32], got ", x.sizes());
  auto block = [](torch::Tensor h, torch::nn::Conv2d& conv, torch::nn::BatchNorm2d& bn) {
    return torch::relu(bn(conv(h)));
  };
  auto h = block(block(x, conv1, bn1), conv2, bn2);  // [N, 16, 32, 32]
  h = torch::max_pool2d(h, 2);                       // [N, 16, 16, 16]
  h = block(block(h, conv3, bn3), conv4, bn4);       // [N, 32, 16, 16]
  h = torch::max_pool2d(h, 2);                       // [N, 32, 8, 8]
  h = block(block(h, conv5, bn5), conv6, bn6);       // [N, 64, 8, 8]
  return h.mean({2, 3});                             // [N, 64]
}

torch::Tensor FashionClassifierImpl::logits(const torch::Tensor& features) {
  return fc(features);
}

torch::Tensor FashionClassifierImpl::forward(const torch::Tensor& x) {
  return logits(features(x));
}

std::filesystem::path default_classifier_path() {
  return std::filesystem::path(DDPM_ASSETS_DIR) / "fashion_mnist_classifier.safetensors";
}

FashionClassifier load_fashion_classifier(const std::filesystem::path& path,
                                          const torch::Device& device) {
  if (!std::filesystem::is_regular_file(path))
    throw std::runtime_error(path.string() +
                             ": no Fashion-MNIST classifier weights here (the repository ships "
                             "assets/fashion_mnist_classifier.safetensors; `ddpm train-classifier "
                             "--out FILE` makes one)");
  FashionClassifier model;
  try {
    load_state_dict(*model, read_safetensors(path).tensors, path.string());
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(e.what()) +
                             " (not weights of `ddpm train-classifier`'s network?)");
  }
  model->to(device);
  model->eval();
  return model;
}

void save_fashion_classifier(const std::filesystem::path& path, const FashionClassifier& model,
                             const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, state_dict(*model), metadata);
}

double classifier_accuracy(FashionClassifier& model, const torch::Tensor& images,
                           const torch::Tensor& labels, int64_t batch_size) {
  TORCH_CHECK(images.size(0) == labels.size(0), "classifier_accuracy: ", images.size(0),
              " images but ", labels.size(0), " labels");
  torch::NoGradGuard no_grad;
  model->eval();
  const auto device = model->parameters().front().device();
  int64_t correct = 0;
  for (int64_t i = 0; i < images.size(0); i += batch_size) {
    auto x = images.slice(0, i, i + batch_size).to(device, torch::kFloat32) / 127.5 - 1.0;
    auto predicted = model->forward(x).argmax(1).cpu();
    correct += (predicted == labels.slice(0, i, i + batch_size)).sum().item<int64_t>();
  }
  return double(correct) / double(images.size(0));
}

}  // namespace ddpm
