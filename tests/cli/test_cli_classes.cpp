// Class-conditional training and guided sampling from the command line (train
// --class-conditional, sample --class-labels / --guidance-scale / --grid-by-class, predict with
// class_labels), on a tiny image folder with one sub-folder per class.
#include <fstream>

#include "cli_runner.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "runs/checkpoint.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::run_ddpm;

// Three classes of 8 random 20×20 images each; "cats" brighter than "dogs" brighter than "fish".
fs::path class_folder(const fs::path& root) {
  torch::manual_seed(7);
  const fs::path dir = root / "classes";
  const std::vector<std::string> names{"fish", "cats", "dogs"};  // sorted: cats, dogs, fish
  for (size_t k = 0; k < names.size(); ++k) {
    fs::create_directories(dir / names[k]);
    for (int i = 0; i < 8; ++i)
      write_png(dir / names[k] / fmt::format("{}.png", i),
                torch::randint(0, 256, {3, 20, 20}, torch::kUInt8));
  }
  return dir;
}

fs::path tiny_config(const fs::path& root, int64_t steps) {
  const fs::path path = root / "tiny.json";
  std::ofstream(path) << nlohmann::json{
      {"model", test::tiny_model_json()},
      {"training",
       {{"steps", steps},
        {"batch_size", 4},
        {"sample_every", steps},
        {"sample_images", 6},
        {"sample_steps", 2},
        {"checkpoint_every", 2},
        {"log_every", 1}}}}.dump();
  return path;
}

std::vector<std::string> train_args(const fs::path& images, const fs::path& config,
                                    const fs::path& out) {
  return {"train",         "--data", images.string(), "--image-size",        "16",     "--config",
          config.string(), "--out",  out.string(),    "--class-conditional", "--seed", "4"};
}

TEST(CliClasses, TrainsOnSubFolderClassesAndSamplesWhatIsAskedFor) {
  test::TempDir dir;
  const auto images = class_folder(dir.path);
  const auto run = dir.path / "run";
  auto train = run_ddpm(train_args(images, tiny_config(dir.path, 4), run));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_TRUE(contains(train.output, "classes: 3 (cats, dogs, fish), null class 3"))
      << train.output;
  auto config = nlohmann::json::parse(std::ifstream(run / "config.json"));
  EXPECT_EQ(config["model"]["num_class_embeds"], 4);
  EXPECT_EQ(config["classes"]["null_class"], 3);
  EXPECT_EQ(config["classes"]["names"], (nlohmann::json{"cats", "dogs", "fish"}));
  EXPECT_EQ(config["training"]["label_dropout"], 0.1);
  // The training grid: one row per class (6 images → 2 per class), names in a left margin.
  auto grid = read_image(run / "samples/step_000004.png");
  EXPECT_EQ(grid.size(1), 3 * 16 + 4 * 2) << "three rows";
  EXPECT_GT(grid.size(2), 2 * 16 + 3 * 2) << "two columns and a margin of names";

  auto sample = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"sample", "--model", run.string(), "--steps", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_ddpm(args);
  };
  auto one = sample({"--class-labels", "dogs", "--n", "2", "--save-tensor",
                     (dir.path / "dogs.safetensors").string()});
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(read_safetensors(dir.path / "dogs.safetensors").tensors.at("x_0").size(0), 2);
  auto list = sample({"--class-labels", "0,2,fish", "--guidance-scale", "3", "--save-tensor",
                      (dir.path / "list.safetensors").string()});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_TRUE(contains(list.output, "guidance scale 3")) << list.output;
  EXPECT_EQ(read_safetensors(dir.path / "list.safetensors").tensors.at("x_0").size(0), 3)
      << "one image per listed label";
  // Same seed, other class: other images (the labels reach the network).
  auto cats = sample({"--class-labels", "cats", "--n", "2", "--save-tensor",
                      (dir.path / "cats.safetensors").string()});
  ASSERT_EQ(cats.exit_code, 0) << cats.output;
  EXPECT_FALSE(read_safetensors(dir.path / "cats.safetensors")
                   .tensors.at("x_0")
                   .equal(read_safetensors(dir.path / "dogs.safetensors").tensors.at("x_0")));
  auto by_class = sample({"--grid-by-class", "--n", "2", "--out", (dir.path / "g.png").string()});
  ASSERT_EQ(by_class.exit_code, 0) << by_class.output;
  EXPECT_EQ(read_image(dir.path / "g.png").size(1), 3 * 16 + 4 * 2);

  // Bad requests: named, refused before sampling.
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad{
      {{"--class-labels", "wolf"}, "allowed: cats, dogs, fish"},
      {{"--class-labels", "4"}, "outside [0, 4)"},
      {{"--class-labels", "1,2", "--n", "3"}, "lists 2 labels"},
      {{"--null-class", "9"}, "outside [0, 4)"},
  };
  for (const auto& [args, expected] : bad) {
    auto r = sample(args);
    EXPECT_NE(r.exit_code, 0) << fmt::format("{}", fmt::join(args, " "));
    EXPECT_TRUE(contains(r.output, expected)) << expected << " in " << r.output;
  }

  // Exported to diffusers: UNet2DModel's num_class_embeds; the null class is not recorded there,
  // so guidance asks for --null-class.
  const auto exported = dir.path / "exported";
  auto exp = run_ddpm(
      {"export", "--model", run.string(), "--format", "diffusers", "--out", exported.string()});
  ASSERT_EQ(exp.exit_code, 0) << exp.output;
  auto unet_config = nlohmann::json::parse(std::ifstream(exported / "config.json"));
  EXPECT_EQ(unet_config["num_class_embeds"], 4);
  EXPECT_TRUE(unet_config["class_embed_type"].is_null());
  auto guided = run_ddpm({"sample", "--model", exported.string(), "--steps", "2", "--n", "2",
                          "--guidance-scale", "2", "--out", (dir.path / "e.png").string()});
  EXPECT_NE(guided.exit_code, 0);
  EXPECT_TRUE(contains(guided.output, "--null-class")) << guided.output;
  auto named = run_ddpm({"sample", "--model", exported.string(), "--steps", "2", "--n", "2",
                         "--guidance-scale", "2", "--null-class", "3", "--class-labels", "1",
                         "--save-tensor", (dir.path / "e.safetensors").string()});
  ASSERT_EQ(named.exit_code, 0) << named.output;
  auto ours = sample({"--guidance-scale", "2", "--class-labels", "1", "--n", "2", "--save-tensor",
                      (dir.path / "o.safetensors").string()});
  ASSERT_EQ(ours.exit_code, 0) << ours.output;
  EXPECT_TRUE(torch::allclose(read_safetensors(dir.path / "e.safetensors").tensors.at("x_0"),
                              read_safetensors(dir.path / "o.safetensors").tensors.at("x_0"), 1e-5,
                              1e-5))
      << "the export samples as the run does";

  // predict: class_labels beside x and t reach the network; a conditional model needs them.
  const auto input = dir.path / "in.safetensors";
  write_safetensors(input, {{"x", torch::randn({2, 3, 16, 16})},
                            {"t", torch::tensor({10, 500}, torch::kLong)},
                            {"class_labels", torch::tensor({0, 3}, torch::kLong)}});
  auto predict = run_ddpm({"predict", "--model", run.string(), "--input", input.string(),
                           "--save-tensor", (dir.path / "eps.safetensors").string()});
  EXPECT_EQ(predict.exit_code, 0) << predict.output;
  write_safetensors(
      input, {{"x", torch::randn({2, 3, 16, 16})}, {"t", torch::tensor({10, 500}, torch::kLong)}});
  auto unlabelled = run_ddpm({"predict", "--model", run.string(), "--input", input.string(),
                              "--save-tensor", (dir.path / "eps2.safetensors").string()});
  EXPECT_NE(unlabelled.exit_code, 0);
  EXPECT_TRUE(contains(unlabelled.output, "class_labels")) << unlabelled.output;
}

