// The scheduler end to end, as a user drives it: the real aiond (as root, with simulated GPUs
// and this machine's cgroups) and the real `aion run/submit/ps/show/cancel`.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/fixtures.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Skips unless root on a machine whose cgroups aiond can use.
bool cgroups_usable(std::string& why) {
  if (::geteuid() != 0) {
    why = "needs root (cgroups, mknod)";
    return false;
  }
  bool v1 = fs::exists("/sys/fs/cgroup/cpuset/cpuset.cpus") &&
            fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  bool v2 = fs::exists("/sys/fs/cgroup/cgroup.controllers") &&
            slurp("/sys/fs/cgroup/cgroup.controllers").find("memory") != std::string::npos;
  if (!v1 && !v2) {
    why = "no usable cgroup hierarchy (neither v1 cpuset+memory nor v2 with memory)";
    return false;
  }
  return true;
}

class SchedDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!cgroups_usable(why)) GTEST_SKIP() << why;
    parent_ = "aion.test." + std::to_string(::getpid()) + "." +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
    // Two simulated GPUs, each standing for a dummy character device of its own.
    for (int i = 0; i < 2; ++i) {
      fs::path node = h_.dir() / ("gpu" + std::to_string(i));
      ASSERT_EQ(::mknod(node.c_str(), S_IFCHR | 0666, makedev(240, i)), 0) << strerror(errno);
    }
    std::string toml =
        "[sched]\ncpu_overcommit = 32\nreserved_memory = \"0\"\n"
        "kill_grace_s = 2\ncgroup_parent = \"" +
        parent_ + "\"\n";
    for (int i = 0; i < 2; ++i) {
      toml += "[[simulate.gpu]]\nmodel = \"A100-SXM4-80GB\"\npci_address = \"fffe:0" +
              std::to_string(i) + ":00.0\"\ndevice_nodes = [\"" +
              (h_.dir() / ("gpu" + std::to_string(i))).string() + "\"]\n";
    }
    h_.write_config(toml);
    auto st = h_.start();
    ASSERT_TRUE(st) << st.error().message() << h_.log();
  }

  void TearDown() override {
    if (h_.running()) {
      h_.signal(SIGTERM);
      h_.wait();
    }
    // A skipped test made no cgroup: with no parent below the roots, the loop below would
    // kill every process of every cgroup on the machine.
    if (parent_.empty()) return;
    // Jobs outlive aiond by design; the tests' must not outlive the test.
    for (const char* root :
         {"/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/devices",
          "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/blkio",
          "/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
      fs::path base = fs::path(root) / parent_;
      std::error_code ec;
      if (!fs::is_directory(base, ec)) continue;
      // Killed processes leave their cgroup a moment later; retry until it can go.
      for (int tries = 0; tries < 30 && fs::is_directory(base, ec); ++tries) {
        for (const auto& e : fs::directory_iterator(base, ec)) {
          if (!e.is_directory()) continue;
          std::ifstream procs(e.path() / "cgroup.procs");
          pid_t pid;
          while (procs >> pid) ::kill(pid, SIGKILL);
        }
        std::this_thread::sleep_for(100ms);
        for (const auto& e : fs::directory_iterator(base, ec)) {
          if (e.is_directory()) ::rmdir(e.path().c_str());
        }
        ::rmdir(base.c_str());
      }
    }
  }

  Exit aion(std::vector<std::string> args, std::chrono::seconds timeout = 60s) {
    args.insert(args.begin(), {DaemonHarness::aion_path(), "--socket", h_.socket().string()});
    return run_program(args, std::nullopt, timeout);
  }

  Json job(long long id) {
    auto c = h_.client();
    EXPECT_TRUE(c);
    auto r = c->get("/v1/jobs/" + std::to_string(id));
    EXPECT_TRUE(r && r->status == 200);
    return Json::parse(r ? r->body : "{}");
  }

  // Waits until the job is in one of `states`; returns it.
  Json wait_for(long long id, std::set<std::string> states, std::chrono::seconds limit = 30s) {
    auto until = std::chrono::steady_clock::now() + limit;
    Json j;
    while (std::chrono::steady_clock::now() < until) {
      j = job(id);
      if (states.contains(j.value("state", ""))) return j;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "job " << id << " still " << j.dump() << "\n" << h_.log();
    return j;
  }

  long long submit(std::vector<std::string> args) {
    args.insert(args.begin(), "submit");
    Exit e = aion(args);
    EXPECT_EQ(e.code, 0) << e.out;
    return std::atoll(e.out.c_str());
  }

  DaemonHarness h_;
  std::string parent_;
};

TEST_F(SchedDaemonTest, RunStreamsOutputAndPassesTheExitStatusOn) {
  Exit ok = aion({"run", "--", "sh", "-c", "echo hello from $AION_JOB_ID; exit 0"});
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("hello from "), std::string::npos) << ok.out;
  Exit bad = aion({"run", "--", "sh", "-c", "echo failing >&2; exit 7"});
  EXPECT_EQ(bad.code, 7) << bad.out;
  EXPECT_NE(bad.out.find("failing"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("exited with status 7"), std::string::npos) << bad.out;
}

TEST_F(SchedDaemonTest, JobCgroupHasExactlyItsCpusAndMemoryLimit) {
  long long id = submit({"--cpus", "1", "--mem", "100M", "--", "sleep", "30"});
  Json j = wait_for(id, {"running"});
  ASSERT_TRUE(j["allocation"].is_object()) << j.dump();
  auto cpus = j["allocation"]["cpus"].get<std::vector<int>>();
  ASSERT_EQ(cpus.size(), 1u);
  // The command's pid appears once the shim has started it.
  pid_t pid = 0;
  for (int i = 0; i < 100 && pid == 0; ++i) {
    std::ifstream(h_.state_dir() / "jobs" / std::to_string(id) / "pid") >> pid;
    if (pid == 0) std::this_thread::sleep_for(50ms);
  }
  ASSERT_GT(pid, 0);
  // The shim records the pid right after fork; the child joins the cgroup, then execs.
  std::string status;
  for (int i = 0; i < 100; ++i) {
    status = slurp("/proc/" + std::to_string(pid) + "/status");
    if (status.rfind("Name:\tsleep\n", 0) == 0) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(status.find("Cpus_allowed_list:\t" + std::to_string(cpus[0]) + "\n"), std::string::npos)
      << status;
  std::string cg = "job-" + std::to_string(id);
  if (fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
    EXPECT_EQ(trim(slurp("/sys/fs/cgroup/cpuset/" + parent_ + "/" + cg + "/cpuset.cpus")),
              std::to_string(cpus[0]));
    EXPECT_EQ(trim(slurp("/sys/fs/cgroup/memory/" + parent_ + "/" + cg + "/memory.limit_in_bytes")),
              "104857600");
  } else {
    EXPECT_EQ(trim(slurp("/sys/fs/cgroup/" + parent_ + "/" + cg + "/memory.max")), "104857600");
  }
  Exit c = aion({"cancel", std::to_string(id)});
  EXPECT_EQ(c.code, 0) << c.out;
  Json done = wait_for(id, {"cancelled"});
  EXPECT_NE(done.value("reason", "").find("cancelled by"), std::string::npos) << done.dump();
}

// A cancel that arrives while the job is still being started (no command, no process group
// yet) still ends it with SIGTERM, not only with SIGKILL after the grace period.
TEST_F(SchedDaemonTest, ACancelRightAfterSubmitEndsTheJobWithSigterm) {
  for (int i = 0; i < 5; ++i) {
    long long id = submit({"--", "sleep", "60"});
    Exit c = aion({"cancel", std::to_string(id)});
    EXPECT_EQ(c.code, 0) << c.out;
    Json done = wait_for(id, {"cancelled"});
    EXPECT_EQ(done["signal"], SIGTERM) << done.dump() << h_.log();
  }
}

TEST_F(SchedDaemonTest, PastItsMemoryLimitAJobIsOomKilledAndReportedSo) {
  // dd allocates its 256 MiB buffer and fills it from /dev/zero: past a 64 MiB limit.
  Exit e = aion(
      {"run", "--mem", "64M", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"});
  EXPECT_EQ(e.code, 128 + SIGKILL) << e.out;
  EXPECT_NE(e.out.find("OOM"), std::string::npos) << e.out;
  Exit ps = aion({"--json", "ps", "-a"});
  Json jobs = Json::parse(ps.out)["jobs"];
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["state"], "failed");
  EXPECT_TRUE(jobs[0]["oom_killed"].get<bool>()) << jobs[0].dump();
  auto c = h_.client();
  auto ev = c->get("/v1/events?kind=job");
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->body.find("OOM killer"), std::string::npos) << ev->body;
}

TEST_F(SchedDaemonTest, AJobCannotOpenTheDeviceOfAGpuItWasNotGiven) {
  std::string g0 = (h_.dir() / "gpu0").string(), g1 = (h_.dir() / "gpu1").string();
  Exit e = aion({"run", "--gpus", "1", "--", "sh", "-c",
                 "echo gpus=$AION_GPUS cuda=$CUDA_VISIBLE_DEVICES; for f in " + g0 + " " + g1 +
                     "; do cat $f; done 2>&1; true"});
  ASSERT_EQ(e.code, 0) << e.out;
  bool got0 = e.out.find("gpus=fffe:00:00.0") != std::string::npos;
  bool got1 = e.out.find("gpus=fffe:01:00.0") != std::string::npos;
  ASSERT_TRUE(got0 != got1) << e.out;
  const std::string& mine = got0 ? g0 : g1;
  const std::string& other = got0 ? g1 : g0;
  // Its own node is allowed by the cgroup (no driver behind it: ENXIO); the other is denied.
  EXPECT_NE(e.out.find(mine + ": No such device or address"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find(other + ": Operation not permitted"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find(got0 ? "cuda=0" : "cuda=1"), std::string::npos) << e.out;
}

TEST_F(SchedDaemonTest, BadRequestsAreRefusedAtSubmitAndNothingIsQueued) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {{"--gpus", "9", "--", "true"}, "9 GPUs"},
           {{"--gpus", "1", "--gpu-model", "H100", "--", "true"}, "H100"},
           {{"--gpu-model", "A100", "--", "true"}, "asks for no GPU"},
           {{"--mem", "-5G", "--", "true"}, "negative"},
           {{"--mem", "lots", "--", "true"}, "invalid size"},
           {{"--gpus", "-1", "--", "true"}, "gpus"},
           {{"--cpus", "100000", "--", "true"}, "CPU"},
           {{"--", "no-such-command-aion-test"}, "no such command"},
           {{"--queue", "nope", "--", "true"}, "no queue named"},
       }) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), "submit");
    Exit e = aion(args);
    EXPECT_EQ(e.code, 2) << e.out;
    EXPECT_NE(e.out.find(c.says), std::string::npos) << "expected '" << c.says << "' in: " << e.out;
  }
  Exit ps = aion({"--json", "ps", "-a"});
  EXPECT_EQ(Json::parse(ps.out)["jobs"].size(), 0u) << ps.out;
}

