// safetensors: round trips for every dtype, the diffusers fixtures (parsed and rewritten byte for
// byte), and corrupt files that must fail with the file's name in the message, never crash.
#include "io/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "test_util.h"

namespace ddpm {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

/// A file from a header text (used verbatim) and `data_bytes` bytes of data.
std::string raw_file(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + std::string(data_bytes, '\x01');
}

/// The message read_safetensors throws for `bytes`, or "" when it parses.
std::string error_for(const fs::path& path, const std::string& bytes) {
  spit(path, bytes);
  try {
    read_safetensors(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripsEveryDtype) {
  test::TempDir dir;
  torch::manual_seed(0);
  const auto f = torch::randn({3, 5});
  TensorMap tensors{
      {"f64", f.to(torch::kFloat64)},
      {"f32", f.t()},  // non-contiguous: written contiguous
      {"f16", f.to(torch::kFloat16)},
      {"bf16", f.to(torch::kBFloat16)},
      {"i64", torch::randint(-(int64_t(1) << 40), int64_t(1) << 40, {7}, torch::kInt64)},
      {"i32", torch::randint(-100000, 100000, {2, 2}, torch::kInt32)},
      {"i16", torch::randint(-30000, 30000, {4}, torch::kInt16)},
      {"i8", torch::randint(-128, 128, {4, 1, 2}, torch::kInt8)},
      {"u8", torch::randint(0, 256, {6}, torch::kUInt8)},
      {"bool", torch::randint(0, 2, {9}).to(torch::kBool)},
      {"scalar", torch::tensor(2.5)},
      {"empty", torch::zeros({0, 4})},
  };
  const fs::path path = dir.path / "all.safetensors";
  write_safetensors(path, tensors, {{"format", "pt"}, {"note", "round trip"}});

  const auto file = read_safetensors(path);
  EXPECT_EQ(file.metadata,
            (std::map<std::string, std::string>{{"format", "pt"}, {"note", "round trip"}}));
  ASSERT_EQ(file.tensors.size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    const auto& actual = file.tensors.at(name);
    EXPECT_EQ(actual.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(actual.sizes(), expected.sizes()) << name;
    EXPECT_TRUE(actual.is_contiguous()) << name;
    EXPECT_TRUE(torch::equal(actual, expected)) << name;
  }

  const std::string bytes = slurp(path);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  EXPECT_EQ((8 + header_size) % 8, 0u) << "header padded to a multiple of 8";
  EXPECT_EQ(bytes[8], '{');
  write_safetensors(dir.path / "again.safetensors", file.tensors, file.metadata);
  EXPECT_EQ(slurp(dir.path / "again.safetensors"), bytes) << "byte-stable";
  for (const auto& entry : fs::directory_iterator(dir.path))
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".tmp.")));
}

TEST(Safetensors, NoMetadataWritesNoMetadataKey) {
  test::TempDir dir;
  write_safetensors(dir.path / "a.safetensors", {{"x", torch::ones({2})}});
  EXPECT_THAT(slurp(dir.path / "a.safetensors"), ::testing::Not(HasSubstr("__metadata__")));
  EXPECT_TRUE(read_safetensors(dir.path / "a.safetensors").metadata.empty());
}

TEST(Safetensors, RejectsUnwritableTensors) {
  test::TempDir dir;
  const fs::path path = dir.path / "bad.safetensors";
  EXPECT_THROW(write_safetensors(path, {{"c", torch::zeros({2}, torch::kComplexFloat)}}),
               std::invalid_argument);
  EXPECT_THROW(write_safetensors(path, {{"__metadata__", torch::zeros({2})}}),
               std::invalid_argument);
  EXPECT_THROW(write_safetensors(path, {{"u", torch::Tensor()}}), std::invalid_argument);
  EXPECT_FALSE(fs::exists(path));
}

TEST(Safetensors, ParsesDiffusersFixtures) {
  struct Expected {
    const char* file;
    const char* name;
    torch::ScalarType dtype;
    std::vector<int64_t> shape;
    size_t count;
  };
  const Expected cases[] = {
      {"schedules.safetensors", "alphas_cumprod.linear", torch::kFloat32, {1000}, 3},
      {"ddpm-step.safetensors", "x_t", torch::kFloat32, {2, 3, 8, 8}, 9},
      {"tiny-unet/forward.safetensors", "eps", torch::kFloat32, {2, 3, 16, 16}, 3},
      {"tiny-unet/forward.safetensors", "t", torch::kInt64, {2}, 3},
      {"tiny-unet/forward.safetensors", "x", torch::kFloat32, {2, 3, 16, 16}, 3},
      {"tiny-unet/diffusion_pytorch_model.safetensors",
       "conv_in.weight",
       torch::kFloat32,
       {32, 3, 3, 3},
       144},
  };
  for (const auto& c : cases) {
    const auto file = read_safetensors(test::fixture(c.file));
    EXPECT_EQ(file.tensors.size(), c.count) << c.file;
    ASSERT_TRUE(file.tensors.count(c.name)) << c.file << " lacks " << c.name;
    const auto& t = file.tensors.at(c.name);
    EXPECT_EQ(t.scalar_type(), c.dtype) << c.file << " " << c.name;
    EXPECT_EQ(t.sizes().vec(), c.shape) << c.file << " " << c.name;
  }
  const auto schedule = read_safetensors(test::fixture("schedules.safetensors")).tensors;
  const auto linear = schedule.at("alphas_cumprod.linear");
  EXPECT_NEAR(linear[0].item<double>(), 1.0 - 1e-4, 1e-7);  // ᾱ_0 = 1 − β_0
  EXPECT_EQ(
      read_safetensors(test::fixture("tiny-unet/diffusion_pytorch_model.safetensors")).metadata,
      (std::map<std::string, std::string>{{"format", "pt"}}));
}

TEST(Safetensors, RewritesReferenceFilesByteForByte) {
  test::TempDir dir;
  for (const char* name :
       {"tiny-unet/forward.safetensors", "tiny-unet/diffusion_pytorch_model.safetensors"}) {
    const auto file = read_safetensors(test::fixture(name));
    write_safetensors(dir.path / "copy.safetensors", file.tensors, file.metadata);
    EXPECT_TRUE(slurp(dir.path / "copy.safetensors") == slurp(test::fixture(name))) << name;
  }
}

TEST(Safetensors, TensorsOutliveTheFile) {
  test::TempDir dir;
  const fs::path path = dir.path / "gone.safetensors";
  write_safetensors(path, {{"x", torch::arange(10, torch::kFloat32)}});
  const auto file = read_safetensors(path);
  fs::remove(path);
  EXPECT_EQ(file.tensors.at("x").sum().item<float>(), 45.0f);
}

TEST(Safetensors, CorruptFilesNameTheFileAndTheProblem) {
  test::TempDir dir;
  const fs::path path = dir.path / "corrupt.safetensors";
  const std::string f32x2 = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_EQ(error_for(path, raw_file(f32x2, 8)), "");  // the valid baseline

  struct Case {
    const char* what;
    std::string bytes;
    const char* expected;
  };
  std::string past_eof = raw_file(f32x2, 8);
  const uint64_t huge = 1000;
  std::memcpy(past_eof.data(), &huge, 8);
  const Case cases[] = {
      {"empty", "", "too short"},
      {"truncated length", std::string(5, '\0'), "too short"},
      {"header length past EOF", past_eof, "header length 1000"},
      {"truncated data", raw_file(f32x2, 8).substr(0, 8 + f32x2.size() + 4), "out of bounds"},
      {"bad JSON", raw_file(R"({"a":{"dtype":"F32",)", 0), "not valid JSON"},
      {"not an object", raw_file("[1,2]", 0), "must start with '{'"},
      {"unknown dtype", raw_file(R"({"a":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2),
       "unsupported dtype \"F8\""},
      {"missing dtype", raw_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8), "dtype"},
      {"negative shape", raw_file(R"({"a":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}})", 2),
       "non-negative"},
      {"offsets out of bounds",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "out of bounds"},
      {"reversed offsets", raw_file(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", 4),
       "begin after"},
      {"overlapping offsets",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                12),
       "overlaps"},
      {"size/shape mismatch",
       raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12"},
      {"hole between tensors",
       raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                12),
       "hole"},
      {"unindexed tail", raw_file(f32x2, 12), "data section holds 12"},
      {"non-string metadata",
       raw_file(R"({"__metadata__":{"epoch":3},"a":{"dtype":"U8","shape":[1],)"
                R"("data_offsets":[0,1]}})",
                1),
       "__metadata__ 'epoch' must be a string"},
      {"duplicate key",
       raw_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                R"("a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                1),
       "twice"},
      {"shape overflow",
       raw_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       "overflows"},
      {"empty tensor with huge dims",
       raw_file(R"({"a":{"dtype":"U8","shape":[0,9223372036854775807,4],"data_offsets":[0,0]}})",
                0),
       "overflows"},
      {"bool out of range",
       raw_file(R"({"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", 0) + "\x07", "BOOL"},
  };
  for (const auto& c : cases) {
    const std::string message = error_for(path, c.bytes);
    EXPECT_THAT(message, HasSubstr(path.string())) << c.what;
    EXPECT_THAT(message, HasSubstr(c.expected)) << c.what;
  }
  try {
    read_safetensors(dir.path / "does-not-exist.safetensors");
    ADD_FAILURE() << "expected an error for a missing file";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("does-not-exist.safetensors: cannot open"));
  }
}

TEST(Safetensors, FuzzedFilesParseOrThrow) {
  test::TempDir dir;
  const fs::path valid = dir.path / "valid.safetensors", path = dir.path / "fuzz.safetensors";
  write_safetensors(valid,
                    {{"a", torch::arange(6, torch::kFloat32).reshape({2, 3})},
                     {"b", torch::tensor({1, 2, 3}, torch::kInt64)},
                     {"c", torch::ones({2}, torch::kBool)}},
                    {{"format", "pt"}});
  const std::string bytes = slurp(valid);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);

  int parsed = 0, rejected = 0;
  auto attempt = [&](const std::string& candidate) {
    spit(path, candidate);
    try {
      read_safetensors(path);
      ++parsed;
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path.string()));
      ++rejected;
    }
  };
  for (size_t length = 0; length < bytes.size(); ++length) attempt(bytes.substr(0, length));
  EXPECT_EQ(parsed, 0) << "every truncation must be rejected";

  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> position(0, 8 + header_size - 1);
  std::uniform_int_distribution<int> value(0, 255), count(1, 4);
  for (int i = 0; i < 500; ++i) {
    std::string candidate = bytes;
    for (int k = count(rng); k > 0; --k) candidate[position(rng)] = char(value(rng));
    attempt(candidate);
  }
  EXPECT_GT(rejected, int(bytes.size()));
}

}  // namespace
}  // namespace ddpm
