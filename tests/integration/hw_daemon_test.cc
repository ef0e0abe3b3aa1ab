// aiond keeps a hardware snapshot, raises an event per change, and `aion hw diff` compares
// the machine with it: run on a copy of the DGX-like fixture whose GPU then falls off the bus.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "daemon_harness.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;

// The CLI reads the daemon's own config file: every section aiond accepts ([sched],
// [[simulate.gpu]]) is accepted by `aion` too, and daemon.socket there finds the daemon.
TEST(HwDaemonTest, TheCliReadsTheSameConfigFileAsTheDaemon) {
  DaemonHarness h;
  h.write_config("[daemon]\nsocket = \"" + h.socket().string() +
                 "\"\n[sched]\nkill_grace_s = 3\ncgroups = false\n"
                 "[[simulate.gpu]]\nmodel = \"A100-SXM4-80GB\"\npci_address = \"0000:07:00.0\"\n");
  auto started = h.start();
  ASSERT_TRUE(started) << started.error().message() << h.log();
  auto aion = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {DaemonHarness::aion_path(), "--config", h.config().string()});
    return run_program(args);
  };
  Exit status = aion({"status"});
  EXPECT_EQ(status.code, 0) << status.out;
  Exit hw = aion({"hw"});
  EXPECT_EQ(hw.code, 0) << hw.out;
  EXPECT_NE(hw.out.find("simulated"), std::string::npos) << hw.out;
  Exit run = aion({"run", "--gpus", "1", "--", "sh", "-c", "echo gpu=$AION_GPUS"});
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_NE(run.out.find("gpu=0000:07:00.0"), std::string::npos) << run.out;
}

TEST(HwDaemonTest, LostGpuBecomesCriticalEventAndShowsInDiff) {
  DaemonHarness h;
  fs::path fx = h.dir() / "fx";
  fs::copy(std::string(AION_TEST_FIXTURES) + "/hw/dgx-a100", fx,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  std::string nvml = (fx / "nvml.json").string();
  h.set_env("AION_NVML_LIBRARY", FAKE_NVML_PATH);
  h.set_env("AION_FAKE_NVML", nvml);
  ::setenv("AION_NVML_LIBRARY", FAKE_NVML_PATH, 1);
  ::setenv("AION_FAKE_NVML", nvml.c_str(), 1);
  auto started = h.start({"--host-root", (fx / "root").string()});
  ASSERT_TRUE(started) << started.error().message();
  auto c = h.client();
  ASSERT_TRUE(c);
  auto snap = c->get("/v1/hw/snapshot");
  ASSERT_TRUE(snap && snap->status == 200) << (snap ? snap->body : "") << h.log();
  EXPECT_EQ(Json::parse(snap->body)["inventory"]["accelerators"].size(), 8u);

  std::vector<std::string> diff = {DaemonHarness::aion_path(),
                                   "--socket",
                                   h.socket().string(),
                                   "--host-root",
                                   (fx / "root").string(),
                                   "hw",
                                   "diff"};
  Exit same = run_program(diff);
  EXPECT_EQ(same.code, 0) << same.out;
  EXPECT_NE(same.out.find("no hardware changes"), std::string::npos) << same.out;

  Json j;
  std::ifstream(nvml) >> j;
  j["gpus"][5]["lost"] = true;
  std::ofstream(nvml) << j.dump();
  Exit changed = run_program(diff);
  EXPECT_EQ(changed.code, 0) << changed.out;
  EXPECT_NE(changed.out.find("0000:85:00.0 changed state: ok -> lost"), std::string::npos)
      << changed.out;

  auto rescan = c->post("/v1/hw/rescan", "");
  ASSERT_TRUE(rescan && rescan->status == 200) << (rescan ? rescan->body : "");
  auto events = c->get("/v1/events?kind=hw_change");
  ASSERT_TRUE(events);
  Json ev = Json::parse(events->body)["events"];
  ASSERT_EQ(ev.size(), 1u) << events->body;
  EXPECT_EQ(ev[0]["severity"], "critical");
  EXPECT_EQ(ev[0]["data"]["device"], "0000:85:00.0");
  // The new snapshot holds the lost GPU: nothing changed since.
  Exit after = run_program(diff);
  EXPECT_NE(after.out.find("no hardware changes"), std::string::npos) << after.out;
}

}  // namespace
}  // namespace aion::testing
