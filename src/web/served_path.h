// Which file a request for ROOT-relative path names, refusing every way out of ROOT: absolute
// paths, `..` components, and symbolic links that lead outside. `ddpm serve` serves files of the
// run folders it was given through this and nothing else.
//
//   auto served = resolve_served_path(run, "samples/step_000100.png");
//   if (served.verdict == ServedVerdict::Escapes) return 403;
#pragma once
#include <filesystem>
#include <string>

namespace ddpm {

enum class ServedVerdict {
  File,     ///< a regular file inside the root: `path` is its canonical path
  Escapes,  ///< the request points outside the root (or is malformed): refuse (403)
  Missing,  ///< nothing there, or not a regular file (404)
};

struct ServedPath {
  ServedVerdict verdict;
  std::filesystem::path path;
};

/// `relative` is the decoded path below `root` ("samples/step_000100.png").
ServedPath resolve_served_path(const std::filesystem::path& root, const std::string& relative);

}  // namespace ddpm
