#include "web/served_path.h"

#include <algorithm>
#include <system_error>

namespace ddpm {

namespace fs = std::filesystem;

namespace {

bool is_inside(const fs::path& canonical_root, const fs::path& canonical_path) {
  auto r = canonical_root.begin(), p = canonical_path.begin();
  for (; r != canonical_root.end(); ++r, ++p)
    if (p == canonical_path.end() || *r != *p) return false;
  return true;
}

}  // namespace

ServedPath resolve_served_path(const fs::path& root, const std::string& relative) {
  if (relative.empty() || relative.front() == '/' || relative.find('\0') != std::string::npos ||
      relative.find('\\') != std::string::npos)
    return {ServedVerdict::Escapes, {}};
  const fs::path requested(relative);
  if (std::any_of(requested.begin(), requested.end(), [](const fs::path& c) { return c == ".."; }))
    return {ServedVerdict::Escapes, {}};
  std::error_code error;
  const fs::path canonical_root = fs::canonical(root, error);
  if (error) return {ServedVerdict::Missing, {}};
  const fs::path canonical = fs::canonical(root / requested, error);
  if (error) return {ServedVerdict::Missing, {}};
  // A symbolic link inside the folder may lead anywhere: what counts is where it ends.
  if (!is_inside(canonical_root, canonical)) return {ServedVerdict::Escapes, {}};
  if (!fs::is_regular_file(canonical, error)) return {ServedVerdict::Missing, {}};
  return {ServedVerdict::File, canonical};
}

}  // namespace ddpm