// Per-job usage from the job's cgroup reaches /metrics: CPU time, memory, block I/O.
TEST_F(SchedDaemonTest, JobCgroupUsageIsServedAsJobMetrics) {
  fs::path data = h_.dir() / "data";
  long long id = submit({"--mem", "200M", "--", "sh", "-c",
                         "dd if=/dev/zero of=" + data.string() +
                             " bs=1M count=4 oflag=direct 2>/dev/null; dd if=" + data.string() +
                             " of=/dev/null bs=1M iflag=direct 2>/dev/null; i=0; while [ $i "
                             "-lt 2000000 ]; do i=$((i+1)); done; sleep 30"});
  wait_for(id, {"running"});
  auto c = h_.client();
  ASSERT_TRUE(c);
  const std::string label = "job=\"" + std::to_string(id) + "\"";
  auto value = [&](const std::string& text, const std::string& name) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(name + "{", 0) == 0 && line.find(label) != std::string::npos)
        return std::atof(line.substr(line.rfind(' ') + 1).c_str());
    }
    return -1.0;
  };
  std::string text;
  auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until) {
    auto m = c->get("/metrics");
    ASSERT_TRUE(m && m->status == 200);
    text = m->body;
    // A fixed amount of work (about a second of CPU here), so a loaded machine only delays it.
    if (value(text, "aion_job_cpu_seconds_total") >= 0.3) break;
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_GE(value(text, "aion_job_cpu_seconds_total"), 0.3) << text;
  EXPECT_GT(value(text, "aion_job_memory_peak_bytes"), 0) << text;
  // The I/O series are there; their values depend on the kernel: cgroup v2 io.stat counts
  // all block I/O, v1 blkio.throttle.* on recent kernels only I/O to devices with a limit.
  EXPECT_GE(value(text, "aion_job_io_written_bytes_total"), 0) << text;
  EXPECT_GE(value(text, "aion_job_io_read_bytes_total"), 0) << text;
  // Who ran it stays off the exposition unless telemetry.exposition_identity_labels says so.
  EXPECT_EQ(text.find("user=\"root\""), std::string::npos) << text;
  aion({"cancel", std::to_string(id)});
  wait_for(id, {"cancelled"});
}

