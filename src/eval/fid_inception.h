// The FID Inception-v3: the network every published FID is computed with — TensorFlow's
// 2015-12-05 Inception graph as ported by pytorch-fid (src/pytorch_fid/inception.py,
// fid_inception_v3 + InceptionV3 wrapper), i.e. torchvision 0.14's Inception3 with four patched
// blocks: FIDInceptionA/C/E_1 average-pool without counting the zero padding
// (count_include_pad=False, as TensorFlow does) and FIDInceptionE_2 max-pools in its pool branch.
//
// Input handling as pytorch-fid's InceptionV3(resize_input=True, normalize_input=True): images in
// [0, 1] are resized to 299×299 bilinearly (align_corners=False, no antialiasing), then scaled to
// [−1, 1]. Output: the 2048-d average-pool ("pool3") features FID is defined on.
//
// Weights are never downloaded or shipped (95 MB): the user converts pytorch-fid's
// pt_inception-2015-12-05-6726825d.pth with scripts/convert_fid_inception.py (docs/evaluation.md).
// Tensor names are pytorch-fid's module names (Mixed_5b.branch1x1.conv.weight, …, fc.weight);
// BatchNorm's num_batches_tracked entries are ignored.
//
//   FIDInception net(read_safetensors("pt_inception-2015-12-05.safetensors").tensors);
//   auto f = net.pool_features(images01);   // [N, 3, H, W] in [0, 1] → [N, 2048]
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"

namespace ddpm {

class FIDInception {
 public:
  /// Every tensor the network needs, with its shape, in pytorch-fid's names and module order.
  static std::vector<std::pair<std::string, std::vector<int64_t>>> parameter_shapes();

  /// Takes the weights by name; every tensor of parameter_shapes() must be present with its shape
  /// and no other (apart from *.num_batches_tracked). Throws std::invalid_argument naming the
  /// first missing, extra or mis-shaped tensor and `origin` (a file name, for messages).
  FIDInception(const TensorMap& weights, const std::string& origin, torch::Device device);

  /// The four outputs of pytorch-fid's InceptionV3 blocks for images [N, 3, H, W] in [0, 1]:
  /// 0: after maxpool1 [N, 64, 73, 73], 1: after maxpool2 [N, 192, 35, 35],
  /// 2: after Mixed_6e [N, 768, 17, 17], 3: pool3 [N, 2048, 1, 1].
  std::vector<torch::Tensor> blocks(const torch::Tensor& images01) const;

  /// pool3 features [N, 2048] (float32, on the network's device).
  torch::Tensor pool_features(const torch::Tensor& images01) const;

  /// pool3 · fc.weightᵀ [N, 1008]: the classifier logits without bias that the Inception Score
  /// is defined on (improved-gan's inception_score.py; torch-fidelity's "logits_unbiased").
  torch::Tensor logits_unbiased(const torch::Tensor& features) const;

  torch::Device device() const { return device_; }

 private:
  torch::Tensor conv(const torch::Tensor& x, const std::string& name) const;  // BasicConv2d
  torch::Tensor inception_a(const torch::Tensor& x, const std::string& name) const;
  torch::Tensor inception_b(const torch::Tensor& x, const std::string& name) const;
  torch::Tensor inception_c(const torch::Tensor& x, const std::string& name) const;
  torch::Tensor inception_d(const torch::Tensor& x, const std::string& name) const;
  torch::Tensor inception_e(const torch::Tensor& x, const std::string& name, bool max_pool) const;
  const torch::Tensor& weight(const std::string& name) const;

  TensorMap weights_;
  torch::Device device_;
};

}  // namespace ddpm
