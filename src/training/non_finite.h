// Finding the first tensor that holds an inf or NaN, by name: the trainer names the gradient
// that went non-finite when it skips a step, and a checkpoint is refused before it is written
// when its weights have diverged (issue 13, "Faults during a run").
//
//   if (auto name = first_non_finite(named_gradients))
//     throw std::runtime_error(*name + " is not finite");
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"

namespace ddpm {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// The name of the first tensor, in the given order, with an inf or NaN element; std::nullopt
/// when all are finite. Undefined and integer tensors count as finite. One device sync in all.
std::optional<std::string> first_non_finite(const NamedTensors& tensors);

/// The same for a TensorMap (names in the map's order).
std::optional<std::string> first_non_finite(const TensorMap& tensors);

}  // namespace ddpm
