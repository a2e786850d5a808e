// Data-parallel `ddpm train` on c10d (Gloo over loopback), end to end (issue 16): N ranks reach
// the weights of one process; resume works across world sizes; only rank 0 writes the run
// folder; a killed rank ends the job within the timeout naming it (with and without the
// launcher); a bad rendezvous or a WORLD_SIZE disagreement is a clear error; torchrun launches
// the same binary unchanged.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "cli_runner.h"
#include "io/image.h"
#include "runs/checkpoint.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::read_bytes;
using test::run_ddpm;
using Clock = std::chrono::steady_clock;

// 32 random 16×16 RGB PNGs.
std::string image_folder(const fs::path& root) {
  torch::manual_seed(2);
  const fs::path dir = root / "images";
  fs::create_directories(dir);
  for (int i = 0; i < 32; ++i)
    write_png(dir / fmt::format("img{:02d}.png", i),
              torch::randint(0, 256, {3, 16, 16}, torch::kUInt8));
  return dir.string();
}

// The CLI tests' tiny GroupNorm model, global batch 8, one thread per rank, flips and EMA on.
// Adam's ε is 1e-4: a parameter whose gradient is zero in theory (a convolution's bias before a
// norm) gets float noise of ~1e-9, which Adam with ε 1e-8 turns into steps of ~lr/10 in a random
// direction; with ε 1e-4 the comparisons see the arithmetic of the ranks, not that amplifier.
std::string tiny_config(const fs::path& root, int64_t checkpoint_every = 1000) {
  const fs::path path = root / "tiny.json";
  std::ofstream(path) << nlohmann::json{{"model", test::tiny_model_json()},
                                        {"data", {{"hflip", true}}},
                                        {"training",
                                         {{"batch_size", 8},
                                          {"lr", 1e-3},
                                          {"adam_eps", 1e-4},
                                          {"sample_every", 0},
                                          {"checkpoint_every", checkpoint_every},
                                          {"log_every", 1},
                                          {"sample_images", 4},
                                          {"sample_steps", 2},
                                          {"threads", 1}}},
                                        {"sampling", {{"steps", 3}}}};
  return path.string();
}

std::vector<std::string> train_args(const std::string& images, const std::string& config,
                                    const fs::path& run, int64_t steps) {
  return {"train", "--data",     images,    "--image-size",       "16", "--config", config,
          "--out", run.string(), "--steps", std::to_string(steps)};
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

double max_difference(const TensorMap& a, const TensorMap& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [name, t] : a) {
    if (!b.count(name)) {
      ADD_FAILURE() << name << " missing";
      continue;
    }
    worst = std::max(
        worst, (t.to(torch::kFloat64) - b.at(name).to(torch::kFloat64)).abs().max().item<double>());
  }
  return worst;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

pid_t spawn_with_output(const std::vector<std::string>& args, const fs::path& log,
                        const std::vector<std::string>& env = {}) {
  return test::spawn_ddpm(args, log.string(), env);
}

void wait_for_step(const fs::path& run, int64_t step) {
  ASSERT_TRUE(test::wait_for_log_row(run, step)) << "training never reached " << step;
}

/// The pid of the launcher's child whose environment holds RANK=`rank`.
pid_t rank_pid(pid_t launcher, int rank) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string status = read_bytes(entry.path() / "status");
    if (!contains(status, "\nPPid:\t" + std::to_string(launcher) + "\n")) continue;
    const std::string env = read_bytes(entry.path() / "environ");
    if (contains(std::string(1, '\0') + env,
                 std::string(1, '\0') + "RANK=" + std::to_string(rank) + std::string(1, '\0')))
      return pid_t(std::stoi(name));
  }
  return -1;
}

std::vector<std::string> rank_env(int rank, int world, int port) {
  return {"RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(world),
          "LOCAL_RANK=" + std::to_string(rank), "MASTER_ADDR=127.0.0.1",
          "MASTER_PORT=" + std::to_string(port)};
}