TEST(CliClasses, ResumeOfAConditionalRunIsExact) {
  test::TempDir dir;
  const auto images = class_folder(dir.path);
  const auto config = tiny_config(dir.path, 4);
  auto straight = run_ddpm(train_args(images, config, dir.path / "straight"));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  auto args = train_args(images, config, dir.path / "split");
  args.insert(args.end(), {"--steps", "2"});
  auto first = run_ddpm(args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto rest =
      run_ddpm({"train", "--out", (dir.path / "split").string(), "--resume", "--steps", "4"});
  ASSERT_EQ(rest.exit_code, 0) << rest.output;
  auto a = read_checkpoint(dir.path / "straight/checkpoints/latest");
  auto b = read_checkpoint(dir.path / "split/checkpoints/latest");
  ASSERT_EQ(a.model.size(), b.model.size());
  for (const auto& [name, t] : a.model) EXPECT_TRUE(t.equal(b.model.at(name))) << name;
  EXPECT_TRUE(a.model.count("class_embedding.weight"));
}

TEST(CliClasses, RefusesWhatCannotBeConditioned) {
  test::TempDir dir;
  // Images at the top level beside sub-folders: no classes.
  const fs::path mixed = dir.path / "mixed";
  fs::create_directories(mixed / "a");
  for (int i = 0; i < 4; ++i) {
    write_png(mixed / fmt::format("{}.png", i), torch::zeros({3, 16, 16}, torch::kUInt8));
    write_png(mixed / "a" / fmt::format("{}.png", i), torch::zeros({3, 16, 16}, torch::kUInt8));
  }
  auto r = run_ddpm(train_args(mixed, tiny_config(dir.path, 2), dir.path / "run"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "both at its top level")) << r.output;
  EXPECT_FALSE(fs::exists(dir.path / "run" / "checkpoints"));

  // An unconditional run takes no labels and no guidance.
  auto plain =
      run_ddpm({"train", "--data", mixed.string(), "--image-size", "16", "--config",
                tiny_config(dir.path, 2).string(), "--out", (dir.path / "plain").string()});
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"--class-labels", "1"}, {"--guidance-scale", "2"}, {"--grid-by-class"}}) {
    std::vector<std::string> args{"sample", "--model", (dir.path / "plain").string(), "--steps",
                                  "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto s = run_ddpm(args);
    EXPECT_NE(s.exit_code, 0) << extra[0];
    EXPECT_TRUE(contains(s.output, "not class-conditional")) << s.output;
  }
}

}  // namespace
}  // namespace ddpm
