// The study's page: DIR/index.html, a report page of the dashboard's page code (web/report_page.h:
// its loss chart drawn by Chart.js from DIR/assets/, no network) whose images are the PNGs inside
// DIR, referenced by relative paths, so that the folder alone renders in any browser and can be
// copied or zipped as is. DIR/study.json carries the same numbers for programs.
//
//   write_study_report("study/", result);   // study/index.html + study/study.json
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "experiments/study.h"

namespace ddpm {

/// The page for `result`; every image path is relative to result.dir.
std::string study_index_html(const StudyResult& result);

/// Settings, per-variant numbers and figure paths.
nlohmann::json study_json(const StudyResult& result);

/// Writes DIR/index.html, DIR/assets/ and DIR/study.json atomically.
void write_study_report(const std::filesystem::path& dir, const StudyResult& result);

}  // namespace ddpm
