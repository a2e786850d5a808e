// Report pages: the chart JSON of page/charts.js, a plot's chart with the plot's colours, the
// embedded data cannot close its <script>, and the page's files are written beside it.
#include "web/report_page.h"

#include <cmath>

#include "io/plot.h"
#include "test_util.h"
#include "web/web_assets.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

TEST(ReportPage, ChartJsonHasEveryPointAndNullForGaps) {
  ChartSpec chart{"loss", "loss", "step", "loss", true, {}};
  chart.series.push_back({"a (raw)", {1, 2, 3}, {0.5, NAN, 0.25}, 1, true, false});
  const auto j = chart_json(chart);
  EXPECT_EQ(j["id"], "loss");
  EXPECT_EQ(j["logY"], true);
  ASSERT_EQ(j["series"][0]["points"].size(), 3u);
  EXPECT_TRUE(j["series"][0]["points"][1][1].is_null());
  EXPECT_EQ(j["series"][0]["faint"], true);
  EXPECT_EQ(j["series"][0]["inLegend"], false);
  chart.series[0].y.pop_back();
  EXPECT_THROW(chart_json(chart), std::invalid_argument);
}

TEST(ReportPage, APlotsChartKeepsItsSeriesAndColours) {
  Plot plot;
  plot.title = "FD";
  plot.series.push_back({"ddim", {10, 20}, {5, 4}, {255, 127, 14}, 1.0, 2.0, true});
  plot.series.push_back({"raw", {10, 20}, {6, 5}, {0, 0, 0}, 0.25, 1.0, false});
  const auto chart = chart_of_plot("fd", plot);
  ASSERT_EQ(chart.series.size(), 2u);
  EXPECT_EQ(chart.series[0].css_color, "rgb(255, 127, 14)");
  EXPECT_FALSE(chart.series[0].faint);
  EXPECT_TRUE(chart.series[1].faint);
  EXPECT_EQ(chart.series[1].css_color, "rgba(0, 0, 0, 0.25)") << "faint on the page too";
  EXPECT_FALSE(chart.series[1].in_legend);
}

TEST(ReportPage, DataCannotCloseItsScriptAndAssetsAreWritten) {
  ReportPage page{"a <title>", "<h1>body</h1>", {}};
  page.charts.push_back({"c", "</script><script>alert(1)</script>", "x", "y", false, {}});
  const auto html = report_page_html(page);
  EXPECT_NE(html.find("<title>a &lt;title&gt;</title>"), std::string::npos);
  EXPECT_EQ(html.find("</script><script>alert"), std::string::npos);
  EXPECT_NE(html.find("<\\/script>"), std::string::npos);
  test::TempDir dir;
  write_report_page(dir.path, page);
  EXPECT_TRUE(fs::is_regular_file(dir.path / "index.html"));
  for (const char* asset : {"chart.min.js", "charts.js", "report.js", "page.css"}) {
    ASSERT_TRUE(fs::is_regular_file(dir.path / "assets" / asset)) << asset;
    EXPECT_EQ(fs::file_size(dir.path / "assets" / asset), find_web_asset(asset)->body.size());
  }
  EXPECT_EQ(html_escape(R"(<a href="x">'&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace ddpm