TEST_F(SchedDaemonTest, QueueSaysWhyAJobWaits) {
  long long blocker = submit({"--gpus", "2", "--", "sleep", "30"});
  wait_for(blocker, {"running"});
  long long waiting = submit({"--gpus", "1", "--", "true"});
  std::this_thread::sleep_for(300ms);
  Exit q = aion({"queue"});
  EXPECT_EQ(q.code, 0) << q.out;
  EXPECT_NE(q.out.find(std::to_string(waiting)), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("GPU"), std::string::npos) << q.out;
  aion({"cancel", std::to_string(blocker)});
  Json j = wait_for(waiting, {"completed"});
  EXPECT_EQ(j["state"], "completed");
}

TEST_F(SchedDaemonTest, HigherPriorityPreemptsAndTheVictimIsRequeued) {
  long long low = submit({"--gpus", "2", "--requeue", "--", "sh", "-c",
                          "trap 'echo got TERM; exit 143' TERM; sleep 30 & wait"});
  wait_for(low, {"running"});
  // The preemptor holds the GPUs until the test opens its gate, so the victim's requeued
  // state is observed however slowly a loaded machine runs the steps.
  fs::path gate = h_.dir() / "gate";
  long long high = submit({"--gpus", "2", "--priority", "10", "--", "sh", "-c",
                           "while [ ! -e " + gate.string() + " ]; do sleep 0.05; done"});
  wait_for(high, {"running"}, 60s);
  Json l = wait_for(low, {"pending"}, 60s);
  EXPECT_EQ(l["restarts"], 1) << l.dump() << h_.log();
  EXPECT_EQ(job(high)["state"], "running");
  std::ofstream(gate).put('\n');
  wait_for(high, {"completed"}, 60s);
  wait_for(low, {"running"}, 60s);  // back once the GPUs are free
  aion({"cancel", std::to_string(low)});
  wait_for(low, {"cancelled"}, 60s);
  auto c = h_.client();
  ASSERT_TRUE(c);
  auto ev = c->get("/v1/events?kind=job");
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->body.find("preempted by job " + std::to_string(high)), std::string::npos)
      << ev->body;
}

