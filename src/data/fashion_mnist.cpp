#include "data/fashion_mnist.h"

#include <cstdlib>
#include <stdexcept>

#include "data/idx.h"

namespace ddpm {

namespace {

namespace fs = std::filesystem;

constexpr const char* kFiles[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
constexpr int64_t kClasses = 10;

// Images [N, 28, 28] → [N, 1, 28, 28]; labels → int64 after checking the pairing and the range.
void read_split(const fs::path& dir, const char* images_file, const char* labels_file,
                torch::Tensor& images, torch::Tensor& labels) {
  images = read_idx_images(dir / images_file);
  labels = read_idx_labels(dir / labels_file);
  if (images.size(1) != 28 || images.size(2) != 28)
    throw std::runtime_error((dir / images_file).string() + ": expected 28x28 images, found " +
                             std::to_string(images.size(1)) + "x" + std::to_string(images.size(2)));
  if (labels.size(0) != images.size(0))
    throw std::runtime_error((dir / labels_file).string() + " holds " +
                             std::to_string(labels.size(0)) + " labels but " + images_file +
                             " holds " + std::to_string(images.size(0)) + " images");
  const int64_t max_label = labels.max().item<int64_t>();
  if (max_label >= kClasses)
    throw std::runtime_error((dir / labels_file).string() + ": expected labels 0..9, found " +
                             std::to_string(max_label));
  images = images.unsqueeze(1);
  labels = labels.to(torch::kInt64);
}

}  // namespace

fs::path fashion_mnist_dir(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("DDPM_FASHION_MNIST_DIR"); env && *env) return env;
  return kDefaultFashionMnistDir;
}

FashionMnist read_fashion_mnist(const fs::path& dir) {
  for (const char* file : kFiles) {
    if (fs::is_regular_file(dir / file)) continue;
    throw std::runtime_error("Fashion-MNIST not found at " + dir.string() + " (expected " +
                             kFiles[0] + ", " + kFiles[1] + ", " + kFiles[2] + " and " + kFiles[3] +
                             "; " + file +
                             " is missing): install it with `sudo apt-get install "
                             "dataset-fashion-mnist` or run scripts/setup.sh");
  }
  FashionMnist out;
  read_split(dir, kFiles[0], kFiles[1], out.train_images, out.train_labels);
  read_split(dir, kFiles[2], kFiles[3], out.test_images, out.test_labels);
  return out;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names{"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                              "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};
  return names;
}

}  // namespace ddpm
