#include "eval/nll.h"

#include "core/forward_process.h"
#include "core/vlb.h"

namespace ddpm {

BpdTerms calc_bpd_loop(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                       const BpdOptions& options, const torch::Tensor& x0,
                       torch::Generator& generator, const BpdProgress& progress) {
  TORCH_CHECK(x0.dim() == 4, "calc_bpd_loop: x0 must be [B, C, H, W], got ", x0.sizes());
  TORCH_CHECK(x0.min().item<double>() >= -1.0 - 1e-6 && x0.max().item<double>() <= 1.0 + 1e-6,
              "calc_bpd_loop: bits/dim needs data in [-1, 1] (the decoder's 256 bins), got values "
              "in [",
              x0.min().item<double>(), ", ", x0.max().item<double>(), "]");
  const int64_t B = x0.size(0), T = schedule.num_train_timesteps;
  const bool learned = options.variance_type == VarianceType::learned_range;
  const auto log_variances =
      fixed_model_log_variance(schedule, options.variance_type == VarianceType::fixed_large);
  auto terms = torch::zeros({B, T}, torch::kFloat64);
  auto mse = torch::zeros({B, T}, torch::kFloat64);
  torch::NoGradGuard no_grad;
  // calc_bpd_loop: t = T − 1, …, 0, one fresh x_t ~ q(x_t|x_0) per step.
  for (int64_t t = T - 1; t >= 0; --t) {
    auto t_batch = torch::full({B}, t, torch::kLong);
    auto x_t = q_sample(schedule, x0, t_batch, draw_noise(x0, generator));
    auto output = denoise(x_t, t_batch.to(x0.device()));
    // A network that learns its variances returns [prediction, v] (2·C channels).
    const int64_t C = x0.size(1);
    const bool two_c = output.size(1) == 2 * C;
    TORCH_CHECK(!learned || two_c, "calc_bpd_loop: variance learned_range needs a network with ",
                2 * C, " output channels (prediction, then v), got ", output.size(1));
    auto prediction = two_c ? output.narrow(1, 0, C) : output;
    auto alpha_bar = torch::scalar_tensor(schedule.alpha_bar(t), torch::kFloat64);
    auto pred_x0 = split_prediction(options.prediction_type, prediction, x_t, alpha_bar).x0;
    if (options.clip_denoised) pred_x0 = pred_x0.clamp(-1.0, 1.0);
    // p_mean_variance: μ_θ = μ̃_t(x_t, x̂_0), DDPM eq. (7) with x̂_0 from eq. (15).
    auto model_mean = q_posterior(schedule, pred_x0, x_t, t_batch).mean;
    // L_vlb with Σ_θ (improved DDPM eq. 15) or a fixed variance (DDPM).
    auto model_log_variance = learned ? learned_range_log_variance(schedule, output.narrow(1, C, C),
                                                                   t_batch.to(x0.device()))
                                      : extract(log_variances, t_batch, x0.dim(), x0);
    auto term = vb_term_bpd(schedule, x0, x_t, t_batch, model_mean, model_log_variance);
    terms.select(1, t).copy_(term.to(torch::kCPU, torch::kFloat64));
    mse.select(1, t).copy_(
        (pred_x0 - x0).pow(2).flatten(1).mean(1).to(torch::kCPU, torch::kFloat64));
    if (progress) progress(T - t, T);
  }
  BpdTerms out;
  out.prior_bpd = prior_bpd(schedule, x0.to(torch::kFloat64)).to(torch::kCPU);
  out.terms_bpd = terms;
  out.mse = mse;
  out.total_bpd = terms.sum(1) + out.prior_bpd;
  return out;
}

BpdSummary summarize_bpd(const std::vector<BpdTerms>& batches) {
  TORCH_CHECK(!batches.empty(), "summarize_bpd: no batches");
  std::vector<torch::Tensor> prior, terms, mse, total;
  for (const auto& b : batches) {
    prior.push_back(b.prior_bpd);
    terms.push_back(b.terms_bpd);
    mse.push_back(b.mse);
    total.push_back(b.total_bpd);
  }
  auto p = torch::cat(prior), tm = torch::cat(terms), m = torch::cat(mse), tot = torch::cat(total);
  BpdSummary s;
  s.images = tot.size(0);
  s.total = tot.mean().item<double>();
  s.total_stderr = s.images > 1 ? tot.std().item<double>() / std::sqrt(double(s.images)) : 0.0;
  s.prior = p.mean().item<double>();
  s.decoder = tm.select(1, 0).mean().item<double>();
  s.diffusion = tm.slice(1, 1).sum(1).mean().item<double>();
  s.per_step = tm.mean(0);
  s.mse_per_step = m.mean(0);
  return s;
}

}  // namespace ddpm
