// Failures degrade to warnings that name the device and the cause; everything else is still
// reported.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/core/process.h"
#include "aion/hw/discovery.h"
#include "aion/hw/nvml.h"
#include "aion/hw/snapshot.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::hw {
namespace {

namespace fs = std::filesystem;

// A private copy of a fixture that a test may damage.
class DamagedFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ::aion::testing::copy_fixture("hw/dgx-a100", dir_);
    nvml_json_ = (dir_ / "nvml.json").string();
    ::setenv("AION_NVML_LIBRARY", FAKE_NVML_PATH, 1);
    ::setenv("AION_FAKE_NVML", nvml_json_.c_str(), 1);
  }
  HostFs root() const { return HostFs(dir_ / "root"); }
  void edit_nvml(const std::function<void(Json&)>& f) {
    std::ifstream in(nvml_json_);
    Json j = Json::parse(in);
    f(j);
    std::ofstream(nvml_json_) << j.dump();
  }
  bool has_warning(const Inventory& inv, const std::string& device, const std::string& text) {
    for (const auto& w : inv.warnings) {
      if (w.device.find(device) != std::string::npos && w.message.find(text) != std::string::npos)
        return true;
    }
    return false;
  }
  ::aion::testing::TempDir tmp_{"hw"};
  fs::path dir_ = tmp_.path();
  std::string nvml_json_;
};

TEST_F(DamagedFixture, MalformedSysfsFileIsAWarningNamingTheDevice) {
  std::ofstream(
      dir_ /
      "root/sys/devices/pci0000:40/0000:40:01.1/0000:41:00.0/0000:42:00.0/0000:43:00.0/vendor")
      << "garbage\n";
  Inventory inv = discover(root(), {});
  EXPECT_TRUE(has_warning(inv, "0000:43:00.0", "expected an integer")) << inv.warnings.size();
  EXPECT_EQ(inv.accelerators.size(), 8u) << "NVML still reports the GPU";
  EXPECT_EQ(inv.nics.size(), 8u);
  EXPECT_EQ(inv.numa_nodes.size(), 4u);
}

TEST_F(DamagedFixture, UnreadableSysfsFileIsAWarning) {
  // A directory where the class file should be cannot be read, even by root.
  fs::path cls = fs::canonical(dir_ / "root/sys/bus/pci/devices/0000:44:00.0") / "class";
  fs::remove(cls);
  fs::create_directory(cls);
  Inventory inv = discover(root(), {});
  EXPECT_TRUE(has_warning(inv, "0000:44:00.0", "Is a directory"));
  EXPECT_EQ(inv.accelerators.size(), 8u);
  EXPECT_EQ(inv.numa_nodes.size(), 4u);
}

TEST_F(DamagedFixture, DriverNotLoadedFallsBackToSysfs) {
  edit_nvml([](Json& j) { j["init_error"] = 9; });  // NVML_ERROR_DRIVER_NOT_LOADED
  Inventory inv = discover(root(), {});
  EXPECT_TRUE(has_warning(inv, "nvidia", "Driver Not Loaded"));
  ASSERT_EQ(inv.accelerators.size(), 8u);
  EXPECT_EQ(inv.accelerators[0].source, "sysfs");
  EXPECT_EQ(inv.accelerators[0].driver_version, "535.104.05") << "from /proc/driver/nvidia/version";
  EXPECT_EQ(inv.nics.size(), 8u);
}

TEST_F(DamagedFixture, NvmlVersionMismatchFallsBackToSysfs) {
  ::setenv("AION_NVML_LIBRARY", FAKE_NVML_OLD_PATH, 1);
  Inventory inv = discover(root(), {});
  EXPECT_TRUE(has_warning(inv, "nvidia", "nvmlDeviceGetPciInfo_v3"));
  EXPECT_EQ(inv.accelerators.size(), 8u);
}

TEST_F(DamagedFixture, LostGpuIsReportedAndTheRestStillShown) {
  edit_nvml([](Json& j) { j["gpus"][3]["lost"] = true; });
  Inventory inv = discover(root(), {});
  EXPECT_TRUE(has_warning(inv, "0000:45:00.0", "Xid 79")) << "warning must name the GPU";
  ASSERT_EQ(inv.accelerators.size(), 8u);
  EXPECT_EQ(inv.accelerators[3].state, "lost");
  EXPECT_EQ(inv.accelerators[2].state, "ok");
  EXPECT_EQ(inv.accelerators[2].memory_bytes, 85899345920u);
}

// NVML is reference-counted (nvmlInit_v2/nvmlShutdown, as NVIDIA documents it): one user of
// the library shutting down leaves another working, and a GPU lost meanwhile shows to both.
TEST_F(DamagedFixture, OneNvmlUserShuttingDownLeavesTheOtherWorking) {
  auto telemetry = Nvml::load(FAKE_NVML_PATH);
  ASSERT_TRUE(telemetry) << telemetry.error().message();
  {
    auto rescan = Nvml::load(FAKE_NVML_PATH);
    ASSERT_TRUE(rescan) << rescan.error().message();
    EXPECT_EQ((*rescan)->query().gpus.size(), 8u);
  }
  NvmlReport after = (*telemetry)->query();
  ASSERT_EQ(after.gpus.size(), 8u) << "the first user lost NVML when the second shut down";
  EXPECT_FALSE(after.driver_version.empty());
  edit_nvml([](Json& j) { j["gpus"][3]["lost"] = true; });
  NvmlReport lost = (*telemetry)->query();
  ASSERT_EQ(lost.gpus.size(), 8u);
  EXPECT_TRUE(lost.gpus[3].lost);
  EXPECT_FALSE(lost.gpus[2].lost);
}

