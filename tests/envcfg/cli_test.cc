// `aion env ...` as a user runs it: exit codes and JSON, on the fixture machine descriptions.
#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/core/process.h"
#include "support/fixtures.h"

namespace aion {
namespace {

const std::string kMachines = ::aion::testing::fixture_path("machines").string() + "/";

ProcessResult aion_cli(std::vector<std::string> args, std::string stdin_data = "") {
  ProcessOptions o;
  o.argv = {std::string(AION_BIN_DIR) + "/aion"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env_set = {{"AION_DATA_DIR", std::string(AION_SOURCE_DIR) + "/data"}};
  o.stdin_data = std::move(stdin_data);
  o.timeout = std::chrono::milliseconds(60000);
  auto r = run_process(o);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : ProcessResult{};
}

TEST(EnvCliTest, PlanPrintsJsonAndExitsZeroWhenSomethingFits) {
  auto r = aion_cli({"--json", "env", "plan", "pytorch", "--machine", kMachines + "dgx-a100.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["kind"], "cuda");  // the build follows data/envcfg as it grows
  EXPECT_FALSE(j["reasons"].empty());
}

TEST(EnvCliTest, NothingFitsExitsOne) {
  auto r = aion_cli({"env", "plan", "tensorflow", "--machine", kMachines + "h100-driver515.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("Ways out"), std::string::npos) << r.out;
  // The H100 is newer than driver R515: that is the first thing the answer says.
  EXPECT_NE(r.out.find("What fails:\n  - driver 515.65.01 cannot drive"), std::string::npos)
      << r.out;
}

TEST(EnvCliTest, BadInputExitsTwoWithAMessage) {
  auto unknown = aion_cli({"env", "plan", "caffe", "--machine", kMachines + "dgx-a100.json"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown framework 'caffe'"), std::string::npos) << unknown.err;
  // A misspelt name is answered with the closest known one.
  auto typo = aion_cli({"env", "plan", "pytorhc", "--machine", kMachines + "dgx-a100.json"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("did you mean 'pytorch'?"), std::string::npos) << typo.err;
  auto tf = aion_cli({"env", "plan", "tensorflwo", "--machine", kMachines + "dgx-a100.json"});
  EXPECT_NE(tf.err.find("did you mean 'tensorflow'?"), std::string::npos) << tf.err;
  auto impossible =
      aion_cli({"env", "plan", "torch>=2.5,<2.3", "--machine", kMachines + "dgx-a100.json"});
  EXPECT_EQ(impossible.exit_code, 2);
  EXPECT_NE(impossible.err.find("impossible version constraint"), std::string::npos);
  auto missing = aion_cli({"env", "plan", "torch", "--machine", kMachines + "nope.json"});
  EXPECT_EQ(missing.exit_code, 2);
  auto format = aion_cli({"env", "emit", "torch", "--format", "helm"});
  EXPECT_EQ(format.exit_code, 2);
}

TEST(EnvCliTest, EmitWritesADockerfileOnStdout) {
  auto r = aion_cli({"env", "emit", "pytorch", "--format", "dockerfile", "--machine",
                     kMachines + "k80-driver470.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nFROM nvidia/cuda:11.4.3-cudnn8-runtime-ubuntu20.04\n"), std::string::npos)
      << r.out;
}

TEST(EnvCliTest, DoctorReadsStdinAndKbListsTables) {
  auto r = aion_cli({"--json", "env", "doctor", "--machine", kMachines + "dgx-a100.json"},
                    "RuntimeError: CUDA error: no kernel image is available for execution on the "
                    "device\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["findings"][0]["id"], "no_kernel_image");
  auto clean = aion_cli({"env", "doctor", "--machine", kMachines + "dgx-a100.json"}, "all good\n");
  EXPECT_EQ(clean.exit_code, 1);
  auto kb = aion_cli({"--json", "env", "kb"});
  ASSERT_EQ(kb.exit_code, 0) << kb.err;
  EXPECT_EQ(Json::parse(kb.out)["tables"].size(), 8u);
  // A date given in AION_TODAY long after the tables' date makes `env kb` warn.
  ProcessOptions o;
  o.argv = {std::string(AION_BIN_DIR) + "/aion", "--json", "env", "kb"};
  o.env_set = {{"AION_DATA_DIR", std::string(AION_SOURCE_DIR) + "/data"},
               {"AION_TODAY", "2099-01-01"}};
  auto old = run_process(o);
  ASSERT_TRUE(old);
  Json stale = Json::parse(old->out);
  EXPECT_TRUE(stale["stale"].get<bool>());
  EXPECT_NE(stale["warning"].get<std::string>().find("months before today"), std::string::npos);
}

}  // namespace
}  // namespace aion
