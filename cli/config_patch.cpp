#include "config_patch.h"

#include <fstream>

#include "runs/run_config.h"

namespace ddpm::cli {

nlohmann::json read_config_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path.string() + ": cannot read the config file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json j = parse_json_with_comments(text, path.string());
  if (!j.is_object())
    throw std::invalid_argument(path.string() + ": expected a JSON object of config sections, " +
                                "found " + std::string(j.type_name()));
  if (j.contains("preset") && !j["preset"].is_string())
    throw std::invalid_argument(path.string() + ": preset must be a string, found " +
                                j["preset"].dump());
  return j;
}

}  // namespace ddpm::cli
