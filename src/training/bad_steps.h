// Issue 13's rule for steps whose loss or gradient is not finite, shared by both trainers: such
// a step is skipped (nothing updated), and max_bad_steps of them in a row stop the run with a
// TrainingDiverged naming the first step and tensor of the run of bad steps.
//
//   BadSteps bad(tc.max_bad_steps);
//   if (bad.record(step, what) && bad.exhausted()) throw bad.diverged(step, latest, advice);
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ddpm {

/// training.max_bad_steps consecutive steps had a non-finite loss or gradient.
class TrainingDiverged : public std::runtime_error {
 public:
  TrainingDiverged(const std::string& message, int64_t first_step, std::string tensor)
      : std::runtime_error(message), first_step_(first_step), tensor_(std::move(tensor)) {}
  /// The first step of the run of bad steps (1-based, as in log.csv) and what went non-finite
  /// there: "loss", a parameter's name (its gradient) or "gradient norm" (it overflowed).
  int64_t first_step() const { return first_step_; }
  const std::string& tensor() const { return tensor_; }

 private:
  int64_t first_step_;
  std::string tensor_;
};

class BadSteps {
 public:
  explicit BadSteps(int64_t limit) : limit_(limit) {}
  /// Records step `step` (1-based): `bad` empty when it was applied, else what went non-finite
  /// ("loss", "gradient norm" or a parameter's name, whose gradient it was). Returns how many
  /// bad steps are now in a row (0 after a good one).
  int64_t record(int64_t step, const std::string& bad);
  bool exhausted() const { return in_a_row_ >= limit_; }
  /// The error to throw once exhausted(): the steps, the first tensor, where the last finite
  /// checkpoint is (`latest_checkpoint_step`, −1 for none) and `advice`.
  TrainingDiverged diverged(int64_t step, int64_t latest_checkpoint_step,
                            const std::string& advice) const;

 private:
  int64_t limit_;
  int64_t in_a_row_ = 0;
  int64_t first_step_ = 0;
  std::string first_;  ///< what went non-finite at first_step_
};

}  // namespace ddpm
