#include "io/yaml.h"

#include <gtest/gtest.h>

namespace ddpm {
namespace {

TEST(Yaml, TypesScalarsAsPyYamlSafeLoad) {
  const auto j = parse_yaml(
      "data:\n  image_size: 32\n  rescaled: true\n  dataset: \"CIFAR10\"\nmodel:\n  ch_mult: [1, "
      "2, 2, 2]\n  attn_resolutions: [16, ]\n  dropout: 0.1\n  beta: 1e-4\n  none: ~\n  "
      "quoted: '3'\n  list:\n  - 1\n  - two\n",
      "t.yml");
  EXPECT_EQ(j["data"]["image_size"], 32);
  EXPECT_EQ(j["data"]["rescaled"], true);
  EXPECT_EQ(j["data"]["dataset"], "CIFAR10");
  EXPECT_EQ(j["model"]["ch_mult"], nlohmann::json({1, 2, 2, 2}));
  EXPECT_EQ(j["model"]["attn_resolutions"], nlohmann::json({16}));
  EXPECT_DOUBLE_EQ(j["model"]["dropout"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(j["model"]["beta"].get<double>(), 1e-4);
  EXPECT_TRUE(j["model"]["none"].is_null());
  EXPECT_EQ(j["model"]["quoted"], "3");
  EXPECT_EQ(j["model"]["list"], nlohmann::json({1, "two"}));
}

TEST(Yaml, ErrorsNameTheFileAndLine) {
  try {
    parse_yaml("a: 1\nb: [1, 2\n", "bad.yml");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yml: line"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_yaml("a: 1\na: 2\n", "dup.yml"), std::runtime_error);
  // A billion laughs: aliases expanded past the bound.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c)
    bomb += std::string(1, c) + ": &" + c + " [*" + char(c - 1) + ", *" + char(c - 1) + ", *" +
            char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" +
            char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + "]\n";
  EXPECT_THROW(parse_yaml(bomb, "bomb.yml"), std::runtime_error);
}

}  // namespace
}  // namespace ddpm
