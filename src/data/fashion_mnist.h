// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, github.com/zalandoresearch/fashion-mnist): 60000
// training and 10000 test 28×28 grayscale images of 10 clothing classes, in the IDX files that
// Debian's dataset-fashion-mnist package installs under /usr/share/datasets/fashion-mnist.
//
//   auto fm = read_fashion_mnist(fashion_mnist_dir(""));
//   fm.train_images.sizes() == {60000, 1, 28, 28};  fm.train_labels: int64 [60000] in 0..9
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

namespace ddpm {

/// The ten class names in label order (Xiao et al. 2017, Table 1): T-shirt/top, Trouser,
/// Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.
const std::vector<std::string>& fashion_mnist_class_names();

/// Where the package puts the files.
inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct FashionMnist {
  torch::Tensor train_images;  ///< uint8 [60000, 1, 28, 28]
  torch::Tensor train_labels;  ///< int64 [60000], class 0..9
  torch::Tensor test_images;   ///< uint8 [10000, 1, 28, 28] (the t10k files)
  torch::Tensor test_labels;   ///< int64 [10000]
};

/// The folder to read: `configured` when not empty, else $DDPM_FASHION_MNIST_DIR when set, else
/// kDefaultFashionMnistDir.
std::filesystem::path fashion_mnist_dir(const std::string& configured);

/// Reads the four .gz files from `dir`. Throws std::runtime_error when one is missing (saying how
/// to install the package) or malformed (naming the file), or when labels and images disagree.
FashionMnist read_fashion_mnist(const std::filesystem::path& dir);

}  // namespace ddpm