TEST_F(SchedDaemonTest, SigkillOfAiondWith20RunningJobsLosesNothingAndRunsNothingTwice) {
  fs::path marks = h_.dir() / "marks";
  fs::create_directories(marks);
  // Every job runs until the test opens the gate, so all 20 are surely running when aiond
  // is killed, however long a loaded machine takes to submit and start them.
  fs::path gate = h_.dir() / "gate";
  std::string wait_gate = "while [ ! -e " + gate.string() + " ]; do sleep 0.1; done";
  std::vector<long long> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(submit(
        {"--", "sh", "-c", "echo started >> " + marks.string() + "/$AION_JOB_ID; " + wait_gate}));
  }
  // Pending jobs too: they wait behind a job holding both GPUs.
  long long blocker = submit({"--gpus", "2", "--", "sh", "-c", wait_gate});
  std::vector<long long> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(submit({"--gpus", "1", "--", "true"}));
  for (long long id : ids) wait_for(id, {"running"}, 60s);
  wait_for(blocker, {"running"}, 60s);

  h_.signal(SIGKILL);
  h_.wait();
  auto st = h_.start();
  ASSERT_TRUE(st) << st.error().message() << h_.log();
  std::ofstream(gate).put('\n');

  int completed = 0, lost = 0;
  for (long long id : ids) {
    Json j = wait_for(id, {"completed", "lost", "failed"}, 60s);
    if (j["state"] == "completed") ++completed;
    if (j["state"] == "lost") ++lost;
    EXPECT_NE(j["state"], "failed") << j.dump();
    EXPECT_EQ(slurp(marks / std::to_string(id)), "started\n") << "job " << id << " ran twice";
  }
  EXPECT_EQ(completed, 20) << lost << " lost";
  std::printf("after SIGKILL of aiond: %d jobs re-adopted and completed, %d lost\n", completed,
              lost);
  EXPECT_EQ(wait_for(blocker, {"completed"}, 60s)["state"], "completed");
  for (long long id : queued) EXPECT_EQ(wait_for(id, {"completed"}, 60s)["state"], "completed");
  Exit ps = aion({"--json", "ps", "-a", "--limit", "1000"});
  EXPECT_EQ(Json::parse(ps.out)["jobs"].size(), 26u) << ps.out;
}

