#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/diagnose/doctor.h"
#include "aion/diagnose/incident_json.h"
#include "support/golden.h"
#include "test_util.h"

namespace aion::diagnose {
namespace {

using testing::TempDir;

const DoctorCheck* find(const std::vector<DoctorCheck>& checks, const std::string& name,
                        const std::string& subject) {
  for (const auto& c : checks)
    if (c.name == name && c.subject == subject) return &c;
  return nullptr;
}

std::string dump(const std::vector<DoctorCheck>& checks) {
  std::string out;
  for (const auto& c : checks)
    out += c.status + " " + c.name + " " + c.subject + ": " + c.found + "\n";
  return out;
}

// NVML answers from a copy of the fixture's nvml.json with per-GPU health readings.
class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("AION_NVML_LIBRARY", FAKE_NVML_PATH, 1);
    nvml_ = dir_.path() / "nvml.json";
    Json j;
    std::ifstream(testing::fixture_path("hw/dgx-a100/nvml.json")) >> j;
    for (auto& g : j["gpus"])
      g["telemetry"] = {{"persistence", 1}, {"remapped_rows", {0, 0, 0, 0}}, {"throttle", 0}};
    j["gpus"][1]["telemetry"]["persistence"] = 0;
    j["gpus"][2]["telemetry"]["remapped_rows"] = {0, 1, 1, 0};
    j["gpus"][4]["telemetry"]["throttle"] = 0x40;  // hardware thermal slowdown
    std::ofstream(nvml_) << j.dump();
    ::setenv("AION_FAKE_NVML", nvml_.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("AION_NVML_LIBRARY");
    ::unsetenv("AION_FAKE_NVML");
  }
  TempDir dir_;
  std::filesystem::path nvml_;
};

TEST_F(DoctorTest, DgxFixtureReportsTheDegradedLinkMemoryErrorsAndNvmlFindings) {
  HostFs fs(testing::hw_fixture_root("dgx-a100"));
  auto checks = run_doctor(fs, {.state_dir = dir_.path()});
  SCOPED_TRACE(dump(checks));
  const DoctorCheck* driver = find(checks, "driver", "nvidia");
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(driver->status, "ok");
  EXPECT_NE(driver->found.find("535.104.05"), std::string::npos);

  const DoctorCheck* degraded = find(checks, "pcie_link", "GPU 0000:45:00.0");
  ASSERT_NE(degraded, nullptr);
  EXPECT_EQ(degraded->status, "fail");
  EXPECT_NE(degraded->found.find("x8 of x16"), std::string::npos);
  EXPECT_FALSE(degraded->action.empty());
  EXPECT_EQ(find(checks, "pcie_link", "GPU 0000:03:00.0")->status, "ok");

  EXPECT_EQ(find(checks, "memory_errors", "mc1")->status, "warn");
  EXPECT_EQ(find(checks, "memory_errors", "mc0")->status, "ok");

  EXPECT_EQ(find(checks, "persistence_mode", "GPU 0000:05:00.0")->status, "warn");
  EXPECT_EQ(find(checks, "persistence_mode", "GPU 0000:03:00.0")->status, "ok");
  EXPECT_EQ(find(checks, "ecc_pending", "GPU 0000:43:00.0")->status, "warn");
  EXPECT_EQ(find(checks, "ecc_pending", "GPU 0000:03:00.0")->status, "ok");
  const DoctorCheck* hot = find(checks, "clocks_throttled", "GPU 0000:83:00.0");
  ASSERT_NE(hot, nullptr);
  EXPECT_EQ(hot->status, "warn");
  EXPECT_NE(hot->found.find("hardware thermal"), std::string::npos);
  EXPECT_EQ(overall_status(checks), "fail");
}

// The report as `aion --json doctor` and GET /v1/doctor print it. The disk check measures the
// disk this test runs on, so its rows are pinned to a fixed reading before rendering.
TEST_F(DoctorTest, DgxReportMatchesItsGoldenFile) {
  auto checks = run_doctor(HostFs(testing::hw_fixture_root("dgx-a100")), {});
  bool pinned = false;
  for (auto& c : checks) {
    if (c.name != "disk_space") continue;
    c.status = "ok";
    c.found = "50% used, 100.0 GiB free";
    c.action.clear();
    pinned = true;
  }
  EXPECT_TRUE(pinned) << dump(checks);
  EXPECT_GOLDEN_JSON("diagnose/doctor-dgx-a100.json", doctor_json(checks).dump());
}

TEST_F(DoctorTest, HealthyWorkstationAndCpuOnlyVm) {
  auto ws = run_doctor(HostFs(testing::hw_fixture_root("workstation")), {});
  SCOPED_TRACE(dump(ws));
  // Idle GPUs drop their link speed to save power: a warning with that explanation, not a fail.
  const DoctorCheck* idle = find(ws, "pcie_link", "GPU 0000:01:00.0");
  ASSERT_NE(idle, nullptr);
  EXPECT_EQ(idle->status, "warn");
  EXPECT_EQ(find(ws, "pcie_link", "GPU 0000:02:00.0")->status, "ok");
  EXPECT_EQ(find(ws, "memory_errors", "mc0")->status, "ok");
  EXPECT_EQ(find(ws, "driver", "nvidia")->status, "ok");

  auto vm = run_doctor(HostFs(testing::hw_fixture_root("cpu-vm")), {});
  EXPECT_EQ(vm.front().name, "driver");
  EXPECT_EQ(vm.front().status, "skip");
  EXPECT_EQ(find(vm, "memory_errors", "EDAC")->status, "skip");
}

TEST_F(DoctorTest, DriverMissingAndDiskFullFail) {
  // A tree with an NVIDIA GPU but no nvidia module.
  TempDir t;
  t.write("sys/bus/pci/devices/0000:07:00.0/vendor", "0x10de\n");
  t.write("sys/bus/pci/devices/0000:07:00.0/class", "0x030200\n");
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  auto checks = run_doctor(HostFs(t.path()),
                           {.state_dir = t.path(), .disk_warn_percent = 0, .disk_fail_percent = 0});
  SCOPED_TRACE(dump(checks));
  EXPECT_EQ(find(checks, "driver", "nvidia")->status, "fail");
  EXPECT_EQ(find(checks, "persistence_mode", "NVML")->status, "skip");
  EXPECT_EQ(find(checks, "disk_space", "/")->status, "fail");
  EXPECT_EQ(find(checks, "disk_space", t.path().string())->status, "fail");
  EXPECT_EQ(overall_status(checks), "fail");
}

}  // namespace
}  // namespace aion::diagnose
