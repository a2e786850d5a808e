// ddpm bench: the benchmark table (training and DDIM sampling images/s of the presets, next to
// the PyTorch peer, with ratios). The benchmark is its own program, bench/ddpm_bench.cpp, built
// beside `ddpm`; this command runs it with the flags given here.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "commands.h"

namespace ddpm::cli {

namespace fs = std::filesystem;

Run add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "bench",
      "Training and DDIM sampling images/s of fashion-mnist and ddpm-cifar10 next to the PyTorch "
      "peer (runs ddpm_bench; every flag after `bench` is passed on, see ddpm bench --help)");
  cmd->allow_extras();
  cmd->set_help_flag();  // --help goes to ddpm_bench, which lists its own flags
  return [cmd]() -> int {
    const fs::path self = fs::read_symlink("/proc/self/exe");
    const fs::path bench = self.parent_path() / "ddpm_bench";
    if (!fs::is_regular_file(bench))
      throw std::runtime_error(bench.string() +
                               " not found: build it with `make build` (it is built beside ddpm)");
    std::vector<std::string> args = {bench.string()};
    for (const auto& extra : cmd->remaining()) args.push_back(extra);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    throw std::runtime_error("cannot run " + bench.string() + ": " + std::strerror(errno));
  };
}

}  // namespace ddpm::cli
