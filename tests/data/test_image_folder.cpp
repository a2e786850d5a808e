#include "data/image_folder.h"

#include <fstream>

#include "io/image.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no std::runtime_error)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A colour image whose centred square is `inside` and whose side bands (landscape) are 0.
torch::Tensor banded(int64_t h, int64_t w, int inside) {
  auto image = torch::zeros({3, h, w}, torch::kUInt8);
  image.narrow(2, (w - h) / 2, h).fill_(inside);
  return image;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// 6 decodable images in subfolders (one colour), a corrupt .png and a .txt.
struct Folder {
  TempDir dir;
  Folder() {
    fs::create_directories(dir.path / "cats/young");
    fs::create_directories(dir.path / "dogs");
    write_png(dir.path / "cats/a.png", banded(40, 60, 200));
    write_png(dir.path / "cats/young/b.PNG", torch::full({1, 20, 20}, 50, torch::kUInt8));
    write_png(dir.path / "dogs/c.png", torch::full({1, 16, 30}, 90, torch::kUInt8));
    write_png(dir.path / "dogs/d.png", torch::full({1, 64, 64}, 10, torch::kUInt8));
    write_png(dir.path / "e.png", torch::full({1, 8, 8}, 255, torch::kUInt8));
    write_png(dir.path / "f.png", torch::full({1, 17, 17}, 0, torch::kUInt8));
    write_text(dir.path / "dogs/broken.png", "this is not a PNG file");
    write_text(dir.path / "notes.txt", "not an image");
  }
};

TEST(ImageFolder, FindsImagesRecursivelyInSortedOrder) {
  TempDir dir;
  for (const char* name : {"b/x.JPG", "a.jpeg", "c/d/e.Png", "z.txt", "a.png.bak", "y.jpg"})
    write_text(dir.path / name, "");
  std::vector<std::string> found;
  for (const auto& p : find_image_files(dir.path))
    found.push_back(p.lexically_relative(dir.path).generic_string());
  EXPECT_EQ(found, (std::vector<std::string>{"a.jpeg", "b/x.JPG", "c/d/e.Png", "y.jpg"}));
}

TEST(ImageFolder, LoadsCropsResizesAndSkipsCorruptFiles) {
  Folder folder;
  auto data = read_image_folder(folder.dir.path, 16, /*channels=*/0, /*validation_fraction=*/0.2);
  ASSERT_EQ(data.skipped.size(), 1u);
  EXPECT_TRUE(contains(data.skipped[0], "broken.png")) << data.skipped[0];
  EXPECT_EQ(data.channels, 3);  // a.png is colour
  EXPECT_EQ(data.train.size(0) + data.validation.size(0), 6);
  EXPECT_EQ(data.validation.size(0), 1);  // round(0.2 · 6)
  EXPECT_EQ(data.train.sizes().slice(1), (std::vector<int64_t>{3, 16, 16}));
  EXPECT_EQ(data.validation.sizes().slice(1), (std::vector<int64_t>{3, 16, 16}));
  EXPECT_EQ(data.train.scalar_type(), torch::kUInt8);

  // Each row is its file's constant value; a.png's black side bands were cropped away.
  const std::map<std::string, int> value = {{"cats/a.png", 200}, {"cats/young/b.PNG", 50},
                                            {"dogs/c.png", 90},  {"dogs/d.png", 10},
                                            {"e.png", 255},      {"f.png", 0}};
  std::vector<std::string> all;
  for (auto [files, images] : {std::pair{&data.train_files, &data.train},
                               std::pair{&data.validation_files, &data.validation}}) {
    ASSERT_EQ(int64_t(files->size()), images->size(0));
    for (size_t i = 0; i < files->size(); ++i) {
      const auto& name = (*files)[i];
      EXPECT_TRUE((*images)[i].eq(value.at(name)).all().item<bool>()) << name;
      all.push_back(name);
    }
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> expected;
  for (const auto& [name, v] : value) expected.push_back(name);
  EXPECT_EQ(all, expected);  // disjoint and covering every decodable file
}

TEST(ImageFolder, ChannelsFollowTheDataOrTheConfig) {
  Folder folder;
  fs::remove(folder.dir.path / "cats/a.png");
  EXPECT_EQ(read_image_folder(folder.dir.path, 8, 0, 0.2).channels, 1);  // all gray
  auto colour = read_image_folder(folder.dir.path, 8, 3, 0.2);
  EXPECT_EQ(colour.channels, 3);
  EXPECT_EQ(colour.train.size(1), 3);
  EXPECT_THROW(read_image_folder(folder.dir.path, 8, 2, 0.2), std::invalid_argument);
  EXPECT_THROW(read_image_folder(folder.dir.path, 0, 1, 0.2), std::invalid_argument);
}

TEST(ImageFolder, SplitIsDeterministicDisjointAndSized) {
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i)
    names.push_back("class" + std::to_string(i % 3) + "/img" + std::to_string(i) + ".png");
  auto split = validation_split(names, 0.2);
  EXPECT_EQ(std::count(split.begin(), split.end(), true), 20);
  EXPECT_EQ(validation_split(names, 0.2), split);
  // A file's side does not depend on the order it was listed in.
  auto reversed_names = std::vector<std::string>(names.rbegin(), names.rend());
  auto reversed = validation_split(reversed_names, 0.2);
  EXPECT_EQ(std::vector<bool>(reversed.rbegin(), reversed.rend()), split);
  // Adding a file moves at most one other file out of validation.
  names.push_back("class0/new.png");
  auto grown = validation_split(names, 0.2);
  int moved = 0;
  for (int i = 0; i < 100; ++i) moved += split[i] && !grown[i];
  EXPECT_LE(moved, 1);

  EXPECT_EQ(validation_split({"only.png"}, 0.9), std::vector<bool>{false});  // keep one to train
  EXPECT_EQ(std::count(split.begin(), split.end(), true), 20);
  EXPECT_THROW(validation_split(names, 1.0), std::invalid_argument);
  EXPECT_THROW(validation_split(names, -0.1), std::invalid_argument);
}

TEST(ImageFolder, MissingEmptyFileAndAllCorruptAreErrors) {
  TempDir dir;
  auto missing = error_of([&] { read_image_folder(dir.path / "nope", 8, 0, 0.2); });
  EXPECT_TRUE(contains(missing, "does not exist")) << missing;
  EXPECT_TRUE(contains(missing, "nope")) << missing;

  write_text(dir.path / "file.png", "x");
  auto file = error_of([&] { read_image_folder(dir.path / "file.png", 8, 0, 0.2); });
  EXPECT_TRUE(contains(file, "is a file")) << file;

  fs::create_directories(dir.path / "empty/sub");
  write_text(dir.path / "empty/sub/readme.txt", "x");
  auto empty = error_of([&] { read_image_folder(dir.path / "empty", 8, 0, 0.2); });
  EXPECT_TRUE(contains(empty, "no images found under")) << empty;
  EXPECT_TRUE(contains(empty, ".png")) << empty;
  EXPECT_TRUE(contains(empty, (dir.path / "empty").string())) << empty;

  fs::create_directories(dir.path / "corrupt");
  write_text(dir.path / "corrupt/a.png", "not a png");
  write_text(dir.path / "corrupt/b.jpg", "not a jpeg");
  auto corrupt = error_of([&] { read_image_folder(dir.path / "corrupt", 8, 0, 0.2); });
  EXPECT_TRUE(contains(corrupt, "none of the 2 image files")) << corrupt;
}

}  // namespace
}  // namespace ddpm

namespace ddpm {
namespace {

TEST(FolderClasses, OneClassPerSubFolderSortedByName) {
  const std::vector<std::string> all{"zebra/1.png", "ant/2.png", "ant/deeper/3.png", "moth/4.png"};
  auto c = folder_classes(all, {"moth/4.png", "ant/deeper/3.png", "zebra/1.png"});
  EXPECT_EQ(c.names, (std::vector<std::string>{"ant", "moth", "zebra"}));
  EXPECT_TRUE(c.labels.equal(torch::tensor({1, 0, 2}, torch::kLong)));
}

TEST(FolderClasses, RefusesImagesAtTheTopBesideSubFolders) {
  try {
    folder_classes({"a/1.png", "2.png"}, {"a/1.png"});
    FAIL() << "mixed folder accepted";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("both at its top level"), std::string::npos) << m;
    EXPECT_NE(m.find("2.png"), std::string::npos) << m;
  }
  EXPECT_THROW(folder_classes({"1.png", "2.png"}, {"1.png"}), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm
