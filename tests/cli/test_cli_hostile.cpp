// Hostile input through the `ddpm` program (issue #13): bad numbers on the command line, broken
// model folders and configs, wrong --init-noise / --input tensors, images that are empty, claim
// 60000 × 60000 pixels or are cut short. Every one ends with exit status 1 (a bad input file or
// value) or 2 (a bad command line), never a signal, and exactly one line `error: …` naming the
// flag or file and the fault.
#include <fstream>
#include <sstream>

#include <stb/stb_image_write.h>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::run_ddpm;

const fs::path kTiny = test::fixture("tiny-unet");  // UNet2DModel, 3 × 16 × 16, DDIM scheduler

void spit(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A writable copy of the tiny-unet fixture folder.
fs::path tiny_copy(const fs::path& dir) {
  fs::create_directories(dir);
  for (const char* name : {"config.json", "diffusion_pytorch_model.safetensors"})
    spit(dir / name, slurp(kTiny / name));
  spit(dir / "scheduler" / "scheduler_config.json",
       slurp(kTiny / "scheduler" / "scheduler_config.json"));
  return dir;
}

/// Runs `ddpm args...` and checks the hostile-input contract: exit status `status`, exactly one
/// line starting with "error: ", holding every one of `expected`; no crash or backtrace.
void expect_refused(const std::vector<std::string>& args, int status,
                    const std::vector<std::string>& expected) {
  const auto r = run_ddpm(args);
  std::string shown = "ddpm";
  for (const auto& a : args) shown += " " + a;
  shown += "\n" + r.output;
  EXPECT_EQ(r.exit_code, status) << shown;
  std::istringstream lines(r.output);
  std::vector<std::string> errors;
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("error: ", 0) == 0) errors.push_back(line);
  ASSERT_EQ(errors.size(), 1u) << shown;
  for (const auto& e : expected)
    EXPECT_NE(errors[0].find(e), std::string::npos) << e << "\n" << shown;
  for (const char* crash : {"terminate called", "Exception raised from", "Segmentation", "Aborted"})
    EXPECT_EQ(r.output.find(crash), std::string::npos) << shown;
}

TEST(CliHostile, NumbersOutOfRangeAreUsageErrors) {
  const std::string model = kTiny.string();
  expect_refused({"sample", "--model", model, "--n", "-1"}, 2, {"--n", "-1"});
  expect_refused({"sample", "--model", model, "--n", "many"}, 2, {"--n", "many"});
  expect_refused({"sample", "--model", model, "--batch-size", "0"}, 2, {"--batch-size"});
  expect_refused({"sample", "--model", model, "--steps", "-3"}, 2, {"--steps", "-3"});
  expect_refused({"sample", "--model", model, "--eta", "2"}, 2, {"--eta", "2"});
  expect_refused({"sample", "--model", model, "--n", "99999999999999999999999"}, 2, {"--n"});
  expect_refused({"sample", "--model", model, "--no-such-flag"}, 2, {"--no-such-flag"});
}

TEST(CliHostile, NumbersOutOfTheModelsRangeNameTheValue) {
  test::TempDir dir;
  expect_refused({"sample", "--model", kTiny.string(), "--steps", "5000", "--out",
                  (dir.path / "s.png").string()},
                 1, {"steps", "5000", "1000"});
  const std::string out = (dir.path / "run").string();
  expect_refused({"train", "--image-size", "100000", "--out", out}, 1,
                 {"image_size", "100000", "8192"});
  expect_refused({"train", "--steps", "-5", "--out", out}, 1, {"training.steps", ">= 0"});
  expect_refused({"train", "--batch-size", "0", "--out", out}, 1, {"training.batch_size"});
  expect_refused({"train", "--num-train-timesteps", "10000000000", "--out", out}, 1,
                 {"num_train_timesteps", "10000000000", "kMaxTrainTimesteps"});
  EXPECT_FALSE(fs::exists(dir.path / "run" / "checkpoints"));
}

TEST(CliHostile, BrokenModelFoldersNameTheFile) {
  test::TempDir dir;
  const auto sample = [&](const fs::path& model) {
    return std::vector<std::string>{
        "sample", "--model", model.string(), "--n", "1", "--out", (dir.path / "s.png").string()};
  };
  const fs::path not_json = tiny_copy(dir.path / "not-json");
  spit(not_json / "config.json", "{\"sample_size\": 16,");
  expect_refused(sample(not_json), 1, {(not_json / "config.json").string(), "invalid JSON"});

  const fs::path absurd = tiny_copy(dir.path / "absurd");
  auto config = nlohmann::json::parse(slurp(kTiny / "config.json"));
  config["sample_size"] = 1000000;
  spit(absurd / "config.json", config.dump());
  expect_refused(sample(absurd), 1,
                 {(absurd / "config.json").string(), "sample_size must be in [1, 8192]"});

  const fs::path negative = tiny_copy(dir.path / "negative");
  config = nlohmann::json::parse(slurp(kTiny / "config.json"));
  config["block_out_channels"] = {-32, 64};
  spit(negative / "config.json", config.dump());
  expect_refused(sample(negative), 1, {(negative / "config.json").string(), "[-32, 64]"});

  const fs::path scheduler = tiny_copy(dir.path / "scheduler");
  spit(scheduler / "scheduler" / "scheduler_config.json",
       R"({"_class_name": "KarrasVeScheduler"})");
  expect_refused(sample(scheduler), 1,
                 {(scheduler / "scheduler" / "scheduler_config.json").string(), "KarrasVeScheduler",
                  "is not supported"});

  const fs::path weights = tiny_copy(dir.path / "weights");
  const std::string bytes = slurp(kTiny / "diffusion_pytorch_model.safetensors");
  spit(weights / "diffusion_pytorch_model.safetensors", bytes.substr(0, bytes.size() / 2));
  expect_refused(sample(weights), 1,
                 {(weights / "diffusion_pytorch_model.safetensors").string(), "data section"});
}

TEST(CliHostile, WrongInitNoiseAndPredictInputsNameTheFile) {
  test::TempDir dir;
  const fs::path wrong_name = dir.path / "wrong-name.safetensors";
  write_safetensors(wrong_name, {{"noise", torch::zeros({1, 3, 16, 16})}});
  const fs::path wrong_shape = dir.path / "wrong-shape.safetensors";
  write_safetensors(wrong_shape, {{"x_T", torch::zeros({1, 3, 8, 8})}});
  const fs::path wrong_dtype = dir.path / "wrong-dtype.safetensors";
  write_safetensors(wrong_dtype, {{"x_T", torch::zeros({1, 3, 16, 16}, torch::kInt64)}});
  const fs::path garbage = dir.path / "garbage.safetensors";
  spit(garbage, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10));
  const std::vector<std::pair<fs::path, std::string>> cases{
      {wrong_name, "no tensor named x_T (found: noise)"},
      {wrong_shape, "x_T has shape [1, 3, 8, 8]"},
      {wrong_dtype, "x_T has dtype Long"},
      {garbage, "header"},
  };
  for (const auto& [file, fault] : cases)
    expect_refused({"sample", "--model", kTiny.string(), "--init-noise", file.string(), "--out",
                    (dir.path / "s.png").string()},
                   1, {file.string(), fault});

  const fs::path no_t = dir.path / "no-t.safetensors";
  write_safetensors(no_t, {{"x", torch::zeros({1, 3, 16, 16})}});
  expect_refused({"predict", "--model", kTiny.string(), "--input", no_t.string(), "--save-tensor",
                  (dir.path / "eps.safetensors").string()},
                 1, {no_t.string(), "no tensor named t"});
  const fs::path odd = dir.path / "odd.safetensors";
  write_safetensors(odd,
                    {{"x", torch::zeros({1, 3, 15, 16})}, {"t", torch::zeros({1}, torch::kInt64)}});
  expect_refused({"predict", "--model", kTiny.string(), "--input", odd.string(), "--save-tensor",
                  (dir.path / "eps.safetensors").string()},
                 1, {odd.string(), "H and W must be multiples of 2"});
}

TEST(CliHostile, BrokenConfigFilesAndImagesNameTheFile) {
  test::TempDir dir;
  const std::string out = (dir.path / "run").string();
  const fs::path not_json = dir.path / "not-json.json";
  spit(not_json, "{ training: 3 }");
  expect_refused({"train", "--config", not_json.string(), "--out", out}, 1,
                 {not_json.string(), "invalid JSON"});
  const fs::path bad_value = dir.path / "bad-value.json";
  spit(bad_value, R"({"model": {"in_channels": 0}})");
  expect_refused({"train", "--config", bad_value.string(), "--out", out}, 1,
                 {bad_value.string(), "in_channels"});
  const fs::path bad_type = dir.path / "bad-type.json";
  spit(bad_type, R"({"preset": 7})");
  expect_refused({"train", "--config", bad_type.string(), "--out", out}, 1,
                 {bad_type.string(), "preset must be a string"});

  // Image folders: a zero-byte PNG, then a 57-byte PNG claiming 60000 × 60000 pixels.
  const fs::path empty = dir.path / "empty-images" / "a.png";
  spit(empty, "");
  expect_refused(
      {"train", "--data", empty.parent_path().string(), "--image-size", "16", "--out", out}, 1,
      {empty.string(), "the file is empty"});
  const fs::path huge = dir.path / "huge-images" / "a.png";
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  spit(huge, std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16) + be32(60000) + be32(60000) +
                 std::string("\x08\x02\0\0\0\0\0\0\0", 9));
  expect_refused(
      {"train", "--data", huge.parent_path().string(), "--image-size", "16", "--out", out}, 1,
      {huge.string(), "60000x60000", "kMaxImagePixels"});
  // A JPEG cut in half: libjpeg's complaint is the one error line, nothing else is printed.
  const fs::path cut = dir.path / "cut-images" / "a.jpg";
  std::string jpg;
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
  };
  const auto hwc = torch::full({16, 16, 3}, 100, torch::kUInt8);
  ASSERT_TRUE(stbi_write_jpg_to_func(append, &jpg, 16, 16, 3, hwc.data_ptr(), 90));
  spit(cut, jpg.substr(0, jpg.size() / 2));
  const std::vector<std::string> train_cut{
      "train", "--data", cut.parent_path().string(), "--image-size", "16", "--out", out};
  expect_refused(train_cut, 1, {cut.string(), "Premature end of JPEG file"});
  const std::string output = run_ddpm(train_cut).output;
  EXPECT_EQ(output.find("Premature end of JPEG file"), output.rfind("Premature end of JPEG file"))
      << output;
  EXPECT_FALSE(fs::exists(dir.path / "run" / "checkpoints"));
}

}  // namespace
}  // namespace ddpm