TEST(CliDataParallel, TwoRanksReachTheWeightsOfOneProcessAndOnlyRankZeroWrites) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto config = tiny_config(dir.path, 10);
  const auto one = dir.path / "one", two = dir.path / "two";
  const auto single = run_ddpm(train_args(images, config, one, 20));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const auto start = Clock::now();
  const auto parallel =
      run_ddpm(with(train_args(images, config, two, 20), {"--nproc-per-node", "2"}));
  ASSERT_EQ(parallel.exit_code, 0) << parallel.output;
  std::cout << "[ parallel ] 2 ranks x 20 steps: "
            << std::chrono::duration<double>(Clock::now() - start).count() << " s\n";
  EXPECT_TRUE(contains(parallel.output, "data-parallel: 2 ranks (gloo), global batch 8 = 2 x 4"))
      << parallel.output;
  EXPECT_EQ(std::count(parallel.output.begin(), parallel.output.end(), '\n'),
            std::count(single.output.begin(), single.output.end(), '\n') + 2)
      << "rank 1 printed too:\n"
      << parallel.output;

  const auto a = read_checkpoint(one / "checkpoints/latest", true);
  const auto b = read_checkpoint(two / "checkpoints/latest", true);
  EXPECT_EQ(b.state.at("world_size"), 2);
  EXPECT_EQ(a.state.at("world_size"), 1);
  const double weights = max_difference(a.model, b.model), ema = max_difference(a.ema, b.ema);
  std::cout << "[ parallel ] 2 ranks vs 1 process after 20 steps: max |Δ| weights " << weights
            << ", EMA " << ema << "\n";
  EXPECT_LT(weights, 1e-5);
  EXPECT_LT(ema, 1e-5);
  EXPECT_LT(max_difference(a.optimizer, b.optimizer), 1e-5);
  // The same files, written once: one log row per step, no per-rank copies.
  std::set<std::string> files_one, files_two;
  for (const auto& e : fs::recursive_directory_iterator(one))
    files_one.insert(fs::relative(e.path(), one).string());
  for (const auto& e : fs::recursive_directory_iterator(two))
    files_two.insert(fs::relative(e.path(), two).string());
  EXPECT_EQ(files_one, files_two);
  const auto log = read_bytes(two / "log.csv");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 21) << log;
}