TEST_F(SchedDaemonTest, ADrainedGpuStaysDrainedAcrossARestartUntilUndrained) {
  Exit d = aion({"admin", "drain", "0", "--reason", "Xid 79 at 03:12"});
  ASSERT_EQ(d.code, 0) << d.out;
  Exit bad = aion({"admin", "drain", "9"});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("GPUs: 0 = fffe:00:00.0, 1 = fffe:01:00.0"), std::string::npos) << bad.out;

  h_.signal(SIGTERM);
  h_.wait();
  auto st = h_.start();
  ASSERT_TRUE(st) << st.error().message() << h_.log();
  auto c = h_.client();
  ASSERT_TRUE(c);
  auto r = c->get("/v1/sched");
  ASSERT_TRUE(r && r->status == 200);
  Json sched = Json::parse(r->body);
  EXPECT_EQ(sched["gpus"][0]["drained"], "Xid 79 at 03:12") << r->body;
  EXPECT_TRUE(sched["gpus"][1]["drained"].is_null()) << r->body;

  // Both GPUs: waits for the drained one. One GPU: gets the other.
  long long both = submit({"--gpus", "2", "--", "true"});
  Exit one = aion({"run", "--gpus", "1", "--", "sh", "-c", "echo $AION_GPUS"});
  EXPECT_EQ(one.code, 0) << one.out;
  EXPECT_NE(one.out.find("fffe:01:00.0"), std::string::npos) << one.out;
  EXPECT_EQ(job(both)["state"], "pending");

  Exit u = aion({"admin", "undrain", "fffe:00:00.0"});
  EXPECT_EQ(u.code, 0) << u.out;
  EXPECT_EQ(wait_for(both, {"completed"})["state"], "completed");
}

