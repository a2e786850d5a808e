// The page of `ddpm sweep`: DIR/index.html, FD and KID against network evaluations per sampler
// (the charts of sweep_plot, drawn by the dashboard's page code, web/report_page.h) and the table
// of every setting, beside sweep.csv, sweep.png and sweep.json.
//
//   write_report_page("sweep/", sweep_report_page(rows, "FID of 1000 samples vs cifar10:test"));
#pragma once
#include <string>
#include <vector>

#include "eval/sampler_sweep.h"
#include "web/report_page.h"

namespace ddpm {

/// `title` names what was measured against what ("FD of 1000 samples vs fashion-mnist:test");
/// `fd_name` is "FID" with the Inception features, "FD" with others.
ReportPage sweep_report_page(const std::vector<SweepRow>& rows, const std::string& title,
                             const std::string& fd_name);

}  // namespace ddpm
