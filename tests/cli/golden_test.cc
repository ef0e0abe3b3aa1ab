// Every offline renderer of the CLI against its golden file in tests/golden/cli: the real
// `aion` binary runs on the fixtures (machine trees, machine descriptions, logs, the tuning
// host) with no daemon, and its stdout must equal the file after normalisation
// (support/golden.h). Each case is declarative: the file, the arguments, the exit code and
// the fake NVML description the machine answers with. AION_UPDATE_GOLDEN=1 rewrites the files.
#include <cctype>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aion/core/process.h"
#include "support/fixtures.h"
#include "support/golden.h"
#include "support/temp_dir.h"

namespace aion::testing {
namespace {

struct Case {
  std::string golden;             // below tests/golden/cli
  std::vector<std::string> args;  // after `aion`; {fx} is tests/fixtures, {tmp} the case's TempDir
  int exit_code = 0;
  std::string nvml;  // the fake NVML's description below tests/fixtures ("" = no NVML at all)
  std::string stdin_data;
};

// Machine-tree commands for every machine, as table and as JSON.
std::vector<Case> machine_cases() {
  std::vector<Case> out;
  const std::map<std::string, std::string> machines = {{"dgx-a100", "hw/dgx-a100/nvml.json"},
                                                       {"mi250x", ""},
                                                       {"workstation", "hw/workstation/nvml.json"},
                                                       {"ascend910", ""},
                                                       {"gh200", "hw/gh200/nvml.json"},
                                                       {"xe-max", ""},
                                                       {"cn-mix", ""},
                                                       {"cpu-vm", ""}};
  for (const auto& [m, nvml] : machines) {
    const std::string root = "{fx}/hw/" + m + "/root";
    out.push_back({"hw/" + m + ".txt", {"--host-root", root, "hw"}, 0, nvml});
    out.push_back({"hw/" + m + ".json", {"--host-root", root, "--json", "hw"}, 0, nvml});
    out.push_back({"hw-topo/" + m + ".txt", {"--host-root", root, "hw", "topo"}, 0, nvml});
    out.push_back(
        {"hw-topo/" + m + ".json", {"--host-root", root, "--json", "hw", "topo"}, 0, nvml});
    out.push_back(
        {"k8s-features/" + m + ".txt", {"--host-root", root, "k8s", "features"}, 0, nvml});
    out.push_back({"slurm-node/" + m + ".txt",
                   {"--host-root", root, "slurm", "node", "--node", "node01"},
                   0,
                   nvml});
  }
  return out;
}

std::vector<Case> other_cases() {
  const std::string dgx = "{fx}/hw/dgx-a100/root";
  const std::string ws = "{fx}/hw/workstation/root";
  const std::string dgx_nvml = "hw/dgx-a100/nvml.json";
  const std::string machine = "{fx}/machines/dgx-a100.json";
  return {
      // gres.conf
      {"slurm-gres/dgx-a100.conf",
       {"--host-root", dgx, "slurm", "gres", "--node", "gpu01", "--no-check"},
       0,
       dgx_nvml},
      {"slurm-gres/workstation.conf",
       {"--host-root", ws, "slurm", "gres", "--node", "ws01", "--no-check"},
       0,
       "hw/workstation/nvml.json"},
      {"slurm-gres/mi250x.conf",
       {"--host-root", "{fx}/hw/mi250x/root", "slurm", "gres", "--node", "mi01", "--no-check"}},
      // hw diff against a saved description of another machine
      {"hw-diff/dgx-a100-from-h100.txt",
       {"--host-root", dgx, "hw", "diff", "--from", "{fx}/machines/h100-driver515.json"},
       0,
       dgx_nvml},
      // incidents from a log, no daemon
      {"diagnose/xid79-fell-off-bus.txt",
       {"diagnose", "{fx}/incidents/xid79-fell-off-bus/kernel.log"}},
      {"diagnose/xid79-fell-off-bus.json",
       {"--json", "diagnose", "{fx}/incidents/xid79-fell-off-bus/kernel.log"}},
      {"diagnose/gpu_fault.txt", {"diagnose", "{fx}/logs/gpu_fault.log"}},
      {"diagnose/gpu_fault.json", {"--json", "diagnose", "{fx}/logs/gpu_fault.log"}},
      // log templates
      {"logs-parse/gpu_fault.txt", {"logs", "parse", "{fx}/logs/gpu_fault.log"}},
      {"logs-parse/gpu_fault-templates.txt",
       {"logs", "parse", "--templates", "{fx}/logs/gpu_fault.log"}},
      {"logs-parse/gpu_fault.json", {"--json", "logs", "parse", "{fx}/logs/gpu_fault.log"}},
      // environments: plans, Dockerfiles and the other formats, the doctor, the tables
      {"env-plan/dgx-a100-pytorch.txt", {"env", "plan", "pytorch", "--machine", machine}},
      {"env-plan/dgx-a100-pytorch.json",
       {"--json", "env", "plan", "pytorch", "--machine", machine}},
      {"env-plan/mi250x-pytorch.txt",
       {"env", "plan", "pytorch", "--machine", "{fx}/machines/mi250x-rocm62.json"}},
      {"env-plan/ascend910-torch_npu.txt",
       {"env", "plan", "torch_npu", "--machine", "{fx}/machines/ascend910.json"}},
      {"env-plan/ascend910-pytorch-no-fit.txt",
       {"env", "plan", "pytorch", "--machine", "{fx}/machines/ascend910.json"},
       1},
      {"env-plan/k80-pytorch.txt",
       {"env", "plan", "pytorch", "--machine", "{fx}/machines/k80-driver470.json"}},
      {"env-plan/l4-driver470-pytorch-no-fit.txt",
       {"env", "plan", "pytorch", "--machine", "{fx}/machines/l4-driver470.json"},
       1},
      {"env-plan/dgx-a100-cuda-12.1.txt", {"env", "plan", "cuda==12.1", "--machine", machine}},
      {"env-emit/dgx-a100-cuda-12.1-install.sh",
       {"env", "emit", "cuda==12.1", "--format", "script", "--machine", machine}},
      {"env-emit/dgx-a100-pytorch.Dockerfile", {"env", "emit", "pytorch", "--machine", machine}},
      {"env-emit/dgx-a100-tensorflow.Dockerfile",
       {"env", "emit", "tensorflow", "--machine", machine}},
      {"env-emit/mi250x-pytorch.Dockerfile",
       {"env", "emit", "pytorch", "--machine", "{fx}/machines/mi250x-rocm62.json"}},
      {"env-emit/dgx-a100-pytorch-environment.yml",
       {"env", "emit", "pytorch", "--machine", machine, "--format", "conda"}},
      {"env-emit/dgx-a100-pytorch-requirements.txt",
       {"env", "emit", "pytorch", "--machine", machine, "--format", "requirements"}},
      {"env-emit/dgx-a100-pytorch-devcontainer.json",
       {"env", "emit", "pytorch", "--machine", machine, "--format", "devcontainer"}},
      {"env-doctor/k80-driver_too_old.txt",
       {"env", "doctor", "--log", "{fx}/envlogs/driver_too_old.log", "--machine",
        "{fx}/machines/k80-driver470.json"},
       0},
      {"env-doctor/k80-driver_too_old.json",
       {"--json", "env", "doctor", "--log", "{fx}/envlogs/driver_too_old.log", "--machine",
        "{fx}/machines/k80-driver470.json"},
       0},
      {"env-kb/kb.txt", {"env", "kb"}},
      {"env-kb/kb.json", {"--json", "env", "kb"}},
      // tuning profiles: the shipped catalog, and the plan on the tuning host tree
      {"tune/list.txt", {"tune", "list"}},
      {"tune/list.json", {"--json", "tune", "list"}},
      {"tune/show-ai-training.txt", {"tune", "show", "ai-training"}},
      {"tune/show-ai-training.json", {"--json", "tune", "show", "ai-training"}},
      {"tune/diff-ai-training.txt",
       {"--host-root", "{fx}/tune/host", "tune", "diff", "ai-training"}},
      {"tune/diff-ai-training.json",
       {"--host-root", "{fx}/tune/host", "--json", "tune", "diff", "ai-training"}},
      {"tune/recommend-dgx-a100.txt", {"--host-root", dgx, "tune", "recommend"}, 0, dgx_nvml},
      {"tune/recommend-dgx-a100.json",
       {"--host-root", dgx, "--json", "tune", "recommend"},
       0,
       dgx_nvml},
  };
}

std::vector<Case> all_cases() {
  auto out = machine_cases();
  auto more = other_cases();
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::string expand(std::string s, const TempDir& tmp) {
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"{fx}", fixtures_dir().string()},
        std::pair<std::string, std::string>{"{tmp}", tmp.string()}}) {
    for (auto at = s.find(key); at != std::string::npos; at = s.find(key, at + value.size()))
      s.replace(at, key.size(), value);
  }
  return s;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.golden;
}

