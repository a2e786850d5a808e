// Class labels as people write them (ddpm sample --class-labels 7 / 1,7,9 / sneaker) and as
// grids show them (one row per class, named), for the classes of a run (ClassesConfig) or of a
// class-conditional diffusers model.
//
//   auto labels = parse_class_labels("sneaker,bag", loaded.config.classes, loaded.config.model);
//   request.class_labels = labels;                     // runs/generate.h
//   auto rows = class_rows(K, 8);                      // 0×8, 1×8, …: a grid by class
#pragma once
#include <torch/torch.h>

#include <string>

#include "models/unet_config.h"
#include "runs/run_config.h"

namespace ddpm {

/// The name shown for `label`: classes.names[label] when known, "null" for the null class,
/// otherwise the number.
std::string class_name(const ClassesConfig& classes, int64_t label);

/// Parses a comma-separated list of labels, each a number or a class name (case-insensitive;
/// a name also matches by any of its '/'-separated parts: "t-shirt" and "top" both name
/// "T-shirt/top"). → int64 [n]. Throws std::invalid_argument naming the entry and what is
/// allowed: labels on an unconditional model, a number outside [0, num_class_embeds), an unknown
/// name (listing the names), an empty list or entry.
torch::Tensor parse_class_labels(const std::string& spec, const ClassesConfig& classes,
                                 const UNetConfig& model);

/// Labels for `count` images from a parsed list: one label for all, or one per image (the list
/// sets the count: `count` 0 takes the list's length). Throws std::invalid_argument when a list
/// of several labels disagrees with a count that was given.
torch::Tensor expand_class_labels(const torch::Tensor& labels, int64_t count);

/// int64 [K · per_class]: 0 repeated per_class times, then 1, …: a grid with a row per class.
torch::Tensor class_rows(int64_t num_classes, int64_t per_class);

/// --null-class N for models that do not record their null class (diffusers folders): checks N
/// in [0, num_class_embeds) and sets classes.null_class; when N is the last label, the others
/// are the real classes (num_classes = N). Throws std::invalid_argument for an unconditional
/// model or N out of range.
void set_null_class(ClassesConfig& classes, const UNetConfig& model, int64_t null_class);

}  // namespace ddpm
