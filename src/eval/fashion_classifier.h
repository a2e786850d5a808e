// A small Fashion-MNIST classifier whose pooled penultimate features stand in for the FID
// Inception on 1-channel 28/32-px data: a Fréchet distance (and KID, and an Inception-Score-like
// score) in a feature space that knows clothes, computed in milliseconds on a CPU, with weights
// small enough to ship in the repository (assets/fashion_mnist_classifier.safetensors, trained by
// `ddpm train-classifier`). Such in-domain feature networks are the usual choice for MNIST-like
// data, where ImageNet Inception features say little (e.g. the LeNet features pytorch-fid offers
// for MNIST, and "FID-MNIST" in the GAN literature).
//
// Input: our model-space images, float [N, 1, 32, 32] in [−1, 1] — Fashion-MNIST's 28×28 zero-
// padded to 32×32 exactly as data/fashion_mnist pads it for the diffusion models.
// Architecture (VGG-style): three stages of two 3×3 conv + BatchNorm + ReLU (16, 32, 64 channels),
// 2×2 max pooling between stages, global average pooling → 64-d features → linear → 10 logits.
//
//   auto net = load_fashion_classifier(default_classifier_path(), torch::kCPU);
//   auto f = net->features(x);   // [N, 64]
//   auto y = net->forward(x);    // [N, 10] logits
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>

namespace ddpm {

inline constexpr int64_t kClassifierImageSize = 32;
inline constexpr int64_t kClassifierFeatureDims = 64;
inline constexpr int64_t kClassifierClasses = 10;

struct FashionClassifierImpl : torch::nn::Module {
  FashionClassifierImpl();
  /// Pooled penultimate features [N, 64] of images [N, 1, 32, 32] in [−1, 1].
  torch::Tensor features(const torch::Tensor& x);
  /// Class logits [N, 10] from features [N, 64].
  torch::Tensor logits(const torch::Tensor& features);
  /// logits(features(x)).
  torch::Tensor forward(const torch::Tensor& x);

  // Module names are the weight file's tensor names (conv1.weight, bn1.running_var, fc.bias …).
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr}, conv5{nullptr},
      conv6{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, bn4{nullptr}, bn5{nullptr},
      bn6{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(FashionClassifier);

/// The weights shipped in the repository: <source>/assets/fashion_mnist_classifier.safetensors.
std::filesystem::path default_classifier_path();

/// Reads weights written by save_fashion_classifier into a new network in eval mode on `device`.
/// Throws std::runtime_error naming the file and how to make one when it is missing or does not
/// hold this architecture.
FashionClassifier load_fashion_classifier(const std::filesystem::path& path,
                                          const torch::Device& device);

/// Writes the weights (and BatchNorm statistics) with `metadata` (e.g. the test accuracy).
void save_fashion_classifier(const std::filesystem::path& path, const FashionClassifier& model,
                             const std::map<std::string, std::string>& metadata);

/// Share of correctly classified images: uint8 [N, 1, 32, 32] with int64 labels [N]; the model is
/// used in eval mode (and left in it).
double classifier_accuracy(FashionClassifier& model, const torch::Tensor& images,
                           const torch::Tensor& labels, int64_t batch_size = 500);

}  // namespace ddpm