bool wants_json(const Case& c) {
  for (const auto& a : c.args) {
    if (a == "--json") return true;
  }
  return false;
}

class CliGoldenTest : public ::testing::TestWithParam<Case> {};

// A private HOME, state directory and socket, the shipped data, UTC and the C locale, and no
// other environment: nothing of this machine or its user reaches the output.
TEST_P(CliGoldenTest, PrintsItsGoldenFile) {
  const Case& c = GetParam();
  const TempDir tmp("cli-golden");
  const auto config =
      tmp.write("aion.toml", "[daemon]\nstate_dir = \"" + (tmp / "state").string() +
                                 "\"\nsocket = \"" + (tmp / "aiond.sock").string() + "\"\n");
  ProcessOptions o;
  o.argv = {bin_path("aion").string()};
  for (const auto& a : c.args) o.argv.push_back(expand(a, tmp));
  o.inherit_env = false;
  o.env_set = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
               {"HOME", tmp.string()},
               {"LANG", "C"},
               {"LC_ALL", "C"},
               {"TZ", "UTC"},
               {"AION_CONFIG", config.string()},
               {"AION_DATA_DIR", source_path("data").string()},
               {"AION_TODAY", "2026-12-07"},
               {"AION_NVML_LIBRARY",
                c.nvml.empty() ? "/nonexistent/libnvidia-ml.so.1" : std::string(FAKE_NVML_PATH)}};
  if (!c.nvml.empty()) o.env_set["AION_FAKE_NVML"] = fixture_path(c.nvml).string();
  o.stdin_data = c.stdin_data;
  o.timeout = std::chrono::seconds(60);
  auto r = run_process(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_code, c.exit_code) << r->describe() << "\nstderr:\n" << r->err;
  if (wants_json(c)) {
    EXPECT_GOLDEN_JSON("cli/" + c.golden, r->out) << "stderr:\n" << r->err;
  } else {
    EXPECT_GOLDEN("cli/" + c.golden, r->out) << "stderr:\n" << r->err;
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.golden;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cli, CliGoldenTest, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace aion::testing
