// aiond keeps a hardware snapshot, raises an event per change, and `aion hw diff` compares
// the machine with it: run on a copy of the DGX-like fixture whose GPU then falls off the bus.
#include <algorithm>
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

// aion top draws host, GPU and job rows from aiond's metrics; --once prints one frame.
TEST(HwDaemonTest, TopShowsTheHostAndEachGpu) {
  DaemonHarness h;
  h.write_config(
      "[telemetry]\nhost_interval_s = 1\n"
      "[[simulate.gpu]]\nmodel = \"A100-SXM4-80GB\"\npci_address = \"0000:07:00.0\"\n"
      "[[simulate.gpu]]\nmodel = \"A100-SXM4-80GB\"\npci_address = \"0000:0f:00.0\"\n");
  auto started = h.start();
  ASSERT_TRUE(started) << started.error().message() << h.log();
  Exit top = run_program(
      {DaemonHarness::aion_path(), "--socket", h.socket().string(), "top", "--once", "-n", "1.2"});
  EXPECT_EQ(top.code, 0) << top.out;
  EXPECT_NE(top.out.find("aion top"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("memory "), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("0    A100-SXM4-80GB [simulated]"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("1    A100-SXM4-80GB [simulated]"), std::string::npos) << top.out;
  EXPECT_EQ(top.out.find("\x1b["), std::string::npos) << "no terminal codes when not a tty";
}

// aion --json top prints each frame as one line of JSON with the data of the tables, in a
// stable snake_case schema.
TEST(HwDaemonTest, TopJsonHasTheDataOfTheTables) {
  DaemonHarness h;
  h.write_config(
      "[telemetry]\nhost_interval_s = 1\n"
      "[[simulate.gpu]]\nmodel = \"A100-SXM4-80GB\"\npci_address = \"0000:07:00.0\"\n");
  auto started = h.start();
  ASSERT_TRUE(started) << started.error().message() << h.log();
  Exit top = run_program({DaemonHarness::aion_path(), "--json", "--socket", h.socket().string(),
                          "top", "--once", "-n", "1.2"});
  EXPECT_EQ(top.code, 0) << top.out;
  ASSERT_EQ(std::count(top.out.begin(), top.out.end(), '\n'), 1) << "one frame, one line";
  Json j = Json::parse(top.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << top.out;
  EXPECT_TRUE(j["time"].is_string()) << top.out;
  for (const char* k : {"cpu_busy_ratio", "load1", "memory_used_bytes"})
    EXPECT_TRUE(j[k].is_number() || j[k].is_null()) << k << ": " << top.out;
  EXPECT_GT(j.value("memory_total_bytes", 0.0), 0) << top.out;
  ASSERT_EQ(j["gpus"].size(), 1u) << top.out;
  EXPECT_EQ(j["gpus"][0]["index"], 0);
  EXPECT_EQ(j["gpus"][0]["model"], "A100-SXM4-80GB");
  EXPECT_EQ(j["gpus"][0]["simulated"], true);
  for (const char* k : {"utilization_ratio", "memory_used_bytes", "memory_total_bytes",
                        "temperature_celsius", "power_watts"})
    EXPECT_TRUE(j["gpus"][0].contains(k)) << k << ": " << top.out;
  EXPECT_TRUE(j["jobs"].is_array()) << top.out;
}

// NVIDIA GPU metrics come from NVML: the fake library on the generated DGX A100-like machine
// reports one GPU hot, throttled and with ECC errors; /metrics shows exactly that.
TEST(HwDaemonTest, NvidiaGpuMetricsComeFromNvml) {
  DaemonHarness h;
  fs::path fx = h.dir() / "fx";
  copy_fixture("hw/dgx-a100", fx);
  std::string nvml = (fx / "nvml.json").string();
  Json j;
  std::ifstream(nvml) >> j;
  j["gpus"][0]["telemetry"] = {{"util", 87},
                               {"mem_util", 40},
                               {"temp", 91},
                               {"power_mw", 312500},
                               {"power_limit_mw", 400000},
                               {"sm_mhz", 1215},
                               {"mem_mhz", 1593},
                               {"throttle", 0x40},
                               {"ecc_corrected", 5},
                               {"ecc_uncorrected", 2},
                               {"pcie_replays", 1},
                               {"memory_used", 42949672960LL},
                               {"nvlink_errors", {3, 0, 7, 1}}};
  std::ofstream(nvml) << j.dump();
  h.set_env("AION_NVML_LIBRARY", FAKE_NVML_PATH);
  h.set_env("AION_FAKE_NVML", nvml);
  auto started = h.start({"--host-root", (fx / "root").string()});
  ASSERT_TRUE(started) << started.error().message() << h.log();
  auto c = h.client();
  ASSERT_TRUE(c);
  auto m = c->get("/metrics");
  ASSERT_TRUE(m && m->status == 200);
  const std::string& text = m->body;
  std::string pci = j["gpus"][0]["bus_id"].get<std::string>().substr(4);  // 0000:03:00.0
  std::transform(pci.begin(), pci.end(), pci.begin(), ::tolower);
  auto value = [&](const std::string& name, const std::string& extra = "") -> std::string {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(name + "{", 0) == 0 && line.find("pci=\"" + pci + "\"") != std::string::npos &&
          (extra.empty() || line.find(extra) != std::string::npos)) {
        return line.substr(line.rfind(' ') + 1);
      }
    }
    return "<none>";
  };
  EXPECT_EQ(value("aion_gpu_temperature_celsius"), "91") << text;
  EXPECT_EQ(value("aion_gpu_utilization_ratio"), "0.87");
  EXPECT_EQ(value("aion_gpu_power_watts"), "312.5");
  EXPECT_EQ(value("aion_gpu_power_limit_watts"), "400");
  EXPECT_EQ(value("aion_gpu_sm_clock_hertz"), "1.215e+09");  // shortest round-trip form
  EXPECT_EQ(value("aion_gpu_memory_used_bytes"), "42949672960");
  EXPECT_EQ(value("aion_gpu_throttled", "reason=\"hw_thermal_slowdown\""), "1");
  EXPECT_EQ(value("aion_gpu_throttled", "reason=\"sw_power_cap\""), "0");
  EXPECT_EQ(value("aion_gpu_ecc_errors_total", "type=\"uncorrected\""), "2");
  EXPECT_EQ(value("aion_gpu_pcie_replays_total"), "1");
  EXPECT_EQ(value("aion_gpu_lost"), "0");
  // Summed over the GPU's active NVLinks (12 in the fixture).
  const int links = static_cast<int>(j["gpus"][0]["nvlinks"].size());
  EXPECT_EQ(value("aion_gpu_nvlink_errors_total", "type=\"crc_flit\""), std::to_string(7 * links));
  EXPECT_EQ(value("aion_gpu_nvlink_errors_total", "type=\"replay\""), std::to_string(3 * links));
  EXPECT_EQ(value("aion_gpu_xid_errors_total"), "<none>");

  // An Xid arrives through NVML's event API: a counter and a critical event.
  j["gpus"][0]["telemetry"]["xids"] = {48, 48};
  std::ofstream(nvml + ".tmp") << j.dump();
  fs::rename(nvml + ".tmp", nvml);
  std::string events;
  for (int i = 0; i < 100; ++i) {
    auto e = c->get("/v1/events?kind=gpu");
    if (e && e->body.find("Xid 48") != std::string::npos) {
      events = e->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(events.find("reported Xid 48 (NVML event)"), std::string::npos) << h.log();
  EXPECT_NE(events.find("critical"), std::string::npos);
  std::string text2;
  for (int i = 0; i < 50; ++i) {
    text2 = c->get("/metrics")->body;
    if (text2.find("aion_gpu_xid_errors_total{") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(text2.find("xid=\"48\"} 2"), std::string::npos) << text2;
  // The other GPUs report no telemetry in the fixture: no made-up readings for them.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n') > 0, true);
  std::size_t temps = 0;
  for (std::size_t p = text.find("\naion_gpu_temperature_celsius{"); p != std::string::npos;
       p = text.find("\naion_gpu_temperature_celsius{", p + 1)) {
    ++temps;
  }
  EXPECT_EQ(temps, 1u);
}

TEST(HwDaemonTest, LostGpuBecomesCriticalEventAndShowsInDiff) {
  DaemonHarness h;
  fs::path fx = h.dir() / "fx";
  copy_fixture("hw/dgx-a100", fx);
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
