// The study page: a report page of the dashboard's page code, relative paths only, every figure
// of every variant in the EMA/raw table, text escaped.
#include "experiments/study_report.h"

#include <regex>

#include "test_util.h"

namespace ddpm {
namespace {

TEST(StudyReport, ReferencesEveryFigureByARelativePath) {
  StudyResult r;
  r.config.data = "photos/<cats & dogs>";
  r.dir = "/nonexistent/study";
  r.image_size = 16;
  r.channels = 3;
  r.figure_kinds = {{"ddim20_strip", "DDIM-20, every step", "x"}, {"ddim50", "DDIM-50", "y"}};
  for (const char* name : {"bk", "bgano"}) {
    StudyVariant v;
    v.name = name;
    for (const char* w : {"ema", "raw"})
      for (const auto& k : r.figure_kinds)
        v.figures[w][k.key] = std::string(name) + "/figures/" + w + "_" + k.key + ".png";
    r.variants.push_back(v);
  }
  r.loss_plot.series.push_back(
      {"bk-smoothed-curve", {1, 2}, {0.5, 0.4}, {31, 119, 180}, 1, 2, true});
  const auto html = study_index_html(r);
  EXPECT_NE(html.find("photos/&lt;cats &amp; dogs&gt;"), std::string::npos);
  EXPECT_EQ(html.find("/nonexistent"), std::string::npos) << "no absolute paths";
  std::set<std::string> sources;
  std::regex src(R"(src="([^"]*)\")");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator();
       ++it)
    sources.insert((*it)[1]);
  // The loss chart is drawn by the dashboard's page code from the page's own assets/ folder.
  for (const char* script : {"assets/chart.min.js", "assets/charts.js", "assets/report.js"})
    EXPECT_TRUE(sources.count(script)) << script;
  EXPECT_NE(html.find(R"(<div class="chart" data-chart="loss">)"), std::string::npos);
  EXPECT_NE(html.find(R"(href="loss.png")"), std::string::npos);
  EXPECT_NE(html.find("bk-smoothed-curve"), std::string::npos) << "the chart is loss.png's plot";
  for (const auto& v : r.variants)
    for (const auto& [w, figures] : v.figures)
      for (const auto& [key, path] : figures) EXPECT_TRUE(sources.count(path)) << path;
  for (const auto& s : sources) EXPECT_NE(s.front(), '/') << s;
  auto json = study_json(r);
  EXPECT_EQ(json["variants"].size(), 2u);
  EXPECT_EQ(json["variants"][1]["figures"]["raw"]["ddim50"], "bgano/figures/raw_ddim50.png");
}

}  // namespace
}  // namespace ddpm
