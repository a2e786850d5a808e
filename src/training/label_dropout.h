// Label dropout for classifier-free guidance (Ho & Salimans 2022, Algorithm 1: "c ← ∅ with
// probability p_uncond"): each label of a batch is replaced by the null class with probability
// p, drawn from the run's generator so that a resumed run draws the same replacements.
#pragma once
#include <torch/torch.h>

namespace ddpm {

/// labels int64 [B] → int64 [B] with each entry set to `null_class` where a uniform draw from
/// `generator` (one per label, on the CPU) is below `p`. p = 0 draws nothing and returns labels.
torch::Tensor drop_labels(const torch::Tensor& labels, double p, int64_t null_class,
                          torch::Generator& generator);

}  // namespace ddpm
