#include "data/loader.h"

#include <stdexcept>
#include <string>

namespace ddpm {

namespace {

// SplitMix64 (Steele, Lea & Flood 2014): decorrelates the seeds of consecutive epochs.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

BatchLoader::BatchLoader(torch::Tensor images, int64_t batch_size, uint64_t seed, bool drop_last)
    : images_(std::move(images)), batch_size_(batch_size), seed_(seed), drop_last_(drop_last) {
  if (!images_.defined() || images_.dim() < 1 || images_.size(0) == 0)
    throw std::invalid_argument("BatchLoader: expected a non-empty image tensor [N, ...]");
  if (batch_size_ < 1)
    throw std::invalid_argument("batch_size must be at least 1, got " +
                                std::to_string(batch_size_));
  if (drop_last_ && batch_size_ > images_.size(0))
    throw std::invalid_argument("batch_size " + std::to_string(batch_size_) + " exceeds the " +
                                std::to_string(images_.size(0)) +
                                " training images (every batch must be full)");
  order_ = permutation(0);
}

torch::Tensor BatchLoader::permutation(int64_t epoch) const {
  auto generator = at::detail::createCPUGenerator(splitmix64(seed_ ^ splitmix64(uint64_t(epoch))));
  return torch::randperm(images_.size(0), generator, torch::kInt64);
}

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t n = images_.size(0);
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

torch::Tensor BatchLoader::next() {
  return images_.index_select(0, next_indices());
}

torch::Tensor BatchLoader::next_indices() {
  const int64_t n = images_.size(0);
  const int64_t left = n - state_.position;
  if (left == 0 || (drop_last_ && left < batch_size_)) {
    ++state_.epoch;
    state_.position = 0;
    order_ = permutation(state_.epoch);
  }
  const int64_t take = std::min(batch_size_, n - state_.position);
  auto indices = order_.slice(0, state_.position, state_.position + take);
  state_.position += take;
  return indices;
}

void BatchLoader::restore(LoaderState state) {
  if (state.epoch < 0 || state.position < 0 || state.position > images_.size(0))
    throw std::invalid_argument("loader state (epoch " + std::to_string(state.epoch) +
                                ", position " + std::to_string(state.position) + ") does not fit " +
                                std::to_string(images_.size(0)) + " images");
  if (state.epoch != state_.epoch) order_ = permutation(state.epoch);
  state_ = state;
}

}  // namespace ddpm
