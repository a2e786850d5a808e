// The network that turns images into the feature vectors FID, KID and the Inception Score are
// computed on. Two implementations (DESIGN rule 9: an interface because two exist):
//
//   fid-inception-v3           pytorch-fid's FID Inception (eval/fid_inception.h), 2048-d pool3,
//                              for any image size and 1 or 3 channels; weights supplied by the
//                              user (--inception FILE.safetensors). The field's FID.
//   fashion-mnist-classifier   our classifier (eval/fashion_classifier.h), 64-d, for 1-channel
//                              28×28 or 32×32 images; weights shipped in assets/. An in-domain
//                              Fréchet distance ("FD"), comparable only with other FD numbers.
//
// Every implementation takes model-space images: float [N, C, H, W] in [−1, 1].
//
//   FeatureNetOptions o;  o.inception_weights = "pt_inception-2015-12-05.safetensors";
//   auto net = make_feature_net(o, /*channels=*/1, /*height=*/32, /*width=*/32);
//   auto features = extract_features(*net, images_uint8, /*batch_size=*/50);   // [N, D]
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

namespace ddpm {

class FeatureNet {
 public:
  virtual ~FeatureNet() = default;
  /// "fid-inception-v3" or "fashion-mnist-classifier": recorded beside every number.
  virtual std::string name() const = 0;
  /// How images become features, for reports (resize, channels, layer).
  virtual std::string protocol() const = 0;
  /// The weights file used.
  virtual std::string weights() const = 0;
  virtual int64_t feature_dims() const = 0;
  /// Throws std::invalid_argument when images of `channels` × `height` × `width` cannot be fed,
  /// saying what the network takes and what to use instead.
  virtual void check_input(int64_t channels, int64_t height, int64_t width) const = 0;
  /// float [N, C, H, W] in [−1, 1] → float32 [N, D] on the CPU.
  virtual torch::Tensor features(const torch::Tensor& images) = 0;
  /// Class logits [N, K] on the CPU from features [N, D] (for the Inception Score).
  virtual torch::Tensor logits(const torch::Tensor& features) = 0;
};

struct FeatureNetOptions {
  /// The FID Inception's weights (converted with scripts/convert_fid_inception.py); empty: use
  /// the Fashion-MNIST classifier.
  std::string inception_weights;
  /// The classifier's weights; empty: default_classifier_path() (shipped in assets/).
  std::string classifier_weights;
  /// Where the network runs: "cpu", "cuda", "cuda:N" or "auto".
  std::string device = "auto";
};

/// The Inception when inception_weights is set; otherwise the classifier, which takes only
/// 1-channel 28×28 or 32×32 images — for anything else the error names both options. Checks
/// that images of `channels` × `height` × `width` fit the chosen network.
std::unique_ptr<FeatureNet> make_feature_net(const FeatureNetOptions& options, int64_t channels,
                                             int64_t height, int64_t width);

/// Progress: images done out of total.
using FeatureProgress = std::function<void(int64_t done, int64_t total)>;

/// Features [N, D] of uint8 images [N, C, H, W] (rescaled to [−1, 1] with x/127.5 − 1), in
/// batches of `batch_size`.
torch::Tensor extract_features(FeatureNet& net, const torch::Tensor& images, int64_t batch_size,
                               const FeatureProgress& progress = {});

}  // namespace ddpm
