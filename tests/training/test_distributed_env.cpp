// torchrun's variables → DistributedEnv (training/distributed_env.h), and what the built-in
// launcher sets for each rank.
#include <gmock/gmock.h>

#include <map>

#include "test_util.h"
#include "training/distributed_env.h"

namespace ddpm {
namespace {

using testing::HasSubstr;

std::optional<DistributedEnv> from(const std::map<std::string, std::string>& vars) {
  return distributed_env_from([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    from(vars);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

const std::map<std::string, std::string> kJob{{"RANK", "3"},
                                              {"WORLD_SIZE", "8"},
                                              {"LOCAL_RANK", "1"},
                                              {"LOCAL_WORLD_SIZE", "2"},
                                              {"MASTER_ADDR", "node0"},
                                              {"MASTER_PORT", "29500"}};

TEST(DistributedEnv, NoVariablesIsOneProcess) {
  EXPECT_FALSE(from({}).has_value());
}

TEST(DistributedEnv, ReadsTorchrunsVariables) {
  const auto env = from(kJob);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 8);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->local_world_size, 2);
  EXPECT_EQ(env->master_addr, "node0");
  EXPECT_EQ(env->master_port, 29500);
  EXPECT_FALSE(env->agent_store);
  EXPECT_EQ(env->store_prefix, "");
}

TEST(DistributedEnv, TorchrunsAgentStoreMakesEveryRankAClientUnderItsPrefix) {
  auto vars = kJob;
  vars["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  vars["TORCHELASTIC_RESTART_COUNT"] = "2";
  const auto env = from(vars);
  ASSERT_TRUE(env);
  EXPECT_TRUE(env->agent_store);
  EXPECT_EQ(env->store_prefix, "/worker/attempt_2");
  vars["TORCHELASTIC_USE_AGENT_STORE"] = "False";
  EXPECT_FALSE(from(vars)->agent_store);
}

TEST(DistributedEnv, AMissingOrMalformedVariableIsNamed) {
  auto vars = kJob;
  vars.erase("MASTER_PORT");
  EXPECT_THAT(error_of(vars), HasSubstr("MASTER_PORT is not set"));
  vars = kJob;
  vars["RANK"] = "8";
  EXPECT_THAT(error_of(vars), HasSubstr("RANK=8: expected an integer from 0 to 7"));
  vars = kJob;
  vars["WORLD_SIZE"] = "two";
  EXPECT_THAT(error_of(vars), HasSubstr("WORLD_SIZE=two: expected an integer"));
  vars = kJob;
  vars["MASTER_PORT"] = "70000";
  EXPECT_THAT(error_of(vars), HasSubstr("MASTER_PORT=70000: expected an integer from 1 to 65535"));
  EXPECT_THAT(error_of({{"RANK", "0"}}), HasSubstr("WORLD_SIZE is not set"));
}

TEST(DistributedEnv, TheLauncherSetsWhatTorchrunSets) {
  std::map<std::string, std::string> vars;
  for (const auto& [name, value] : rank_environment(1, 2, "127.0.0.1", 4242)) vars[name] = value;
  const auto env = from(vars);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->rank, 1);
  EXPECT_EQ(env->world_size, 2);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->local_world_size, 2);
  EXPECT_EQ(env->master_addr, "127.0.0.1");
  EXPECT_EQ(env->master_port, 4242);
}

}  // namespace
}  // namespace ddpm
