#include "data/loader.h"

#include "test_util.h"

namespace ddpm {
namespace {

// Image i is a 1×1×1 image of value i, so a batch shows which images it holds.
torch::Tensor numbered(int64_t n) {
  return torch::arange(n, torch::kInt64).view({n, 1, 1, 1});
}

std::vector<int64_t> ids(const torch::Tensor& batch) {
  auto flat = batch.flatten().contiguous();
  return {flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel()};
}

TEST(BatchLoader, EpochsArePermutationsAndDropTheRemainder) {
  BatchLoader loader(numbered(10), 3, /*seed=*/5);
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> seen;
    for (int b = 0; b < 3; ++b) {
      auto batch = loader.next();
      EXPECT_EQ(batch.sizes(), (std::vector<int64_t>{3, 1, 1, 1}));
      auto v = ids(batch);
      seen.insert(seen.end(), v.begin(), v.end());
      EXPECT_EQ(loader.state().epoch, epoch);
    }
    auto expected = ids(loader.permutation(epoch).slice(0, 0, 9));
    EXPECT_EQ(seen, expected) << "epoch " << epoch;
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end());
  }
  EXPECT_FALSE(loader.permutation(0).equal(loader.permutation(1)));
}

TEST(BatchLoader, KeepLastCoversEveryImage) {
  BatchLoader loader(numbered(10), 4, 1, /*drop_last=*/false);
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  std::vector<int64_t> seen;
  std::vector<int64_t> batch_sizes;
  for (int b = 0; b < 3; ++b) {
    auto batch = loader.next();
    batch_sizes.push_back(batch.size(0));
    auto v = ids(batch);
    seen.insert(seen.end(), v.begin(), v.end());
  }
  EXPECT_EQ(batch_sizes, (std::vector<int64_t>{4, 4, 2}));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, ids(numbered(10)));
  EXPECT_EQ(loader.next().size(0), 4);
  EXPECT_EQ(loader.state().epoch, 1);
}

TEST(BatchLoader, SameSeedSameBatchesAndRestoreContinuesExactly) {
  BatchLoader a(numbered(50), 8, 42), b(numbered(50), 8, 42), c(numbered(50), 8, 43);
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    auto x = a.next();
    EXPECT_TRUE(x.equal(b.next())) << "batch " << i;
    differs |= !x.equal(c.next());
  }
  EXPECT_TRUE(differs);

  const LoaderState saved = a.state();  // 6 batches per epoch: the 20th is the 2nd of epoch 3
  EXPECT_EQ(saved.epoch, 3);
  EXPECT_EQ(saved.position, 16);
  std::vector<torch::Tensor> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(a.next());
  BatchLoader resumed(numbered(50), 8, 42);
  resumed.restore(saved);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(resumed.next().equal(expected[i])) << "batch " << i;
  EXPECT_EQ(resumed.state().epoch, a.state().epoch);
  EXPECT_EQ(resumed.state().position, a.state().position);
}

TEST(BatchLoader, BadArgumentsAreErrors) {
  EXPECT_THROW(BatchLoader(numbered(4), 5, 0), std::invalid_argument);
  EXPECT_THROW(BatchLoader(numbered(4), 0, 0), std::invalid_argument);
  EXPECT_THROW(BatchLoader(torch::empty({0, 1, 2, 2}), 1, 0), std::invalid_argument);
  BatchLoader loader(numbered(4), 2, 0);
  EXPECT_THROW(loader.restore({0, 5}), std::invalid_argument);
  EXPECT_THROW(loader.restore({-1, 0}), std::invalid_argument);
  EXPECT_NO_THROW(BatchLoader(numbered(4), 5, 0, /*drop_last=*/false));
}

}  // namespace
}  // namespace ddpm
