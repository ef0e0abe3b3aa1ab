// Diagnosis through the real daemon: an Xid that the (fake) NVML event API reports becomes
// an incident that `aion incidents` lists, with Xid 79 as its root cause on the right GPU,
// and its playbook runs (against a stand-in nvidia-smi) only with an approval, audited.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/fixtures.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;

TEST(DiagnoseDaemonTest, NvmlXidBecomesAnIncidentWithARemediationPlan) {
  DaemonHarness h;
  fs::path fx = h.dir() / "fx";
  copy_fixture("hw/dgx-a100", fx);
  std::string nvml = (fx / "nvml.json").string();
  Json j;
  std::ifstream(nvml) >> j;
  j["gpus"][0]["telemetry"] = {{"util", 50}, {"temp", 60}, {"xids", {79}}};
  std::ofstream(nvml) << j.dump();
  // A stand-in nvidia-smi that records its arguments: no real GPU is ever reset.
  fs::create_directories(h.dir() / "bin");
  fs::path calls = h.dir() / "calls.log";
  std::ofstream(h.dir() / "bin" / "nvidia-smi")
      << "#!/bin/sh\necho \"nvidia-smi $*\" >> " << calls.string() << "\n";
  ::chmod((h.dir() / "bin" / "nvidia-smi").c_str(), 0755);
  h.write_config("[sched]\ncgroups = false\n[diagnose]\npoll_interval_ms = 100\n");
  h.set_env("AION_NVML_LIBRARY", FAKE_NVML_PATH);
  h.set_env("AION_FAKE_NVML", nvml);
  h.set_env("AION_DATA_DIR", std::string(AION_SOURCE_DIR) + "/data");
  h.set_env("PATH", (h.dir() / "bin").string() + ":/usr/bin:/bin");
  auto started = h.start({"--host-root", (fx / "root").string()});
  ASSERT_TRUE(started) << started.error().message() << h.log();
  auto aion = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {DaemonHarness::aion_path(), "--socket", h.socket().string()});
    return run_program(args);
  };

  Json incidents;
  for (int i = 0; i < 100; ++i) {
    Exit r = aion({"--json", "incidents"});
    ASSERT_EQ(r.code, 0) << r.out;
    incidents = Json::parse(r.out, nullptr, false)["incidents"];
    if (!incidents.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(incidents.size(), 1u) << h.log();
  const Json& inc = incidents[0];
  EXPECT_EQ(inc["top"]["signature"], "nvidia-xid-79");
  EXPECT_EQ(inc["severity"], "critical");
  std::string devices = inc["devices"].dump();
  EXPECT_NE(devices.find("gpu:0"), std::string::npos) << devices;
  EXPECT_NE(devices.find("pci:0000:03:00.0"), std::string::npos) << devices;
  std::string id = std::to_string(inc["id"].get<long long>());

  Exit table = aion({"incidents"});
  EXPECT_NE(table.out.find("Xid 79: GPU has fallen off the bus on GPU 0 (0000:03:00.0)"),
            std::string::npos)
      << table.out;
  Exit detail = aion({"incident", id});
  EXPECT_EQ(detail.code, 0) << detail.out;
  EXPECT_NE(detail.out.find("(NVML event)"), std::string::npos) << detail.out;

  Exit dry = aion({"remediate", id, "--dry-run"});
  EXPECT_EQ(dry.code, 0) << dry.out;
  EXPECT_NE(dry.out.find("command: nvidia-smi -r -i 0"), std::string::npos) << dry.out;
  EXPECT_FALSE(fs::exists(calls));

  Exit ran = aion({"remediate", id, "--approve"});
  EXPECT_EQ(ran.code, 0) << ran.out;
  std::ifstream in(calls);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "nvidia-smi -r -i 0\n");
  Exit after = aion({"--json", "incident", id});
  Json audit = Json::parse(after.out, nullptr, false)["audit"];
  ASSERT_EQ(audit.size(), 4u) << after.out;  // approve, drain, reset, requeue (none)
  EXPECT_EQ(audit[1]["action"], "drain_gpu");
  EXPECT_EQ(audit[1]["outcome"], "ok") << audit[1].dump();
  EXPECT_EQ(audit[2]["command"], "nvidia-smi -r -i 0");
  EXPECT_FALSE(audit[2]["approved_by"].get<std::string>().empty());

  // Resolved: off the open list, in the resolved one, with who and why, audited; twice is
  // refused saying by whom.
  Exit open = aion({"--json", "incidents", "--open"});
  ASSERT_EQ(open.code, 0) << open.out;
  EXPECT_EQ(Json::parse(open.out, nullptr, false)["incidents"].size(), 1u) << open.out;
  Exit resolved = aion({"resolve", id, "--note", "reseated the riser"});
  EXPECT_EQ(resolved.code, 0) << resolved.out;
  EXPECT_NE(resolved.out.find("incident " + id + " resolved by"), std::string::npos)
      << resolved.out;
  open = aion({"--json", "incidents", "--open"});
  EXPECT_TRUE(Json::parse(open.out, nullptr, false)["incidents"].empty()) << open.out;
  Exit closed = aion({"incidents", "--resolved"});
  EXPECT_NE(closed.out.find("resolved"), std::string::npos) << closed.out;
  EXPECT_NE(closed.out.find("Xid 79"), std::string::npos) << closed.out;
  Exit shown = aion({"incident", id});
  EXPECT_NE(shown.out.find(": reseated the riser"), std::string::npos) << shown.out;
  after = aion({"--json", "incident", id});
  Json j2 = Json::parse(after.out, nullptr, false);
  EXPECT_EQ(j2["state"], "resolved") << after.out;
  ASSERT_EQ(j2["audit"].size(), 5u) << after.out;
  EXPECT_EQ(j2["audit"][4]["action"], "resolve");
  Exit twice = aion({"resolve", id});
  EXPECT_NE(twice.code, 0);
  EXPECT_NE(twice.out.find("already"), std::string::npos) << twice.out;
  Exit bad = aion({"incidents", "--open", "--resolved"});
  EXPECT_NE(bad.code, 0);

  Exit doctor = aion({"--json", "--host-root", (fx / "root").string(), "doctor"});
  EXPECT_NE(doctor.out.find("\"pcie_link\""), std::string::npos) << doctor.out;
}

}  // namespace
}  // namespace aion::testing
