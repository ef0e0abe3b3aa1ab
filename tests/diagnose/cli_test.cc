// The CLI's offline diagnosis commands, run as a user would: aion diagnose and aion doctor.
#include <array>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/core/process.h"
#include "test_util.h"

namespace aion::diagnose {
namespace {

ProcessResult aion(std::vector<std::string> args, std::string stdin_data = "") {
  args.insert(args.begin(), std::string(AION_BIN_DIR) + "/aion");
  auto r = run_process({.argv = args,
                        .env_set = {{"AION_DATA_DIR", testing::data_dir().string()},
                                    {"AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"},
                                    {"AION_CONFIG", ""}},
                        .stdin_data = std::move(stdin_data),
                        .timeout = std::chrono::seconds(60)});
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : ProcessResult{};
}

TEST(DiagnoseCliTest, DiagnoseFileFindsTheGpuIncident) {
  auto r = aion({"--json", "diagnose", testing::fixture_path("logs/gpu_fault.log").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out);
  ASSERT_EQ(j["incidents"].size(), 4u) << r.out;
  bool found = false;
  for (const auto& i : j["incidents"]) {
    if (i["hypotheses"][0]["signature"] == "nvidia-xid-79") {
      found = true;
      EXPECT_EQ(i["devices"][0], "pci:0000:07:00.0");
      EXPECT_EQ(i["hypotheses"][0]["playbook"], "drain-and-reset-gpu");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(j["stats"]["lines"], 24);
}

TEST(DiagnoseCliTest, DiagnoseStdinWithAJobSource) {
  auto r =
      aion({"diagnose", "-", "--source", "job:7"},
           "2026-11-30T10:00:00Z RuntimeError: CUDA error: uncorrectable ECC error encountered\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CUDA reported an uncorrectable ECC error on job 7"), std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("1 incident(s)"), std::string::npos) << r.err;
}

TEST(DiagnoseCliTest, DmesgTimesCountFromTheBootGivenOrShowAsBootRelative) {
  const std::string dmesg =
      "[  812.123456] NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python, GPU has fallen off "
      "the bus.\n";
  auto bare = aion({"diagnose", "-"}, dmesg);
  ASSERT_EQ(bare.exit_code, 0) << bare.err;
  EXPECT_NE(bare.out.find("from boot+812.123s to boot+812.123s"), std::string::npos) << bare.out;
  EXPECT_EQ(bare.out.find("1970"), std::string::npos) << bare.out;
  auto booted = aion({"--json", "diagnose", "-", "--boot-time", "2026-11-30T03:00:00Z"}, dmesg);
  ASSERT_EQ(booted.exit_code, 0) << booted.err;
  EXPECT_EQ(Json::parse(booted.out)["incidents"][0]["opened"], "2026-11-30T03:13:32.123Z")
      << booted.out;
  auto bad = aion({"diagnose", "-", "--boot-time", "yesterday"}, dmesg);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--boot-time 'yesterday' is not a time"), std::string::npos) << bad.err;
}

TEST(DiagnoseCliTest, DoctorOnTheDgxFixtureFailsOnTheDegradedLink) {
  auto r = aion({"--json", "--host-root", testing::hw_fixture_root("dgx-a100").string(), "doctor"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["status"], "fail");
  bool degraded = false;
  for (const auto& c : j["checks"])
    degraded = degraded || (c["name"] == "pcie_link" && c["status"] == "fail");
  EXPECT_TRUE(degraded) << r.out;
  auto human = aion({"--host-root", testing::hw_fixture_root("dgx-a100").string(), "doctor"});
  EXPECT_NE(human.out.find("link width degraded: x8 of x16"), std::string::npos) << human.out;
}

}  // namespace
}  // namespace aion::diagnose
