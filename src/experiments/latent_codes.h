// Images ↔ latents x_T through the deterministic DDIM ODE (DDIM §4.3 and §5.4): encoding is DDIM
// inversion (samplers/ddim_inversion.h), decoding is DDIM sampling with η = 0 over the same
// timesteps, both without clipping x̂_0 so that one is the inverse of the other up to the ODE
// discretisation error (DDIM Table 2: per-dimension MSE ~1e-3 at 50 steps on CIFAR-10, falling
// with more steps). The codes travel in a safetensors file:
//
//   tensors   "x_T" float32 [N, C, H, W]; "x_0" the encoded images in model space (optional)
//   metadata  "format": "ddpm-latent-codes", "timesteps": "980,960,…,0", plus free-form keys
//
//   auto codes = encode_images(denoise, schedule, prediction, sampling, ts, x0);
//   write_latent_codes("codes.safetensors", {codes, x0, ts, {{"model", "runs/fmnist"}}});
//   auto back = decode_codes(denoise, schedule, prediction, sampling, ts, codes);
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/noise_schedule.h"
#include "runs/codec.h"
#include "runs/run_config.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

inline constexpr const char* kLatentCodesFormat = "ddpm-latent-codes";

struct LatentCodes {
  torch::Tensor x_T;                        ///< float32 [N, C, H, W]
  torch::Tensor x_0;                        ///< float32 [N, C, H, W] or undefined
  std::vector<int64_t> timesteps;           ///< descending, as sampling walks them
  std::map<std::string, std::string> info;  ///< model, weights, … (metadata)
};

/// The DDIM grid codes are encoded and decoded on: `base` switched to DDIM with `steps` steps
/// (its spacing and offset kept), as training steps, descending. Throws for steps outside [1, T].
std::vector<int64_t> code_timesteps(const SamplerConfig& base, int64_t steps,
                                    int64_t num_train_timesteps);

/// x_0 [N, C, H, W] (model space) → x_T by DDIM inversion over `timesteps` (descending);
/// sampling.set_alpha_to_one picks the clean end's ᾱ; `fixed_point_iterations` extra network
/// evaluations per step make decoding return x_0 almost exactly (samplers/ddim_inversion.h).
/// float32 on the CPU.
torch::Tensor encode_images(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                            PredictionType prediction, const SamplingConfig& sampling,
                            const std::vector<int64_t>& timesteps, const torch::Tensor& x0,
                            int64_t fixed_point_iterations = 0, const StepCallback& on_step = {});

/// x_T → x_0 by DDIM with η = 0 and no clipping over `timesteps`. float32 on the CPU.
torch::Tensor decode_codes(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                           PredictionType prediction, const SamplingConfig& sampling,
                           const std::vector<int64_t>& timesteps, const torch::Tensor& x_T,
                           const StepCallback& on_step = {});

struct RoundTripError {
  double mse = 0;        ///< mean squared difference in model units
  double max_abs = 0;    ///< largest absolute difference in model units
  double pixel_mse = 0;  ///< mean squared difference of the uint8 images, pixels scaled to [0, 1]
};
/// `decoded` and `original` in model space; pixel_mse compares their images through `codec`.
RoundTripError round_trip_error(const torch::Tensor& decoded, const torch::Tensor& original,
                                const Codec& codec);

void write_latent_codes(const std::filesystem::path& path, const LatentCodes& codes);
/// Throws std::runtime_error naming the file when it is not a codes file (format, tensors,
/// timesteps).
LatentCodes read_latent_codes(const std::filesystem::path& path);

}  // namespace ddpm