// aiond dies after it chose a job and stored it as running, before the job's shim recorded
// itself: the command never ran. Simulated by killing the shim and forgetting it (no stored
// pid, no shim.pid); the restarted aiond finds no shim holding the job's lock and puts the job
// back in the queue, and it then runs exactly once.
TEST_F(SchedDaemonTest, AJobWhoseShimNeverStartedWhenAiondDiedIsRequeuedAndRunsOnce) {
  fs::path marks = h_.dir() / "marks";
  fs::path gate = h_.dir() / "gate";
  long long id = submit({"--", "sh", "-c",
                         "echo started >> " + marks.string() + "; while [ ! -e " + gate.string() +
                             " ]; do sleep 0.05; done"});
  wait_for(id, {"running"});
  fs::path dir = h_.state_dir() / "jobs" / std::to_string(id);
  for (int i = 0; i < 100 && !fs::exists(marks); ++i) std::this_thread::sleep_for(50ms);
  pid_t shim = 0, pid = 0;
  std::ifstream(dir / "shim.pid") >> shim;
  std::ifstream(dir / "pid") >> pid;
  ASSERT_GT(shim, 0) << slurp(dir / "shim.log");
  ASSERT_GT(pid, 0) << slurp(dir / "shim.log");
  h_.signal(SIGKILL);
  h_.wait();
  ::kill(shim, SIGKILL);
  ::kill(-pid, SIGKILL);
  std::this_thread::sleep_for(200ms);
  fs::remove(dir / "shim.pid");
  fs::remove(marks);
  Exit forget = run_program(
      {"/usr/bin/sqlite3", (h_.state_dir() / "aion.db").string(),
       "UPDATE jobs SET shim_pid = 0, shim_start = 0, pid = 0 WHERE id = " + std::to_string(id)},
      std::nullopt, 30s);
  ASSERT_EQ(forget.code, 0) << "sqlite3 (scripts/setup.sh installs it): " << forget.out;

  auto st = h_.start();
  ASSERT_TRUE(st) << st.error().message() << h_.log();
  wait_for(id, {"running"});
  for (int i = 0; i < 100 && !fs::exists(marks); ++i) std::this_thread::sleep_for(50ms);
  std::ofstream(gate).put('\n');
  Json done = wait_for(id, {"completed", "failed", "lost"});
  EXPECT_EQ(done["state"], "completed") << done.dump() << h_.log();
  EXPECT_EQ(done["restarts"], 0) << done.dump();
  EXPECT_EQ(slurp(marks), "started\n");
  EXPECT_NE(h_.log().find("event=job_requeued id=" + std::to_string(id)), std::string::npos)
      << h_.log();
}

// `aion run --accel KIND:N` on the generated node with NPUs, vector engines and MLUs: the job
// gets two NPUs from under one PCIe switch and sees them in Ascend's variable, while a job
// asking for GPUs is refused with what the node has. No cgroups needed, so any user runs it.
TEST(AccelJobTest, ANpuJobGetsTwoNpusUnderOneSwitchAndTheirVariable) {
  DaemonHarness h;
  h.set_env("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1");
  h.write_config("[sched]\ncgroups = false\nkill_grace_s = 1\n");
  auto st = h.start({"--host-root", fixture_path("hw/hetero/root").string()});
  ASSERT_TRUE(st) << st.error().message() << h.log();
  auto aion = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {DaemonHarness::aion_path(), "--socket", h.socket().string()});
    return run_program(args);
  };
  Exit npu = aion({"run", "--accel", "npu:2", "--", "sh", "-c",
                   "echo npus=$ASCEND_RT_VISIBLE_DEVICES mlu=[$MLU_VISIBLE_DEVICES] "
                   "gpus=$AION_GPUS"});
  EXPECT_EQ(npu.code, 0) << npu.out << h.log();
  EXPECT_NE(npu.out.find("npus=0,1 mlu=[] gpus=0000:03:00.0,0000:04:00.0"), std::string::npos)
      << npu.out;
  Exit gpus = aion({"run", "--gpus", "1", "--", "true"});
  EXPECT_NE(gpus.code, 0);
  EXPECT_NE(gpus.out.find("--accel KIND:N"), std::string::npos) << gpus.out;
  Exit bad = aion({"run", "--accel", "npu", "--", "true"});
  EXPECT_EQ(bad.code, 2) << bad.out;
}

