#include "eval/sweep_page.h"

#include <fmt/format.h>

namespace ddpm {

ReportPage sweep_report_page(const std::vector<SweepRow>& rows, const std::string& title,
                             const std::string& fd_name) {
  ReportPage page;
  page.title = "ddpm sweep: " + title;
  std::string& h = page.body_html;
  h += "<h1>Sampler sweep</h1>\n<p>" + html_escape(title) +
       ". Every setting starts from the same x<sub>T</sub>; lower is better.</p>\n";
  h += "<div class=\"chart\" data-chart=\"fd\"></div>\n<div class=\"chart\" data-chart=\"kid\">"
       "</div>\n";
  h += "<h2>Settings</h2>\n<table>\n<tr><th>sampler</th><th>network evaluations</th><th>" +
       html_escape(fd_name) +
       "</th><th>KID</th><th>± std</th><th>seconds</th><th>s / image</th></tr>\n";
  for (const auto& r : rows)
    h += fmt::format(
        "<tr><td>{}</td><td class=\"number\">{}</td><td class=\"number\">{:.4f}</td>"
        "<td class=\"number\">{:.5f}</td><td class=\"number\">{:.5f}</td>"
        "<td class=\"number\">{:.1f}</td><td class=\"number\">{:.4f}</td></tr>\n",
        html_escape(sweep_label(r.setting)), r.network_evaluations, r.fd, r.kid.mean, r.kid.std,
        r.sample_seconds, r.images ? r.sample_seconds / double(r.images) : 0.0);
  h += "</table>\n<p class=\"muted\">Numbers: <a href=\"sweep.csv\">sweep.csv</a>, the protocol: "
       "<a href=\"sweep.json\">sweep.json</a>, as a picture: <a href=\"sweep.png\">sweep.png</a>."
       "</p>\n";
  page.charts.push_back(chart_of_plot("fd", sweep_plot(rows, SweepMetric::fd,
                                                       fd_name + " vs "
                                                                 "network "
                                                                 "evaluations")));
  page.charts.push_back(
      chart_of_plot("kid", sweep_plot(rows, SweepMetric::kid, "KID vs network evaluations")));
  return page;
}

}  // namespace ddpm
