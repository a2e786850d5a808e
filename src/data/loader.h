// Seeded mini-batches over a uint8 image tensor, reshuffled every epoch, with a state of two
// integers so a resumed run continues with exactly the batches it would have drawn.
//
// Epoch e visits the images in torch::randperm(N) drawn from a CPU generator seeded with a mix of
// (seed, e) (SplitMix64), so no generator state needs saving.
//
//   BatchLoader loader(data.train, /*batch_size=*/128, /*seed=*/0);
//   auto batch = loader.next();            // uint8 [128, C, H, W]
//   LoaderState s = loader.state();        // save; later: loader.restore(s)
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace ddpm {

struct LoaderState {
  int64_t epoch = 0;     ///< epochs completed
  int64_t position = 0;  ///< images of this epoch's permutation already served
};

class BatchLoader {
 public:
  /// images: [N, ...] on the CPU. drop_last: every batch is full and an epoch's remainder of
  /// N mod batch_size images is skipped (as in the DDPM and Keras training loops). Throws
  /// std::invalid_argument when batch_size < 1, N = 0, or drop_last and batch_size > N.
  BatchLoader(torch::Tensor images, int64_t batch_size, uint64_t seed, bool drop_last = true);

  /// The next batch [B, ...] (B = batch_size, or less at the end of an epoch without
  /// drop_last); rolls over into the next epoch.
  torch::Tensor next();
  /// The rows next() would return (int64 [B]), advancing the same way: for picking labels
  /// alongside the images (images.index_select(0, rows)).
  torch::Tensor next_indices();

  /// Batches in one epoch.
  int64_t batches_per_epoch() const;

  LoaderState state() const { return state_; }
  /// Continues from a state() taken from a loader with the same images, batch size and seed.
  /// Throws std::invalid_argument for a negative epoch or a position outside [0, N].
  void restore(LoaderState state);

  /// The order in which epoch `epoch` visits the images: int64 [N].
  torch::Tensor permutation(int64_t epoch) const;

  int64_t batch_size() const { return batch_size_; }
  int64_t size() const { return images_.size(0); }

 private:
  torch::Tensor images_;
  int64_t batch_size_;
  uint64_t seed_;
  bool drop_last_;
  LoaderState state_;
  torch::Tensor order_;  ///< permutation(state_.epoch)
};

}  // namespace ddpm
