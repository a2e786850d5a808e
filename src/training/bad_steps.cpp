#include "training/bad_steps.h"

#include <fmt/format.h>

namespace ddpm {

int64_t BadSteps::record(int64_t step, const std::string& bad) {
  if (bad.empty()) return in_a_row_ = 0;
  if (in_a_row_++ == 0) first_step_ = step, first_ = bad;
  return in_a_row_;
}

TrainingDiverged BadSteps::diverged(int64_t step, int64_t latest_checkpoint_step,
                                    const std::string& advice) const {
  const std::string what =
      first_ == "loss" || first_ == "gradient norm" ? first_ : "the gradient of " + first_;
  return TrainingDiverged(
      fmt::format("training diverged at step {}: {} consecutive steps had a non-finite loss or "
                  "gradient and were skipped (training.max_bad_steps = {}); the first non-finite "
                  "tensor, at step {}: {}. {}. {}",
                  step, in_a_row_, limit_, first_step_, what,
                  latest_checkpoint_step >= 0
                      ? fmt::format("checkpoints/latest holds step {}, the last finite state",
                                    latest_checkpoint_step)
                      : std::string("No checkpoint was written"),
                  advice),
      first_step_, first_);
}

}  // namespace ddpm
