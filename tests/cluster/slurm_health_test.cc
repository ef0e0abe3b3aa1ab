// The health check's decision (drain only on a fault, resume only what aion drained), its
// inputs, and `aion slurm healthcheck` / `prolog` end to end against a stand-in scontrol that
// records its arguments.
#include "aion/cluster/slurm_health.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "aion/core/process.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::cluster {
namespace {

namespace fs = std::filesystem;

TEST(SlurmHealthTest, DrainsOnlyOnAFault) {
  NodeState idle{.state = "IDLE", .reason = ""};
  auto d = decide_health({}, idle);
  EXPECT_EQ(d.action, HealthAction::kNone);
  d = decide_health({{"marker", "GPU 3 reported Xid 79", 3}, {"local", "x", -1}}, idle);
  EXPECT_EQ(d.action, HealthAction::kDrain);
  EXPECT_EQ(d.reason, "aion: GPU 3 reported Xid 79 (+1 more)");
}

TEST(SlurmHealthTest, ResumesOnlyWhatAionDrained) {
  auto d = decide_health({}, {.state = "IDLE+DRAIN", .reason = "aion: GPU 3 lost"});
  EXPECT_EQ(d.action, HealthAction::kResume);
  d = decide_health({}, {.state = "IDLE+DRAIN", .reason = "admin: new DIMMs"});
  EXPECT_EQ(d.action, HealthAction::kNone);
  // A node someone else drained keeps their reason even when aion sees a fault.
  d = decide_health({{"local", "GPU 1 is lost", 1}},
                    {.state = "DRAIN", .reason = "admin: new DIMMs"});
  EXPECT_EQ(d.action, HealthAction::kNone);
  // Already drained for the same fault: nothing to do; for another one: the reason changes.
  d = decide_health({{"local", "GPU 1 is lost", 1}},
                    {.state = "IDLE+DRAIN", .reason = "aion: GPU 1 is lost"});
  EXPECT_EQ(d.action, HealthAction::kNone);
  d = decide_health({{"local", "GPU 2 is lost", 2}},
                    {.state = "IDLE+DRAIN", .reason = "aion: GPU 1 is lost"});
  EXPECT_EQ(d.action, HealthAction::kDrain);
}

TEST(SlurmHealthTest, ReadsStateAndReasonFromScontrol) {
  const std::string text =
      "NodeName=n1 Arch=x86_64 CoresPerSocket=8 \n"
      "   State=IDLE+DRAIN ThreadsPerCore=2 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A\n"
      "   Partitions=debug \n"
      "   Reason=aion: GPU 1 (0000:02:00.0) is lost [root@2026-11-30T11:40:17]\n";
  auto s = parse_scontrol_node(text, "n1");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->state, "IDLE+DRAIN");
  EXPECT_EQ(s->reason, "aion: GPU 1 (0000:02:00.0) is lost");
  EXPECT_TRUE(s->drained_by_aion());
  EXPECT_FALSE(parse_scontrol_node(text, "n2"));
}

TEST(SlurmHealthTest, DaemonEventsSinceBootAndUnresolvedHwChangesAreFaults) {
  Json events = Json::parse(R"json({"events": [
    {"kind": "gpu", "severity": "critical", "time_ms": 500, "message": "GPU 0 reported Xid 79 (NVML event)", "data": {"gpu": 0}},
    {"kind": "gpu", "severity": "critical", "time_ms": 2000, "message": "GPU 2 reported Xid 48 (NVML event)", "data": {"gpu": 2}},
    {"kind": "gpu", "severity": "warning", "time_ms": 2000, "message": "GPU 3 is hot", "data": {"gpu": 3}},
    {"kind": "hw_change", "severity": "critical", "time_ms": 2100, "message": "GPU 0000:07:00.0 is gone", "data": {"device": "0000:07:00.0"}},
    {"kind": "hw_change", "severity": "critical", "time_ms": 2200, "message": "GPU 0000:09:00.0 is gone", "data": {"device": "0000:09:00.0"}},
    {"kind": "hw_change", "severity": "info", "time_ms": 2300, "message": "GPU 0000:09:00.0 is back", "data": {"device": "0000:09:00.0"}}
  ]})json");
  auto f = daemon_faults(events, /*since_ms=*/1000);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].message, "GPU 2 reported Xid 48 (NVML event)");
  EXPECT_EQ(f[0].gpu, 2);
  EXPECT_EQ(f[1].message, "GPU 0000:07:00.0 is gone");
}

