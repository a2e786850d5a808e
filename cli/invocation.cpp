#include "invocation.h"

namespace ddpm::cli {

namespace {
std::vector<std::string> g_arguments;
}  // namespace

void set_invocation(int argc, char** argv) {
  g_arguments.assign(argv, argv + argc);
}

const std::vector<std::string>& invocation() {
  return g_arguments;
}

std::string& error_prefix() {
  static std::string prefix;
  return prefix;
}

}  // namespace ddpm::cli
