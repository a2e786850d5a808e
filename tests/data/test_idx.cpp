#include "data/idx.h"

#include "address_space_limit.h"
#include "data/idx_writer.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::idx_bytes;
using test::TempDir;
using test::write_bytes;

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

TEST(Idx, ReadsGzipAndPlainImages) {
  TempDir dir;
  auto images = torch::arange(2 * 3 * 4, torch::kInt64).to(torch::kUInt8).view({2, 3, 4});
  const auto bytes = idx_bytes(0x803, {2, 3, 4}, test::tensor_bytes(images));
  write_bytes(dir.path / "a.gz", bytes, true);
  write_bytes(dir.path / "a", bytes, false);
  for (const char* name : {"a.gz", "a"}) {
    auto read = read_idx_images(dir.path / name);
    EXPECT_EQ(read.scalar_type(), torch::kUInt8);
    EXPECT_EQ(read.sizes(), images.sizes()) << name;
    EXPECT_TRUE(read.equal(images)) << name;
  }
}

TEST(Idx, ReadsLabels) {
  TempDir dir;
  auto labels = torch::tensor({3, 1, 4, 1, 5}, torch::kUInt8);
  write_bytes(dir.path / "l.gz", idx_bytes(0x801, {5}, test::tensor_bytes(labels)), true);
  EXPECT_TRUE(read_idx_labels(dir.path / "l.gz").equal(labels));
  EXPECT_EQ(read_idx(dir.path / "l.gz").dim(), 1);
  auto wrong_kind = error_of([&] { read_idx_images(dir.path / "l.gz"); });
  EXPECT_TRUE(contains(wrong_kind, "image")) << wrong_kind;
  EXPECT_TRUE(contains(wrong_kind, "l.gz")) << wrong_kind;
}

TEST(Idx, CorruptFilesNameTheFileAndTheProblem) {
  TempDir dir;
  const std::string data(2 * 2 * 2, '\x07');
  struct Case {
    const char* name;
    std::string bytes;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"magic.gz", idx_bytes(0x903, {2, 2, 2}, data), "magic"},
      {"float.gz", idx_bytes(0x0d03, {2, 2, 2}, data), "magic"},
      {"rank.gz", idx_bytes(0x809, {2, 2, 2}, data), "magic"},
      {"short.gz", idx_bytes(0x803, {2, 2, 3}, data), "truncated"},
      {"long.gz", idx_bytes(0x803, {2, 2, 1}, data), "after"},
      {"zero.gz", idx_bytes(0x803, {2, 0, 2}, data), "zero"},
      {"header.gz", idx_bytes(0x803, {}, ""), "header ends"},
      {"tiny.gz", std::string("\x00\x00", 2), "fewer than 4 bytes"},
      {"empty.gz", "", "fewer than 4 bytes"},
      {"huge.gz", idx_bytes(0x803, {100000, 100000, 100000}, data), "4 GiB"},
      // Found by fuzz/idx_fuzzer: the product of two sizes once overflowed int64_t.
      {"overflow.gz", idx_bytes(0x802, {4278188027u, 4294967294u}, data), "4 GiB"},
  };
  for (const auto& c : cases) {
    write_bytes(dir.path / c.name, c.bytes, true);
    auto message = error_of([&] { read_idx(dir.path / c.name); });
    EXPECT_TRUE(contains(message, c.expected)) << c.name << ": " << message;
    EXPECT_TRUE(contains(message, (dir.path / c.name).string())) << c.name << ": " << message;
  }
}

// Issue #13: a 16-byte file whose header claims 65535 × 256 × 256 bytes (just under the 4 GiB
// cap) fails as truncated in a child whose address space may grow by only 64 MiB: the reader
// allocates as the data arrives, not what the header claims.
TEST(Idx, HeaderClaimingGigabytesIsNotAllocated) {
  TempDir dir;
  for (bool gzip : {false, true}) {
    const auto path = dir.path / (gzip ? "claims.gz" : "claims");
    write_bytes(path, idx_bytes(0x803, {65535, 256, 256}, "abc"), gzip);
    const std::string outcome =
        test::run_with_address_space_limit(size_t(64) << 20, [&] { read_idx(path); });
    EXPECT_TRUE(contains(outcome, path.string() + ": truncated: the header promises 4294901760 "
                                                  "data bytes, found 3"))
        << outcome;
  }
  // A file larger than the first 1 MiB read still arrives whole.
  const std::string data(3 * 1000 * 1000, '\x05');
  write_bytes(dir.path / "big", idx_bytes(0x803, {3, 1000, 1000}, data), false);
  const auto big = read_idx(dir.path / "big");
  EXPECT_EQ(big.sizes(), (std::vector<int64_t>{3, 1000, 1000}));
  EXPECT_EQ(big.sum().item<int64_t>(), 5 * 3 * 1000 * 1000);
}

TEST(Idx, BrokenGzipAndMissingFilesAreErrors) {
  TempDir dir;
  write_bytes(dir.path / "ok.gz", idx_bytes(0x803, {10, 28, 28}, std::string(7840, '\x01')), true);
  // Cut the compressed stream in half: zlib reports the damage and the reader passes it on.
  const auto size = std::filesystem::file_size(dir.path / "ok.gz");
  std::filesystem::resize_file(dir.path / "ok.gz", size / 2);
  auto broken = error_of([&] { read_idx(dir.path / "ok.gz"); });
  EXPECT_TRUE(contains(broken, "cannot decompress")) << broken;
  EXPECT_TRUE(contains(broken, "ok.gz")) << broken;
  auto missing = error_of([&] { read_idx(dir.path / "nope.gz"); });
  EXPECT_TRUE(contains(missing, "nope.gz")) << missing;
  EXPECT_TRUE(contains(missing, "no such file")) << missing;
}

}  // namespace
}  // namespace ddpm
