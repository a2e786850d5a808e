// How this process was started, for the commands that need it: the command line as given (the
// built-in launcher re-executes it for every rank, so each rank's command line still shows
// --out DIR), and the prefix of error lines ("rank 1: " in a data-parallel job).
#pragma once
#include <string>
#include <vector>

namespace ddpm::cli {

void set_invocation(int argc, char** argv);
/// argv as main received it.
const std::vector<std::string>& invocation();
/// Put before "error: …" by main; empty unless a command sets it.
std::string& error_prefix();

}  // namespace ddpm::cli