TEST(SlurmHealthTest, LocalCheckFindsLostAndMissingGpus) {
  hw::Inventory inv;
  inv.accelerators.resize(2);
  inv.accelerators[0].index = 0;
  inv.accelerators[1].index = 1;
  inv.accelerators[1].state = "lost";
  inv.accelerators[1].pci.address = "0000:02:00.0";
  std::vector<GresDevice> discovered(2), expected(3);
  discovered[0].file = "/dev/nvidia0";
  discovered[1].file = "/dev/nvidia1";
  for (int i = 0; i < 3; ++i) {
    expected[i].file = "/tmp/dev/nvidia" + std::to_string(i);
    expected[i].line = 4 + i;
  }
  auto f = local_faults(inv, expected, discovered, {});
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].message, "GPU 1 (0000:02:00.0) is lost (fell off the bus)");
  EXPECT_EQ(f[0].gpu, 1);
  EXPECT_EQ(f[1].message,
            "GPU /tmp/dev/nvidia2 from gres.conf line 6 was not found on the PCI bus");
  EXPECT_EQ(f[2].message, "found 2 of 3 GPUs listed in gres.conf");
}

TEST(SlurmHealthTest, JobGpusFromSlurmEnvironment) {
  EXPECT_EQ(*parse_job_gpus("0,2-3"), (std::vector<int>{0, 2, 3}));
  EXPECT_TRUE(parse_job_gpus("")->empty());
  EXPECT_FALSE(parse_job_gpus("GPU-1234"));
}

// `aion slurm healthcheck` on the workstation fixture with a stand-in scontrol.
class SlurmHealthCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "state");
    // Prints the node as `scontrol show node` does (from node.txt) and records every call.
    std::ofstream(dir_ / "scontrol")
        << "#!/bin/sh\n"
        << "printf '%s\\n' \"$*\" >> '" << (dir_ / "calls").string() << "'\n"
        << "if [ \"$1\" = show ]; then cat '" << (dir_ / "node.txt").string() << "'; fi\n";
    fs::permissions(dir_ / "scontrol", fs::perms::owner_all);
    std::ofstream(dir_ / "aion.toml") << "";
    set_node("IDLE", "");
  }

  void set_node(const std::string& state, const std::string& reason) {
    std::ofstream(dir_ / "node.txt")
        << "NodeName=n1 Arch=x86_64 CoresPerSocket=8\n   State=" << state << " ThreadsPerCore=2\n"
        << (reason.empty() ? "" : "   Reason=" + reason + " [root@2026-11-30T11:40:17]\n");
  }
  void mark_unhealthy(const std::string& reason) {
    fs::create_directories(dir_ / "state" / "health");
    std::ofstream(dir_ / "state" / "health" / "unhealthy") << reason << "\nmore detail\n";
  }
  std::string calls() {
    std::ifstream in(dir_ / "calls");
    std::stringstream ss;
    ss << in.rdbuf();
    fs::remove(dir_ / "calls");
    return ss.str();
  }
  ProcessResult aion(const std::string& command, std::vector<std::string> extra = {},
                     std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {std::string(AION_BIN_DIR) + "/aion",
                                     "--config",
                                     (dir_ / "aion.toml").string(),
                                     "--host-root",
                                     ::aion::testing::hw_fixture_root("workstation").string(),
                                     "slurm",
                                     command,
                                     "--node",
                                     "n1",
                                     "--no-daemon",
                                     "--state-dir",
                                     (dir_ / "state").string()};
    if (command == "healthcheck") {
      argv.push_back("--scontrol");
      argv.push_back((dir_ / "scontrol").string());
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    env["AION_NVML_LIBRARY"] = "/nonexistent/libnvidia-ml.so.1";
    env["SLURM_CONF"] = (dir_ / "slurm.conf").string();  // no gres.conf beside it
    auto r = run_process({.argv = argv, .env_set = env, .timeout = std::chrono::seconds(30)});
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : ProcessResult{};
  }

  ::aion::testing::TempDir tmp_{"slurm-health"};
  fs::path dir_ = tmp_.path();
};