// Class-conditional: the label drops are drawn for the global batch too.
TEST(CliDataParallel, ClassConditionalRunsMatchOneProcess) {
  test::TempDir dir;
  torch::manual_seed(3);
  for (const char* label : {"cats", "dogs"}) {
    fs::create_directories(dir.path / "classes" / label);
    for (int i = 0; i < 8; ++i)
      write_png(dir.path / "classes" / label / fmt::format("{}.png", i),
                torch::randint(0, 256, {3, 16, 16}, torch::kUInt8));
  }
  const auto images = (dir.path / "classes").string();
  const auto config = tiny_config(dir.path);
  const auto one = dir.path / "one", two = dir.path / "two";
  auto r = run_ddpm(
      with(train_args(images, config, one, 8), {"--class-conditional", "--label-dropout", "0.5"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_ddpm(with(train_args(images, config, two, 8),
                    {"--class-conditional", "--label-dropout", "0.5", "--nproc-per-node", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(max_difference(read_checkpoint(one / "checkpoints/latest").model,
                           read_checkpoint(two / "checkpoints/latest").model),
            1e-5);
}

// BatchNorm: each rank normalizes its own slice unless --sync-batchnorm sums the statistics.
TEST(CliDataParallel, SyncBatchNormMatchesOneProcessWithBatchNorm) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const fs::path config = dir.path / "batch-norm.json";
  auto model = test::tiny_model_json();
  model["norm"] = "batch-affine";
  std::ofstream(config) << nlohmann::json{{"model", model},
                                          {"training",
                                           {{"batch_size", 8},
                                            {"lr", 1e-3},
                                            {"adam_eps", 1e-4},
                                            {"sample_every", 0},
                                            {"log_every", 1},
                                            {"sample_images", 4},
                                            {"sample_steps", 2},
                                            {"threads", 1}}},
                                          {"sampling", {{"steps", 3}}}};
  const auto one = dir.path / "one", synced = dir.path / "synced", local = dir.path / "local";
  auto r = run_ddpm(train_args(images, config.string(), one, 10));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_ddpm(with(train_args(images, config.string(), synced, 10),
                    {"--nproc-per-node", "2", "--sync-batchnorm"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_ddpm(with(train_args(images, config.string(), local, 10), {"--nproc-per-node", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "each rank uses its own batch's statistics")) << r.output;
  const auto a = read_checkpoint(one / "checkpoints/latest");
  const double sync_error =
      max_difference(a.model, read_checkpoint(synced / "checkpoints/latest").model);
  const double local_error =
      max_difference(a.model, read_checkpoint(local / "checkpoints/latest").model);
  std::cout << "[ parallel ] BatchNorm, 2 ranks vs 1 process after 10 steps: max |Δ| " << sync_error
            << " with --sync-batchnorm, " << local_error << " without\n";
  EXPECT_LT(sync_error, 1e-4);
  EXPECT_GT(local_error, 1e-4);
}

TEST(CliDataParallel, ResumeWorksAcrossWorldSizes) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto config = tiny_config(dir.path);
  const auto hopping = dir.path / "hopping", straight = dir.path / "straight";
  // 1 process → 2 ranks → 1 process, against 1 process throughout.
  auto r = run_ddpm(train_args(images, config, hopping, 6));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_ddpm(
      {"train", "--out", hopping.string(), "--resume", "--steps", "12", "--nproc-per-node", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_checkpoint(hopping / "checkpoints/latest").state.at("world_size"), 2);
  r = run_ddpm({"train", "--out", hopping.string(), "--resume", "--steps", "18"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_ddpm(train_args(images, config, straight, 18));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto a = read_checkpoint(hopping / "checkpoints/latest", true);
  const auto b = read_checkpoint(straight / "checkpoints/latest", true);
  EXPECT_EQ(a.state.at("step"), 18);
  EXPECT_EQ(a.state.at("world_size"), 1);
  EXPECT_LT(max_difference(a.model, b.model), 1e-5);
  EXPECT_LT(max_difference(a.ema, b.ema), 1e-5);
}

TEST(CliDataParallel, CtrlCReachesEveryRankOnceAndTheJobCheckpoints) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto run = dir.path / "run";
  const pid_t launcher = spawn_with_output(
      with(train_args(images, tiny_config(dir.path), run, 100000), {"--nproc-per-node", "2"}),
      dir.path / "out.txt");
  wait_for_step(run, 3);
  ::kill(launcher, SIGINT);
  EXPECT_EQ(test::wait_for(launcher), 130) << read_bytes(dir.path / "out.txt");
  const auto c = read_checkpoint(run / "checkpoints/latest");
  EXPECT_GE(c.state.at("step").get<int64_t>(), 3);
  EXPECT_TRUE(contains(read_bytes(dir.path / "out.txt"), "interrupted at step"));
}

TEST(CliDataParallel, AKilledRankEndsTheJobWithinTheTimeoutNamingIt) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto run = dir.path / "run";
  const pid_t launcher =
      spawn_with_output(with(train_args(images, tiny_config(dir.path, 2), run, 100000),
                             {"--nproc-per-node", "2", "--dist-timeout", "5"}),
                        dir.path / "out.txt");
  wait_for_step(run, 4);
  const pid_t victim = rank_pid(launcher, 1);
  ASSERT_GT(victim, 0);
  const auto start = Clock::now();
  ::kill(victim, SIGKILL);
  EXPECT_EQ(test::wait_for(launcher), 1);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto out = read_bytes(dir.path / "out.txt");
  std::cout << "[ parallel ] rank 1 killed: the job ended in " << seconds << " s\n";
  EXPECT_LT(seconds, 15.0);
  EXPECT_TRUE(contains(out, "rank 1 exited with signal 9")) << out;
  // The last checkpoint stays loadable.
  EXPECT_GE(read_checkpoint(run / "checkpoints/latest", true).state.at("step").get<int64_t>(), 2);
}

TEST(CliDataParallel, WithoutTheLauncherTheSurvivorNamesTheLostRank) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto run = dir.path / "run";
  const int port = free_port();
  const auto args =
      with(train_args(images, tiny_config(dir.path), run, 100000), {"--dist-timeout", "5"});
  const pid_t rank0 = spawn_with_output(args, dir.path / "rank0.txt", rank_env(0, 2, port));
  const pid_t rank1 = spawn_with_output(args, dir.path / "rank1.txt", rank_env(1, 2, port));
  wait_for_step(run, 3);
  const auto start = Clock::now();
  ::kill(rank1, SIGKILL);
  test::wait_for(rank1);
  EXPECT_EQ(test::wait_for(rank0), 1);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto out = read_bytes(dir.path / "rank0.txt");
  std::cout << "[ parallel ] rank 1 killed under torchrun-style variables: rank 0 stopped in "
            << seconds << " s\n";
  EXPECT_LT(seconds, 10.0);
  EXPECT_TRUE(contains(out, "rank 0: error: lost rank 1")) << out;
}

TEST(CliDataParallel, ABadRendezvousOrWorldSizeIsAClearError) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto config = tiny_config(dir.path);
  const auto args = with(train_args(images, config, dir.path / "run", 4), {"--dist-timeout", "2"});
  // Nobody serves the store: rank 1 gives up after the timeout naming the address.
  const int port = free_port();
  std::string env;
  for (const auto& e : rank_env(1, 2, port)) env += e + " ";
  auto r = run_ddpm(args, env);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, fmt::format("rank 1: error: rank 1 cannot reach the rendezvous "
                                             "store at 127.0.0.1:{}",
                                             port)))
      << r.output;
  // A variable missing.
  r = run_ddpm(args, "RANK=0 WORLD_SIZE=2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "MASTER_ADDR is not set")) << r.output;
  r = run_ddpm(args, "RANK=2 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=1");
  EXPECT_TRUE(contains(r.output, "RANK=2: expected an integer from 0 to 1")) << r.output;
  // Ranks that disagree on WORLD_SIZE.
  const int port2 = free_port();
  const pid_t rank0 = spawn_with_output(args, dir.path / "rank0.txt", rank_env(0, 2, port2));
  const pid_t rank1 = spawn_with_output(args, dir.path / "rank1.txt", rank_env(1, 3, port2));
  EXPECT_EQ(test::wait_for(rank1), 1);
  EXPECT_EQ(test::wait_for(rank0), 1);
  const auto out1 = read_bytes(dir.path / "rank1.txt");
  EXPECT_TRUE(contains(out1, "WORLD_SIZE differs between ranks: rank 1 has 3, rank 0 has 2"))
      << out1;
}

TEST(CliDataParallel, TorchrunLaunchesTheBinaryUnchanged) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto config = tiny_config(dir.path);
  const auto one = dir.path / "one", two = dir.path / "two";
  auto r = run_ddpm(train_args(images, config, one, 8));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Debian's torchrun (PyTorch 1.13 on Python 3.11) cannot parse its own default --redirects 0 /
  // --tee 0 (its Std flag enum iterates without NONE there); any other value works.
  std::string command = "torchrun --nproc_per_node=2 --redirects 2 --tee 2 --master_port=" +
                        std::to_string(free_port()) + " --no_python " +
                        test::shell_quote(test::ddpm_binary());
  for (const auto& a : train_args(images, config, two, 8)) command += " " + test::shell_quote(a);
  command += " > " + test::shell_quote((dir.path / "out.txt").string()) + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_bytes(dir.path / "out.txt");
  const auto a = read_checkpoint(one / "checkpoints/latest", true);
  const auto b = read_checkpoint(two / "checkpoints/latest", true);
  EXPECT_EQ(b.state.at("world_size"), 2);
  EXPECT_LT(max_difference(a.model, b.model), 1e-5);
}

}  // namespace
}  // namespace ddpm
