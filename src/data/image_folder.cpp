#include "data/image_folder.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <set>
#include <stdexcept>

#include "data/transforms.h"
#include "io/content_hash.h"
#include "io/image.h"

namespace ddpm {

namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

}  // namespace

std::vector<fs::path> find_image_files(const fs::path& root) {
  std::error_code error;
  if (!fs::exists(root, error))
    throw std::runtime_error("image folder " + root.string() + " does not exist");
  if (!fs::is_directory(root, error))
    throw std::runtime_error(root.string() +
                             " is a file, not a folder of images (data.source takes "
                             "'fashion-mnist' or a folder of .png/.jpg/.jpeg files)");
  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, error);
  if (error) throw std::runtime_error("cannot list " + root.string() + ": " + error.message());
  for (const auto& entry : it)
    if (entry.is_regular_file(error) && is_image_file(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<bool> validation_split(const std::vector<std::string>& names, double fraction) {
  if (!(fraction >= 0 && fraction < 1))
    throw std::invalid_argument("validation_fraction must be in [0, 1), got " +
                                std::to_string(fraction));
  const int64_t n = int64_t(names.size());
  const int64_t n_validation =
      n == 0 ? 0 : std::min<int64_t>(std::llround(fraction * double(n)), n - 1);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::vector<uint64_t> hashes(n);
  for (int64_t i = 0; i < n; ++i) hashes[i] = fnv1a(names[i]);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return hashes[a] != hashes[b] ? hashes[a] < hashes[b] : names[a] < names[b];
  });
  std::vector<bool> is_validation(n, false);
  for (int64_t i = 0; i < n_validation; ++i) is_validation[order[i]] = true;
  return is_validation;
}

ImageFolder read_image_folder(const fs::path& root, int64_t image_size, int64_t channels,
                              double validation_fraction) {
  if (image_size <= 0)
    throw std::invalid_argument("image_size must be positive, got " + std::to_string(image_size));
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("channels must be 0 (follow the data), 1 or 3, got " +
                                std::to_string(channels));
  if (!(validation_fraction >= 0 && validation_fraction < 1))
    throw std::invalid_argument("validation_fraction must be in [0, 1), got " +
                                std::to_string(validation_fraction));

  const auto files = find_image_files(root);
  if (files.empty())
    throw std::runtime_error("no images found under " + root.string() +
                             " (searched all subfolders for .png, .jpg and .jpeg files)");

  // Decode, crop and resize in parallel; each slot is written by one thread only.
  const int64_t n = int64_t(files.size());
  std::vector<torch::Tensor> images(n);
  std::vector<std::string> errors(n);
  at::parallel_for(0, n, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        auto image = read_image(files[i], int(channels));  // uint8 [C, H, W]
        images[i] = resize_antialiased(center_crop_square(image), image_size).contiguous();
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    }
  });

  ImageFolder out;
  std::vector<std::string> names;
  std::vector<torch::Tensor> decoded;
  for (int64_t i = 0; i < n; ++i) {
    if (!images[i].defined()) {
      out.skipped.push_back(files[i].string());
      continue;
    }
    names.push_back(files[i].lexically_relative(root).generic_string());
    decoded.push_back(images[i]);
  }
  if (decoded.empty())
    throw std::runtime_error("none of the " + std::to_string(n) + " image files under " +
                             root.string() + " could be decoded (first: " + errors[0] + ")");

  out.channels = channels;
  if (channels == 0) {
    out.channels = 1;
    for (const auto& image : decoded)
      if (image.size(0) == 3) out.channels = 3;
  }
  for (auto& image : decoded)
    if (image.size(0) != out.channels) image = image.expand({out.channels, -1, -1});

  const auto is_validation = validation_split(names, validation_fraction);
  std::vector<torch::Tensor> train, validation;
  for (size_t i = 0; i < decoded.size(); ++i) {
    (is_validation[i] ? validation : train).push_back(decoded[i]);
    (is_validation[i] ? out.validation_files : out.train_files).push_back(names[i]);
  }
  out.train = torch::stack(train);
  out.validation = validation.empty()
                       ? torch::empty({0, out.channels, image_size, image_size}, torch::kUInt8)
                       : torch::stack(validation);
  return out;
}

FolderClasses folder_classes(const std::vector<std::string>& all_files,
                             const std::vector<std::string>& files) {
  std::set<std::string> classes;
  std::string top_level, nested;
  for (const auto& f : all_files) {
    const auto slash = f.find('/');
    if (slash == std::string::npos) {
      if (top_level.empty()) top_level = f;
    } else {
      classes.insert(f.substr(0, slash));
      if (nested.empty()) nested = f;
    }
  }
  if (classes.empty())
    throw std::invalid_argument(
        "every image lies directly in the folder, so there are no classes (put each class's "
        "images in a sub-folder named after it, as torchvision's ImageFolder reads them)");
  if (!top_level.empty())
    throw std::invalid_argument("the folder has images both at its top level ('" + top_level +
                                "') and in sub-folders ('" + nested +
                                "'): with one class per sub-folder, move the top-level images "
                                "into a sub-folder of their class");
  FolderClasses out;
  out.names.assign(classes.begin(), classes.end());  // std::set: sorted by name
  std::vector<int64_t> labels;
  labels.reserve(files.size());
  for (const auto& f : files) {
    const auto name = f.substr(0, f.find('/'));
    labels.push_back(std::lower_bound(out.names.begin(), out.names.end(), name) -
                     out.names.begin());
  }
  out.labels = torch::tensor(labels, torch::kLong);
  return out;
}

}  // namespace ddpm
