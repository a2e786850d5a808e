// A folder of PNG/JPEG images (any depth of subfolders) as a square uint8 dataset, the way
// torchvision's ImageFolder + CenterCrop + Resize(antialias=True) prepares one, with a
// deterministic train/validation split that stays put as files are added.
//
//   auto folder = read_image_folder("photos/", 64, /*channels=*/0, /*validation_fraction=*/0.2);
//   folder.train: uint8 [N_train, C, 64, 64];  folder.skipped: files that would not decode
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

namespace ddpm {

struct ImageFolder {
  torch::Tensor train;       ///< uint8 [N_train, C, S, S]
  torch::Tensor validation;  ///< uint8 [N_validation, C, S, S] (N may be 0)
  /// Paths relative to the root ('/'-separated), in the order of the rows of train/validation.
  std::vector<std::string> train_files, validation_files;
  /// Files that could not be decoded (full paths, sorted); they are left out, not fatal.
  std::vector<std::string> skipped;
  int64_t channels = 0;  ///< 1 or 3
};

/// Files under `root`, recursively, whose extension is .png, .jpg or .jpeg in any letter case,
/// sorted by path so every run sees the same order.
std::vector<std::filesystem::path> find_image_files(const std::filesystem::path& root);

/// true for the files that go to validation: the round(fraction·N) names (at most N − 1) with the
/// smallest 64-bit FNV-1a hash. A file's side depends only on its name and the split size, so
/// adding files moves few others.
std::vector<bool> validation_split(const std::vector<std::string>& names, double fraction);

/// Decodes every image under `root`, crops the centred square and resizes it (antialiased) to
/// image_size. channels 1 or 3 converts each image; 0 follows the data (3 when any image is
/// colour, else 1). Throws std::runtime_error when root is missing or is a file, or when no image
/// under it decodes (saying what was searched); std::invalid_argument for a bad size or channels.
/// Class labels the torchvision ImageFolder way: one class per sub-folder of the root (a file's
/// first path component), classes sorted by name. `files` are paths relative to the root, as in
/// ImageFolder::train_files.
struct FolderClasses {
  std::vector<std::string> names;  ///< sorted sub-folder names that hold images
  torch::Tensor labels;            ///< int64 [files.size()], the index of each file's class
};
/// Throws std::invalid_argument, naming an example, when a file lies directly in the root while
/// others are in sub-folders, or when no file is in a sub-folder (then there are no classes).
FolderClasses folder_classes(const std::vector<std::string>& all_files,
                             const std::vector<std::string>& files);

ImageFolder read_image_folder(const std::filesystem::path& root, int64_t image_size,
                              int64_t channels, double validation_fraction);

}  // namespace ddpm
