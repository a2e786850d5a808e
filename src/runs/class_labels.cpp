#include "runs/class_labels.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace ddpm {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool name_matches(const std::string& name, const std::string& wanted) {
  const auto n = lower(name), w = lower(wanted);
  if (n == w) return true;
  std::stringstream parts(n);
  for (std::string part; std::getline(parts, part, '/');)
    if (trim(part) == w) return true;
  return false;
}

}  // namespace

std::string class_name(const ClassesConfig& classes, int64_t label) {
  if (label == classes.null_class) return "null";
  if (label >= 0 && label < int64_t(classes.names.size())) return classes.names[size_t(label)];
  return std::to_string(label);
}

torch::Tensor parse_class_labels(const std::string& spec, const ClassesConfig& classes,
                                 const UNetConfig& model) {
  if (model.num_class_embeds == 0)
    throw std::invalid_argument(
        "--class-labels: this model is not class-conditional (num_class_embeds is 0), so it "
        "takes no class labels");
  std::vector<int64_t> labels;
  std::stringstream entries(spec);
  for (std::string entry; std::getline(entries, entry, ',');) {
    entry = trim(entry);
    if (entry.empty()) throw std::invalid_argument("--class-labels '" + spec + "': an empty entry");
    const bool number = std::all_of(entry.begin(), entry.end(),
                                    [](unsigned char c) { return std::isdigit(c) || c == '-'; });
    if (number) {
      int64_t label = 0;
      try {
        size_t used = 0;
        label = std::stoll(entry, &used);
        if (used != entry.size()) throw std::invalid_argument(entry);
      } catch (const std::exception&) {
        throw std::invalid_argument("--class-labels: '" + entry + "' is not a label");
      }
      if (label < 0 || label >= model.num_class_embeds)
        throw std::invalid_argument(fmt::format(
            "--class-labels: label {} is outside [0, {}) (num_class_embeds of this model)", label,
            model.num_class_embeds));
      labels.push_back(label);
      continue;
    }
    int64_t found = -1;
    for (size_t k = 0; k < classes.names.size(); ++k)
      if (name_matches(classes.names[k], entry)) {
        found = int64_t(k);
        break;
      }
    if (found < 0 && lower(entry) == "null" && classes.null_class >= 0) found = classes.null_class;
    if (found < 0)
      throw std::invalid_argument(
          classes.names.empty()
              ? fmt::format("--class-labels: '{}' is not a number, and this model records no "
                            "class names (use labels 0 … {})",
                            entry, model.num_class_embeds - 1)
              : fmt::format("--class-labels: unknown class '{}' (allowed: {}, or a number "
                            "0 … {})",
                            entry, fmt::join(classes.names, ", "), model.num_class_embeds - 1));
    labels.push_back(found);
  }
  if (labels.empty()) throw std::invalid_argument("--class-labels: the list is empty");
  return torch::tensor(labels, torch::kLong);
}

torch::Tensor expand_class_labels(const torch::Tensor& labels, int64_t count) {
  if (labels.size(0) == 1) return labels.expand({std::max<int64_t>(count, 1)}).clone();
  if (count != 0 && count != labels.size(0))
    throw std::invalid_argument(fmt::format(
        "--class-labels lists {} labels (one per image) but --n is {}: give one label for all "
        "images, or as many as --n",
        labels.size(0), count));
  return labels;
}

torch::Tensor class_rows(int64_t num_classes, int64_t per_class) {
  if (num_classes < 1 || per_class < 1)
    throw std::invalid_argument("class_rows: needs num_classes >= 1 and per_class >= 1");
  return torch::arange(num_classes, torch::kLong).repeat_interleave(per_class);  // [K·n]
}

void set_null_class(ClassesConfig& classes, const UNetConfig& model, int64_t null_class) {
  if (model.num_class_embeds == 0)
    throw std::invalid_argument(
        "--null-class: this model is not class-conditional (num_class_embeds is 0)");
  if (null_class < 0 || null_class >= model.num_class_embeds)
    throw std::invalid_argument(
        fmt::format("--null-class {} is outside [0, {}) (num_class_embeds of this model)",
                    null_class, model.num_class_embeds));
  classes.null_class = null_class;
  if (null_class == model.num_class_embeds - 1 && int64_t(classes.names.size()) != null_class) {
    classes.num_classes = null_class;
    classes.names.clear();
  }
}

}  // namespace ddpm
