#include "sample_parameters.h"

#include <algorithm>
#include <stdexcept>

namespace ddpm::cli {

DrawnBatch batch_of(int64_t index, int64_t batch_size, int64_t count) {
  const int64_t first = index / batch_size * batch_size;
  return {first, std::min(batch_size, count - first)};
}

nlohmann::json to_json(const SampleParameters& p) {
  nlohmann::json j{{"command", "sample"},
                   {"model", p.model},
                   {"weights", p.weights},
                   {"weights_hash", p.weights_hash},
                   {"sampler", p.sampler},
                   {"precision", p.precision},
                   {"guidance_scale", p.guidance_scale},
                   {"null_class", p.null_class},
                   {"seed", p.seed},
                   {"count", p.count},
                   {"batch_size", p.batch_size},
                   {"class_labels", p.class_labels},
                   {"per_class", p.per_class},
                   {"threads", p.threads}};
  if (!p.init_noise.empty()) {
    j["init_noise"] = p.init_noise;
    j["init_noise_hash"] = p.init_noise_hash;
  }
  if (p.conv_policy)
    j["conv3x3"] = {{"policy", to_string(*p.conv_policy)},
                    {"choices", conv3x3_choices_to_json(p.conv_choices)}};
  if (p.index) {
    j["index"] = *p.index;
    if (!p.class_labels.empty())
      j["class_label"] =
          p.class_labels.at(size_t(*p.index - batch_of(*p.index, p.batch_size, p.count).first));
  }
  return j;
}

SampleParameters sample_parameters_from_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object())
    throw std::invalid_argument(origin + ": the parameters are not a JSON object");
  if (j.value("command", std::string()) != "sample")
    throw std::invalid_argument(origin + ": made by `ddpm " + j.value("command", std::string("?")) +
                                "`; only images of ddpm sample can be re-created");
  SampleParameters p;
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key))
      throw std::invalid_argument(origin + ": the parameters lack \"" + key + "\"");
    try {
      j.at(key).get_to(field);
    } catch (const nlohmann::json::exception&) {
      throw std::invalid_argument(origin + ": parameters \"" + key +
                                  "\" has the wrong type: " + j.at(key).dump());
    }
  };
  get("model", p.model);
  get("weights", p.weights);
  get("weights_hash", p.weights_hash);
  get("sampler", p.sampler);
  get("precision", p.precision);
  get("guidance_scale", p.guidance_scale);
  get("null_class", p.null_class);
  get("seed", p.seed);
  get("count", p.count);
  get("batch_size", p.batch_size);
  get("class_labels", p.class_labels);
  get("per_class", p.per_class);
  get("threads", p.threads);
  if (j.contains("init_noise")) {
    get("init_noise", p.init_noise);
    get("init_noise_hash", p.init_noise_hash);
  }
  if (j.contains("conv3x3")) {
    const auto& c = j.at("conv3x3");
    try {
      p.conv_policy = parse_enum<Conv3x3Policy>(c.at("policy").get<std::string>());
      p.conv_choices = conv3x3_choices_from_json(c.at("choices"));
    } catch (const std::exception& e) {
      throw std::invalid_argument(origin +
                                  ": parameters \"conv3x3\" is not {\"policy\": name, "
                                  "\"choices\": {shape: algorithm}}: " +
                                  c.dump() + " (" + e.what() + ")");
    }
  }
  if (j.contains("index")) {
    int64_t index = 0;
    get("index", index);
    p.index = index;
  }
  const bool index_ok = !p.index || (*p.index >= 0 && *p.index < p.count);
  const int64_t labelled = p.index && index_ok && p.batch_size >= 1
                               ? batch_of(*p.index, p.batch_size, p.count).size
                               : p.count;
  if (p.count < 1 || p.batch_size < 1 || p.threads < 0 || !index_ok ||
      (!p.class_labels.empty() && int64_t(p.class_labels.size()) != labelled))
    throw std::invalid_argument(origin +
                                ": inconsistent parameters (count, batch_size, index, "
                                "class_labels or threads out of range)");
  return p;
}

}  // namespace ddpm::cli
