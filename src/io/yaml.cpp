#include "io/yaml.h"

#include <fmt/format.h>
#include <yaml.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>

namespace ddpm {

namespace {

constexpr int64_t kMaxNodes = 100000;  ///< values produced, aliases expanded
constexpr int kMaxDepth = 64;

/// A plain scalar typed as PyYAML's SafeLoader resolves it (YAML 1.1 core tags).
nlohmann::json plain_scalar(const std::string& s) {
  static const std::regex null_re(R"(^(~|null|Null|NULL|)$)");
  static const std::regex true_re(R"(^(yes|Yes|YES|true|True|TRUE|on|On|ON)$)");
  static const std::regex false_re(R"(^(no|No|NO|false|False|FALSE|off|Off|OFF)$)");
  static const std::regex int_re(R"(^[-+]?(0|[1-9][0-9_]*)$)");
  // PyYAML's float: a dot is required, the exponent optional ("1e-4" stays a string there; it is
  // read as a number here too, which is what a config author means).
  static const std::regex float_re(
      R"(^[-+]?(([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+)$)");
  static const std::regex inf_re(R"(^([-+]?)\.(inf|Inf|INF)$)");
  static const std::regex nan_re(R"(^\.(nan|NaN|NAN)$)");
  std::smatch m;
  if (std::regex_match(s, null_re)) return nullptr;
  if (std::regex_match(s, true_re)) return true;
  if (std::regex_match(s, false_re)) return false;
  std::string digits;
  for (char c : s)
    if (c != '_') digits += c;
  if (std::regex_match(s, int_re)) {
    errno = 0;
    const long long v = std::strtoll(digits.c_str(), nullptr, 10);
    if (errno == 0) return int64_t(v);
  }
  if (std::regex_match(s, float_re) && s != "." && s != "-." && s != "+.")
    return std::strtod(digits.c_str(), nullptr);
  if (std::regex_match(s, m, inf_re)) return m[1] == "-" ? "-Infinity" : "Infinity";
  if (std::regex_match(s, nan_re)) return "NaN";
  return s;
}

struct Converter {
  yaml_document_t* doc;
  const std::string& origin;
  int64_t nodes = 0;

  nlohmann::json convert(yaml_node_t* node, int depth) {
    if (++nodes > kMaxNodes)
      throw std::runtime_error(
          fmt::format("{}: more than {} values (aliases expanded)", origin, kMaxNodes));
    if (depth > kMaxDepth)
      throw std::runtime_error(fmt::format("{}: nested more than {} levels", origin, kMaxDepth));
    switch (node->type) {
      case YAML_SCALAR_NODE: {
        const std::string value(reinterpret_cast<const char*>(node->data.scalar.value),
                                node->data.scalar.length);
        if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) return plain_scalar(value);
        return value;
      }
      case YAML_SEQUENCE_NODE: {
        nlohmann::json out = nlohmann::json::array();
        for (auto* item = node->data.sequence.items.start; item < node->data.sequence.items.top;
             ++item)
          out.push_back(convert(yaml_document_get_node(doc, *item), depth + 1));
        return out;
      }
      case YAML_MAPPING_NODE: {
        nlohmann::json out = nlohmann::json::object();
        for (auto* pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top;
             ++pair) {
          yaml_node_t* key = yaml_document_get_node(doc, pair->key);
          if (key->type != YAML_SCALAR_NODE)
            throw std::runtime_error(fmt::format("{}: line {}: a mapping key is not a scalar",
                                                 origin, key->start_mark.line + 1));
          const std::string name(reinterpret_cast<const char*>(key->data.scalar.value),
                                 key->data.scalar.length);
          if (out.contains(name))
            throw std::runtime_error(fmt::format("{}: line {}: duplicate key '{}'", origin,
                                                 key->start_mark.line + 1, name));
          out[name] = convert(yaml_document_get_node(doc, pair->value), depth + 1);
        }
        return out;
      }
      case YAML_NO_NODE:
        break;
    }
    return nullptr;
  }
};

}  // namespace

nlohmann::json parse_yaml(const std::string& text, const std::string& origin) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    throw std::runtime_error(origin + ": cannot initialise the YAML parser");
  std::unique_ptr<yaml_parser_t, void (*)(yaml_parser_t*)> parser_guard(&parser,
                                                                        yaml_parser_delete);
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  yaml_document_t doc;
  if (!yaml_parser_load(&parser, &doc))
    throw std::runtime_error(fmt::format("{}: line {}: {} (invalid YAML)", origin,
                                         parser.problem_mark.line + 1,
                                         parser.problem ? parser.problem : "parse error"));
  std::unique_ptr<yaml_document_t, void (*)(yaml_document_t*)> doc_guard(&doc,
                                                                         yaml_document_delete);
  yaml_node_t* root = yaml_document_get_root_node(&doc);
  if (!root) return nullptr;  // an empty file
  Converter c{&doc, origin};
  return c.convert(root, 0);
}

nlohmann::json read_yaml_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error(path.string() + ": cannot read (" + ec.message() + ")");
  if (size > (1u << 20))
    throw std::runtime_error(path.string() + ": " + std::to_string(size) +
                             " bytes, more than a config file's 1 MiB");
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_yaml(text, path.string());
}

}  // namespace ddpm
