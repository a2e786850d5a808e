// write_file_atomic: contents, replacement, no temporary left behind, errors naming the path.
#include "io/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t files_in(const fs::path& dir) {
  return size_t(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicFile, WritesAndReplaces) {
  test::TempDir dir;
  const fs::path path = dir.path / "state.json";
  write_file_atomic(path, "first");
  EXPECT_EQ(slurp(path), "first");
  const std::string binary("a\0b\xff", 4);
  write_file_atomic(path, binary);
  EXPECT_EQ(slurp(path), binary);
  write_file_atomic(path, "");
  EXPECT_EQ(fs::file_size(path), 0u);
  EXPECT_EQ(files_in(dir.path), 1u) << "no temporary file left behind";
}

TEST(AtomicFile, WritesPiecesInOrder) {
  test::TempDir dir;
  const std::string big(3 << 20, 'x');  // large enough for short writes to be possible
  write_file_atomic(dir.path / "p.bin", std::vector<std::string_view>{"head", "", big, "tail"});
  EXPECT_EQ(slurp(dir.path / "p.bin"), "head" + big + "tail");
}

TEST(AtomicFile, FailureNamesThePathAndLeavesNothing) {
  test::TempDir dir;
  try {
    write_file_atomic(dir.path / "no-such-dir" / "file.txt", "x");
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("no-such-dir/file.txt"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("No such file or directory"));
  }
  // Renaming over a directory fails after the temporary was written: it must be removed.
  fs::create_directories(dir.path / "taken" / "child");
  try {
    write_file_atomic(dir.path / "taken", "x");
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("taken: rename failed"));
  }
  EXPECT_EQ(files_in(dir.path), 1u);
}

TEST(AtomicFile, SyncDirectory) {
  test::TempDir dir;
  EXPECT_NO_THROW(sync_directory(dir.path));
  EXPECT_THROW(sync_directory(dir.path / "missing"), std::runtime_error);
  write_file_atomic(dir.path / "f", "x");
  EXPECT_THROW(sync_directory(dir.path / "f"), std::runtime_error);  // not a directory
}

}  // namespace
}  // namespace ddpm
