// Class labels as written on the command line, and the classes section of a run's config.
#include <gtest/gtest.h>

#include "runs/class_labels.h"
#include "runs/run_config.h"

namespace ddpm {
namespace {

ClassesConfig fashion_classes() {
  ClassesConfig c;
  c.conditional = true;
  c.num_classes = 10;
  c.null_class = 10;
  c.names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return c;
}

UNetConfig conditional_model(int64_t embeds) {
  UNetConfig m;
  m.num_class_embeds = embeds;
  return m;
}

std::string error_of(const std::string& spec, const ClassesConfig& c, const UNetConfig& m) {
  try {
    parse_class_labels(spec, c, m);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(ClassLabels, NumbersAndNamesInAnyCase) {
  const auto c = fashion_classes();
  const auto m = conditional_model(11);
  EXPECT_TRUE(parse_class_labels("7", c, m).equal(torch::tensor({7}, torch::kLong)));
  EXPECT_TRUE(parse_class_labels("1, 7,9", c, m).equal(torch::tensor({1, 7, 9}, torch::kLong)));
  EXPECT_TRUE(parse_class_labels("sneaker,ANKLE BOOT,t-shirt,top,null", c, m)
                  .equal(torch::tensor({7, 9, 0, 0, 10}, torch::kLong)));
}

TEST(ClassLabels, ErrorsSayWhatIsAllowed) {
  const auto c = fashion_classes();
  const auto m = conditional_model(11);
  EXPECT_NE(error_of("11", c, m).find("outside [0, 11)"), std::string::npos);
  EXPECT_NE(error_of("-1", c, m).find("outside [0, 11)"), std::string::npos);
  const auto unknown = error_of("wolf", c, m);
  EXPECT_NE(unknown.find("unknown class 'wolf'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("Sneaker"), std::string::npos) << unknown;
  EXPECT_NE(error_of("1,,2", c, m).find("empty entry"), std::string::npos);
  EXPECT_NE(error_of("3", ClassesConfig{}, UNetConfig{}).find("not class-conditional"),
            std::string::npos);
}

TEST(ClassLabels, ExpandRowsAndNullClass) {
  EXPECT_TRUE(expand_class_labels(torch::tensor({3}, torch::kLong), 4)
                  .equal(torch::tensor({3, 3, 3, 3}, torch::kLong)));
  EXPECT_EQ(expand_class_labels(torch::tensor({1, 2}, torch::kLong), 0).size(0), 2);
  EXPECT_THROW(expand_class_labels(torch::tensor({1, 2}, torch::kLong), 3), std::invalid_argument);
  EXPECT_TRUE(class_rows(3, 2).equal(torch::tensor({0, 0, 1, 1, 2, 2}, torch::kLong)));

  ClassesConfig diffusers;  // what load_model makes of a conditional diffusers folder
  diffusers.conditional = true;
  diffusers.num_classes = 5;
  set_null_class(diffusers, conditional_model(5), 4);
  EXPECT_EQ(diffusers.null_class, 4);
  EXPECT_EQ(diffusers.num_classes, 4) << "the last label is the null class, the rest are real";
  EXPECT_THROW(set_null_class(diffusers, conditional_model(5), 5), std::invalid_argument);
  EXPECT_THROW(set_null_class(diffusers, UNetConfig{}, 0), std::invalid_argument);
  EXPECT_EQ(class_name(fashion_classes(), 7), "Sneaker");
  EXPECT_EQ(class_name(fashion_classes(), 10), "null");
  EXPECT_EQ(class_name(diffusers, 2), "2");
}

TEST(RunConfigClasses, ResolvedFromTheDataAndRoundTripped) {
  RunConfig config = resolve_run_config("fashion-mnist", {{{"classes", {{"conditional", true}}}}});
  resolve_classes(config, {}, {"a", "b", "c"}, true, "");
  EXPECT_EQ(config.classes.num_classes, 3);
  EXPECT_EQ(config.classes.null_class, 3);
  EXPECT_EQ(config.model.num_class_embeds, 4);
  const auto back = run_config_from_json(to_json(config));
  EXPECT_EQ(back.classes.names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(back.classes.null_class, 3);
  EXPECT_TRUE(back.classes.conditional);
  EXPECT_EQ(back.model.num_class_embeds, 4);

  RunConfig no_labels =
      resolve_run_config("fashion-mnist", {{{"classes", {{"conditional", true}}}}});
  try {
    resolve_classes(no_labels, {}, {}, false, "photos/: every image lies directly in the folder");
    FAIL() << "conditional run without labels accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("photos/"), std::string::npos) << e.what();
  }
  RunConfig wrong = resolve_run_config("fashion-mnist", {{{"classes", {{"conditional", true}}},
                                                          {"model", {{"num_class_embeds", 3}}}}});
  EXPECT_THROW(
      resolve_classes(wrong, {{{"model", {{"num_class_embeds", 3}}}}}, {"a", "b", "c"}, true, ""),
      std::invalid_argument)
      << "K = 3 needs num_class_embeds 4";
  auto bad = to_json(config);
  bad["training"]["label_dropout"] = 1.0;
  EXPECT_THROW(run_config_from_json(bad), std::invalid_argument);
  bad = to_json(config);
  bad["sampling"]["guidance_scale"] = -1.0;
  EXPECT_THROW(run_config_from_json(bad), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm
