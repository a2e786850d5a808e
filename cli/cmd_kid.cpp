// ddpm kid A B: the Kernel Inception Distance (unbiased MMD² with the cubic polynomial kernel,
// mean and std over subsets) between the features of two image sources, as JSON.
#include <chrono>

#include <fmt/format.h>

#include "commands.h"
#include "eval/kid.h"
#include "eval_flags.h"

namespace ddpm::cli {

namespace {

struct KidFlags {
  std::string a, b;
  EvalFlags eval;
  KIDOptions kid;
};

}  // namespace

Run add_kid(CLI::App& app) {
  auto flags = std::make_shared<KidFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "kid", "Kernel Inception Distance between two image sets (mean, std), printed as JSON");
  add_source_pair(*cmd, f.a, f.b);
  add_eval_flags(*cmd, f.eval);
  cmd->add_option("--subsets", f.kid.subsets, "Random subsets averaged (torch-fidelity: 100)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--subset-size", f.kid.subset_size,
                  "Points per subset, capped at the smaller set (torch-fidelity: 1000)")
      ->check(CLI::Range(int64_t(2), std::numeric_limits<int64_t>::max()));

  return [flags]() -> int {
    auto& f = *flags;
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<FeatureNet> net;
    const auto sides = source_pair_features(f.a, f.b, f.eval, net);
    KIDOptions o = f.kid;
    o.seed = f.eval.seed;
    const auto r = kernel_inception_distance(sides[0].features, sides[1].features, o);
    nlohmann::json out{
        {"metric", "KID"},
        {"mean", r.mean},
        {"std", r.std},
        {"subsets", r.subsets},
        {"subset_size", r.subset_size},
        {"definition",
         "unbiased MMD^2 with k(a,b) = (a.b/d + 1)^3 over random subsets drawn "
         "without replacement (torch-fidelity's kid)"},
        {"features", feature_net_json(net.get(), sides)},
        {"a", sides[0].description},
        {"b", sides[1].description},
        {"seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
    fmt::print("{}\n", out.dump(2));
    return 0;
  };
}

}  // namespace ddpm::cli