TEST_F(DamagedFixture, CliExitsZeroWithWarningsAndOneWithStrict) {
  edit_nvml([](Json& j) { j["gpus"][3]["lost"] = true; });
  std::vector<std::string> argv = {std::string(AION_BIN_DIR) + "/aion", "--host-root",
                                   (dir_ / "root").string(), "hw"};
  std::map<std::string, std::string> env = {{"AION_CONFIG", ""}};
  auto r = run_process({.argv = argv, .env_set = env});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_NE(r->err.find("0000:45:00.0"), std::string::npos) << r->err;
  EXPECT_NE(r->out.find("[lost]"), std::string::npos);
  EXPECT_NE(r->out.find("ibp4s0"), std::string::npos) << "the rest is still printed";
  argv.insert(argv.begin() + 1, "--strict");
  auto strict = run_process({.argv = argv, .env_set = env});
  ASSERT_TRUE(strict);
  EXPECT_EQ(strict->exit_code, 1);
}

// --strict means the same to every command that reads the machine: a warning of discovery
// (here the lost GPU) makes it exit 1; without --strict the same run exits 0.
TEST_F(DamagedFixture, EveryCommandThatReadsTheMachineHonoursStrict) {
  edit_nvml([](Json& j) { j["gpus"][3]["lost"] = true; });
  const std::map<std::string, std::string> env = {{"AION_CONFIG", ""}};
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"hw", "topo"}, {"slurm", "node", "--node", "n1"}, {"k8s", "features"}}) {
    std::vector<std::string> argv = {std::string(AION_BIN_DIR) + "/aion", "--host-root",
                                     (dir_ / "root").string()};
    argv.insert(argv.end(), command.begin(), command.end());
    auto r = run_process({.argv = argv, .env_set = env});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 0) << command[0] << ": " << r->err;
    EXPECT_NE(r->err.find("warning: 0000:45:00.0"), std::string::npos) << command[0] << r->err;
    argv.insert(argv.begin() + 1, "--strict");
    auto strict = run_process({.argv = argv, .env_set = env});
    ASSERT_TRUE(strict);
    EXPECT_EQ(strict->exit_code, 1) << command[0] << ": " << strict->err;
  }
}

// Where --strict cannot apply (the exit status is the job's), it is a usage error that says
// so, before anything is started.
TEST(StrictTest, RunRefusesStrict) {
  auto r = run_process({.argv = {std::string(AION_BIN_DIR) + "/aion", "--strict", "--socket",
                                 "/nonexistent/aiond.sock", "run", "--", "true"},
                        .env_set = {{"AION_CONFIG", ""}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 2) << r->err;
  EXPECT_NE(r->err.find("--strict does not apply to `aion run`: its exit status is the job's"),
            std::string::npos)
      << r->err;
}

TEST(LiveMachineTest, ShowsRealCpusAndSaysNoAccelerator) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  Inventory inv = discover(HostFs("/"), {});
  EXPECT_GT(inv.cpu.threads, 0);
  EXPECT_FALSE(inv.numa_nodes.empty());
  EXPECT_GT(inv.memory.total_bytes, 0u);
  auto r = run_process(
      {.argv = {std::string(AION_BIN_DIR) + "/aion", "hw"},
       .env_set = {{"AION_CONFIG", ""}, {"AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0) << r->err;
  if (inv.accelerators.empty()) {
    EXPECT_NE(r->out.find("no accelerator found"), std::string::npos) << r->out;
  }
  EXPECT_NE(r->out.find("NUMA nodes"), std::string::npos);
  EXPECT_NE(r->out.find("Network interfaces"), std::string::npos);
  EXPECT_NE(r->out.find("Disks"), std::string::npos);
}

TEST(DiffTest, ReportsLostGpuShrunkMemoryNewDriverAndSlowerLink) {
  Inventory before;
  before.memory.total_bytes = 512ull << 30;
  Accelerator a;
  a.vendor = "nvidia";
  a.model = "A100";
  a.pci.address = "0000:07:00.0";
  a.driver_version = "535.104.05";
  a.memory_bytes = 80ull << 30;
  Accelerator b = a;
  b.pci.address = "0000:0f:00.0";
  before.accelerators = {a, b};
  Nic n;
  n.name = "ib0";
  n.speed_mbps = 200000;
  before.nics = {n};
  Inventory after = before;
  after.accelerators.erase(after.accelerators.begin());
  after.accelerators[0].driver_version = "550.54.14";
  after.memory.total_bytes = 480ull << 30;
  after.nics[0].speed_mbps = 100000;
  auto changes = diff(before, after);
  auto has = [&](const std::string& sev, const std::string& text) {
    for (const auto& c : changes) {
      if (c.severity == sev && c.message.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("critical", "0000:07:00.0 is gone"));
  EXPECT_TRUE(has("info", "nvidia driver changed: 535.104.05 -> 550.54.14 (1 device)"));
  EXPECT_TRUE(has("warning", "memory shrank"));
  EXPECT_TRUE(has("warning", "200000 -> 100000"));
  EXPECT_EQ(changes.size(), 4u);
  EXPECT_TRUE(diff(before, before).empty());
}

}  // namespace
}  // namespace aion::hw
