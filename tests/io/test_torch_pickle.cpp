// The torch.save reader against files PyTorch wrote (ermongroup/ddim's training list,
// improved-diffusion's state dict) and hostile ones (tests/fixtures/original/
// make_hostile_pickles.py): code to run, the legacy format, a non-archive.
#include "io/torch_pickle.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace ddpm {
namespace {

std::string error_of(const std::filesystem::path& p) {
  try {
    read_torch_pickle(p);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(TorchPickle, ReadsATrainingListWithOrderedDicts) {
  const auto file = test::repo_fixture("original/tiny-ddim-official/ckpt.pth");
  const auto value = read_torch_pickle(file);
  ASSERT_TRUE(value.isList());
  const auto list = value.toListRef();
  ASSERT_EQ(list.size(), 5u);  // [model, optimizer, epoch, step, ema_shadow]
  EXPECT_EQ(list[2].toInt(), 1);
  EXPECT_EQ(list[3].toInt(), 10);
  const auto model = tensor_dict(list[0], "model"), ema = tensor_dict(list[4], "ema");
  EXPECT_EQ(model.size(), 144u);
  EXPECT_EQ(model.at("down.1.attn.0.q.weight").sizes(), torch::IntArrayRef({64, 64, 1, 1}));
  EXPECT_FALSE(torch::equal(model.at("conv_in.bias"), ema.at("conv_in.bias")));
}

TEST(TorchPickle, ReadsAStateDict) {
  const auto sd = tensor_dict(
      read_torch_pickle(test::repo_fixture("original/tiny-improved-diffusion/model.pt")), "sd");
  EXPECT_EQ(sd.size(), 204u);
  EXPECT_EQ(sd.at("middle_block.1.qkv.weight").sizes(), torch::IntArrayRef({192, 64, 1}));
  EXPECT_EQ(sd.at("out.2.weight").scalar_type(), torch::kFloat32);
}

TEST(TorchPickle, ReadsPlainData) {
  const auto v = read_torch_pickle(test::repo_fixture("original/hostile/numbers-only.pt"));
  ASSERT_TRUE(v.isList());
  EXPECT_EQ(describe_ivalue(v), "list of 7");
  EXPECT_DOUBLE_EQ(v.toListRef()[1].toDouble(), 2.5);
}

TEST(TorchPickle, RefusesCodeTheLegacyFormatAndOtherFiles) {
  const auto code = error_of(test::repo_fixture("original/hostile/runs-code.pt"));
  EXPECT_NE(code.find("posix.system"), std::string::npos) << code;
  EXPECT_NE(code.find("no pickled code is run"), std::string::npos) << code;
  const auto legacy = error_of(test::repo_fixture("original/hostile/legacy.pt"));
  EXPECT_NE(legacy.find("legacy format"), std::string::npos) << legacy;
  EXPECT_NE(legacy.find("torch.save(torch.load("), std::string::npos) << legacy;
  const auto yaml = error_of(test::repo_fixture("original/tiny-ddim-official/config.yml"));
  EXPECT_NE(yaml.find("not a torch.save file"), std::string::npos) << yaml;
  const auto nums = read_torch_pickle(test::repo_fixture("original/hostile/numbers-only.pt"));
  try {
    tensor_dict(nums, "numbers-only.pt");
    ADD_FAILURE() << "a list taken for a state dict";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("expected a state dict"), std::string::npos);
  }
}

}  // namespace
}  // namespace ddpm
