// ddpm features A --out FILE.safetensors: compute a source's features (and logits) once, to reuse
// as an FID/KID side (e.g. the reference statistics of a dataset).
#include <fmt/format.h>

#include "commands.h"
#include "eval_flags.h"

namespace ddpm::cli {

namespace {

struct FeaturesFlags {
  std::string a;
  std::string out;
  EvalFlags eval;
};

}  // namespace

Run add_features(CLI::App& app) {
  auto flags = std::make_shared<FeaturesFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "features", "Save the FID/KID features of an image source to a .safetensors file");
  cmd->add_option("A", f.a, "Image source (as for `ddpm fid`)")->required();
  cmd->add_option("--out", f.out, "Features file to write (tensors features [N, D], logits)")
      ->required();
  add_eval_flags(*cmd, f.eval);

  return [flags]() -> int {
    auto& f = *flags;
    auto source = parse_feature_source(f.a);
    if (source.kind == SourceKind::features_file)
      throw std::invalid_argument(f.a + " already is a features file");
    auto net = feature_net_for({source}, f.eval);
    auto side = features_with_progress(source, net.get(), f.eval);
    write_features_file(f.out, side, *net);
    fmt::print("wrote {} features [{}, {}] of {} to {}\n", net->name(), side.features.size(0),
               side.features.size(1), f.a, f.out);
    return 0;
  };
}

}  // namespace ddpm::cli
