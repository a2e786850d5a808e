// Dynamic thresholding of x̂_0 (Saharia et al. 2022, Imagen §2.3), as diffusers 0.21.4's
// _threshold_sample: per image, s = the `ratio` quantile of |x̂_0|, clamped to
// [1, max_value]; x̂_0 is clipped to [−s, s] and divided by s (s = 1 is plain clipping).
#pragma once
#include <torch/torch.h>

namespace ddpm {

/// x0 [B, ...] thresholded per image; computed in float32 (or float64) and returned in x0's dtype.
torch::Tensor dynamic_threshold(const torch::Tensor& x0, double ratio, double max_value);

}  // namespace ddpm
