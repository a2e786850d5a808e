// ddpm fid A B: the Fréchet distance between the features of two image sources, as JSON — FID
// with --inception, the in-domain FD of the Fashion-MNIST classifier otherwise.
#include <chrono>

#include <fmt/format.h>

#include "commands.h"
#include "eval/frechet_distance.h"
#include "eval_flags.h"

namespace ddpm::cli {

namespace {

struct FidFlags {
  std::string a, b;
  EvalFlags eval;
};

}  // namespace

Run add_fid(CLI::App& app) {
  auto flags = std::make_shared<FidFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "fid", "Frechet distance between two image sets (FID with --inception), printed as JSON");
  add_source_pair(*cmd, f.a, f.b);
  add_eval_flags(*cmd, f.eval);

  return [flags]() -> int {
    auto& f = *flags;
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<FeatureNet> net;
    const auto sides = source_pair_features(f.a, f.b, f.eval, net);
    const double d = frechet_distance(feature_statistics(sides[0].features),
                                      feature_statistics(sides[1].features));
    const auto features = feature_net_json(net.get(), sides);
    nlohmann::json out{
        {"metric", features["name"] == "fid-inception-v3" ? "FID" : "FD"},
        {"value", d},
        {"definition",
         "|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2), float64, unbiased "
         "covariances (pytorch-fid's calculate_frechet_distance)"},
        {"features", features},
        {"a", sides[0].description},
        {"b", sides[1].description},
        {"seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
    fmt::print("{}\n", out.dump(2));
    return 0;
  };
}

}  // namespace ddpm::cli