// GPU shares on NVIDIA GPUs: aiond reads per-process GPU memory through NVML (the fake
// library, on the generated DGX A100-like machine) and stops a job that uses more than its
// share. No cgroups needed, so this runs as any user.
TEST(GpuShareTest, AJobUsingMoreThanItsGpuMemoryShareIsStoppedWithAnEvent) {
  DaemonHarness h;
  std::string fx = fixture_path("hw/dgx-a100").string();
  fs::path nvml = h.dir() / "nvml.json";
  fs::copy_file(fx + "/nvml.json", nvml);
  h.set_env("AION_NVML_LIBRARY", FAKE_NVML_PATH);
  h.set_env("AION_FAKE_NVML", nvml.string());
  h.write_config("[sched]\ncgroups = false\ngpu_memory_check_s = 1\nkill_grace_s = 1\n");
  auto st = h.start({"--host-root", fx + "/root"});
  ASSERT_TRUE(st) << st.error().message() << h.log();
  auto aion = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {DaemonHarness::aion_path(), "--socket", h.socket().string()});
    return run_program(args);
  };
  Exit sub = aion({"submit", "--gpu-fraction", "0.25", "--gpu-mem", "10G", "--", "sleep", "30"});
  ASSERT_EQ(sub.code, 0) << sub.out;
  long long id = std::atoll(sub.out.c_str());
  auto c = h.client();
  ASSERT_TRUE(c);
  auto get_job = [&] { return Json::parse(c->get("/v1/jobs/" + std::to_string(id))->body); };
  Json job;
  pid_t pid = 0;
  for (int i = 0; i < 200 && pid == 0; ++i) {
    job = get_job();
    std::ifstream(h.state_dir() / "jobs" / std::to_string(id) / "pid") >> pid;
    if (pid == 0) std::this_thread::sleep_for(50ms);
  }
  ASSERT_GT(pid, 0) << job.dump() << h.log();
  ASSERT_EQ(job["state"], "running") << job.dump();
  int gpu = job["allocation"]["gpus"][0];
  std::string addr = Json::parse(c->get("/v1/sched")->body)["gpus"][gpu]["pci_address"];

  auto set_usage = [&](unsigned long long bytes) {
    Json j;
    std::ifstream(nvml) >> j;
    for (auto& g : j["gpus"]) {
      std::string bus = g["bus_id"];
      for (auto& ch : bus) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      g["processes"] = Json::array();
      if (bus.substr(4) == addr) g["processes"].push_back({{"pid", pid}, {"used_memory", bytes}});
    }
    std::ofstream(nvml.string() + ".tmp") << j.dump();
    fs::rename(nvml.string() + ".tmp", nvml);
  };
  set_usage(5ull << 30);  // within its share: measured, not stopped
  std::this_thread::sleep_for(2500ms);
  job = get_job();
  EXPECT_EQ(job["state"], "running") << job.dump();
  EXPECT_EQ(job["usage"]["gpu_memory_peak_bytes"], 5ull << 30) << job.dump();

  set_usage(12ull << 30);  // past its 10 GiB share
  for (int i = 0; i < 200 && job["state"] == "running"; ++i) {
    std::this_thread::sleep_for(50ms);
    job = get_job();
  }
  EXPECT_EQ(job["state"], "failed") << job.dump();
  EXPECT_NE(job.value("reason", "").find("more than its 10.0 GiB share"), std::string::npos)
      << job.dump();
  EXPECT_EQ(job["usage"]["gpu_memory_peak_bytes"], 12ull << 30) << job.dump();
  auto ev = c->get("/v1/events?kind=job");
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->body.find("12.0 GiB of GPU memory"), std::string::npos) << ev->body;
}

}  // namespace
}  // namespace aion::testing