TEST_F(SlurmHealthCliTest, HealthyIdleNodeIsLeftAlone) {
  auto r = aion("healthcheck");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(calls(), "show node n1\n");
}

TEST_F(SlurmHealthCliTest, MarkerDrainsWithItsFirstLineAsReason) {
  mark_unhealthy("GPU 1 (0000:02:00.0) reported Xid 79");
  auto r = aion("healthcheck");
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  EXPECT_EQ(calls(),
            "show node n1\n"
            "update nodename=n1 state=drain reason=aion: GPU 1 (0000:02:00.0) reported Xid 79\n");
  // --dry-run decides but does not update.
  r = aion("healthcheck", {"--dry-run"});
  EXPECT_EQ(calls(), "show node n1\n");
}

TEST_F(SlurmHealthCliTest, ResumesWhenClearedOnlyIfAionDrained) {
  set_node("IDLE+DRAIN", "aion: GPU 1 (0000:02:00.0) reported Xid 79");
  auto r = aion("healthcheck");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(calls(), "show node n1\nupdate nodename=n1 state=resume\n");

  set_node("IDLE+DRAIN", "admin: replacing DIMMs");
  r = aion("healthcheck");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(calls(), "show node n1\n");

  mark_unhealthy("GPU 1 reported Xid 79");
  r = aion("healthcheck");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(calls(), "show node n1\n");
}

TEST_F(SlurmHealthCliTest, GresConfListingAMissingGpuDrains) {
  // Three GPUs expected, two on the bus; their device nodes exist (existence is all the local
  // check asks of them, so plain files stand in).
  const fs::path dev = dir_ / "dev";
  fs::create_directories(dev);
  std::ofstream(dev / "nvidia0") << "";
  std::ofstream(dev / "nvidia1") << "";
  std::ofstream(dir_ / "gres.conf")
      << "Name=gpu Type=rtx_4090 File=" << dev.string() << "/nvidia[0-2]\n";
  auto r = aion("healthcheck",
                {"--gres-conf", (dir_ / "gres.conf").string(), "--dev-dir", dev.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  EXPECT_EQ(calls(), "show node n1\nupdate nodename=n1 state=drain reason=aion: GPU " +
                         dev.string() +
                         "/nvidia2 from gres.conf line 1 was not found on the PCI bus (+1 more)\n");
  // A device node that disappears is a fault too.
  fs::remove(dev / "nvidia1");
  r = aion("healthcheck",
           {"--dry-run", "--gres-conf", (dir_ / "gres.conf").string(), "--dev-dir", dev.string()});
  EXPECT_NE(r.out.find("fault   [local] device node " + dev.string() +
                       "/nvidia1 of gres.conf line 1 is missing"),
            std::string::npos)
      << r.out;
}

TEST_F(SlurmHealthCliTest, MalformedGresConfIsAnErrorNamingFileLineAndField) {
  const std::string path = (dir_ / "gres.conf").string();
  std::ofstream(path) << "# ok\nName=gpu File=/dev/nvidia0 Cores=zero\n";
  auto r = aion("healthcheck", {"--gres-conf", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(
      r.err.find("aion: " + path +
                 ":2: field 'Cores': 'zero' is not a list of numbers and ranges (e.g. 0-3,8)\n"),
      std::string::npos)
      << r.err;
  EXPECT_EQ(calls(), "");  // nothing was decided on a file aion could not read
}

TEST_F(SlurmHealthCliTest, PrologFailsOnlyForAFaultOnTheJobsGpusOrTheNode) {
  auto r = aion("prolog", {}, {{"SLURM_JOB_GPUS", "0,1"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = aion("prolog", {}, {{"SLURM_JOB_GPUS", "5"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("aion prolog: the job's GPU 5 was not found\n"), std::string::npos) << r.err;
  mark_unhealthy("node marked unhealthy by remediation");
  r = aion("epilog", {}, {{"SLURM_JOB_GPUS", "0"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("aion epilog: node marked unhealthy by remediation\n"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace aion::cluster
