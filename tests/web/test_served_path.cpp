// resolve_served_path: files inside the root are served; `..`, absolute paths and links that lead
// outside are refused; what is not a regular file is missing.
#include "web/served_path.h"

#include <fstream>

#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

struct ServedPathTest : ::testing::Test {
  test::TempDir dir;
  fs::path root, outside;
  void SetUp() override {
    root = dir.path / "run";
    outside = dir.path / "secret.txt";
    fs::create_directories(root / "samples");
    std::ofstream(root / "samples" / "step_000001.png") << "png";
    std::ofstream(outside) << "secret";
  }
};

TEST_F(ServedPathTest, ServesFilesInsideTheRoot) {
  const auto served = resolve_served_path(root, "samples/step_000001.png");
  EXPECT_EQ(served.verdict, ServedVerdict::File);
  EXPECT_EQ(served.path, fs::canonical(root / "samples" / "step_000001.png"));
  EXPECT_EQ(resolve_served_path(root, "./samples/step_000001.png").verdict, ServedVerdict::File);
  // A link that stays inside is fine.
  fs::create_symlink("samples/step_000001.png", root / "newest.png");
  EXPECT_EQ(resolve_served_path(root, "newest.png").verdict, ServedVerdict::File);
}

TEST_F(ServedPathTest, RefusesEveryWayOut) {
  for (const char* request : {"../secret.txt", "samples/../../secret.txt", "samples/..",
                              "/etc/passwd", "..", "samples\\..\\..\\secret.txt"})
    EXPECT_EQ(resolve_served_path(root, request).verdict, ServedVerdict::Escapes) << request;
  EXPECT_EQ(resolve_served_path(root, std::string("samples/x\0y", 11)).verdict,
            ServedVerdict::Escapes);
  fs::create_symlink(outside, root / "samples" / "out.png");
  EXPECT_EQ(resolve_served_path(root, "samples/out.png").verdict, ServedVerdict::Escapes);
  fs::create_directory_symlink(dir.path, root / "up");
  EXPECT_EQ(resolve_served_path(root, "up/secret.txt").verdict, ServedVerdict::Escapes);
}

TEST_F(ServedPathTest, WhatIsNotARegularFileIsMissing) {
  EXPECT_EQ(resolve_served_path(root, "samples/step_000002.png").verdict, ServedVerdict::Missing);
  EXPECT_EQ(resolve_served_path(root, "samples").verdict, ServedVerdict::Missing);
  EXPECT_EQ(resolve_served_path(root, "").verdict, ServedVerdict::Escapes);
  EXPECT_EQ(resolve_served_path(dir.path / "nowhere", "x").verdict, ServedVerdict::Missing);
}

}  // namespace
}  // namespace ddpm
