#include "class_flags.h"

#include <fmt/format.h>

#include "runs/class_labels.h"
#include "runs/generate.h"

namespace ddpm::cli {

std::shared_ptr<ClassFlags> add_class_flags(CLI::App& cmd) {
  auto flags = std::make_shared<ClassFlags>();
  cmd.add_option("--class-labels", flags->labels,
                 "Class-conditional models: one class for every image (7, or a name: sneaker) "
                 "or one per image (1,7,9); default: every class in turn")
      ->group("Classes");
  cmd.add_option("--guidance-scale", flags->guidance_scale,
                 "Classifier-free guidance w: eps = eps_null + w (eps_cond - eps_null); 1 = the "
                 "conditional model, 0 = unconditional (default: the run's)")
      ->check(CLI::NonNegativeNumber)
      ->group("Classes");
  cmd.add_option("--null-class", flags->null_class,
                 "Label of the null class, for models that do not record it (diffusers folders)")
      ->check(CLI::NonNegativeNumber)
      ->group("Classes");
  return flags;
}

void apply_class_flags(const ClassFlags& flags, LoadedModel& loaded) {
  auto& config = loaded.config;
  if (flags.null_class) set_null_class(config.classes, config.model, *flags.null_class);
  if (flags.guidance_scale) {
    if (config.model.num_class_embeds == 0 && *flags.guidance_scale != 1.0)
      throw std::invalid_argument(
          "--guidance-scale: this model is not class-conditional (num_class_embeds is 0), so "
          "there is nothing to guide");
    config.sampling.guidance_scale = *flags.guidance_scale;
  }
  if (config.model.num_class_embeds > 0 && config.sampling.guidance_scale != 1.0 &&
      config.classes.null_class < 0)
    throw std::invalid_argument(fmt::format(
        "guidance scale {:g} needs the null class, which this model does not record: name it "
        "with --null-class (a label in [0, {})), or sample with --guidance-scale 1",
        config.sampling.guidance_scale, config.model.num_class_embeds));
}

torch::Tensor parsed_class_labels(const ClassFlags& flags, const LoadedModel& loaded) {
  if (flags.labels.empty()) return {};
  return parse_class_labels(flags.labels, loaded.config.classes, loaded.config.model);
}

DenoiseFn class_denoise_fn(const ClassFlags& flags, const LoadedModel& loaded) {
  return sampling_denoise_fn(loaded.model, loaded.schedule, loaded.config,
                             parsed_class_labels(flags, loaded));
}

}  // namespace ddpm::cli
