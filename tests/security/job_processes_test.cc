// A job's user against aiond's hold on its processes: a process of a GPU-share job that
// leaves the job's session (setsid) to use GPU memory beyond the share unpoliced; a wall
// clock stepped back to hold off the SIGKILL after SIGTERM; and, after a restart, a pid the
// job had before it that now belongs to another process, which aiond must not signal.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aion/core/clock.h"
#include "aion/core/host_fs.h"
#include "aion/sched/job_store.h"
#include "aion/sched/runner.h"
#include "aion/store/database.h"
#include "aion/store/event_log.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

extern char** environ;

namespace aion::sched {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr std::uint64_t kGiB = 1ull << 30;

class JobProcessesAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.jobs_dir = dir_ / "jobs";
    config_.shim = fs::path(AION_BIN_DIR) / "aion-shim";
    config_.cgroups = false;
    config_.tick = 100ms;
    config_.min_pass_interval = 1ms;
    config_.kill_grace = 5s;
    config_.cgroup_parent = "aion-sec-test-" + std::to_string(::getpid());
    inventory_.cpu.threads = 2;
    inventory_.memory.total_bytes = 8 * kGiB;
    open_store();
  }
  void TearDown() override {
    jobs_.reset();
    events_.reset();
    store_.reset();
  }
  void open_store() {
    std::vector<store::Migration> m;
    for (auto s : {store::EventLog::migrations(), JobManager::migrations()})
      m.insert(m.end(), s.begin(), s.end());
    auto db = store::Database::open({.path = dir_ / "aion.db"}, m);
    ASSERT_TRUE(db) << db.error().message();
    store_ = std::make_unique<store::Store>(std::move(*db));
    events_ = std::make_unique<store::EventLog>(*store_, clock_);
  }
  void make_manager(const Clock& clock) {
    jobs_ =
        std::make_unique<JobManager>(*store_, *events_, HostFs("/"), inventory_, config_, clock);
  }
  JobSpec spec(std::vector<std::string> command) {
    JobSpec s;
    s.command = std::move(command);
    s.cwd = "/";
    s.uid = ::geteuid();
    s.gid = ::getegid();
    s.user = "tester";
    return s;
  }
  // Polls the job until pred holds or `limit` passes; `tick` runs between polls.
  Job wait_job(std::int64_t id, const std::function<bool(const Job&)>& pred,
               std::chrono::milliseconds limit, const std::function<void()>& tick = {}) {
    auto until = std::chrono::steady_clock::now() + limit;
    Job j;
    while (std::chrono::steady_clock::now() < until) {
      auto r = jobs_->get(id);
      if (r) j = *r;
      if (r && pred(j)) return j;
      if (tick) tick();
      std::this_thread::sleep_for(20ms);
    }
    return j;
  }
  pid_t read_pid(const fs::path& file, std::chrono::milliseconds limit,
                 const std::function<void()>& tick = {}) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      pid_t pid = 0;
      std::ifstream(file) >> pid;
      if (pid > 0) return pid;
      if (tick) tick();
      std::this_thread::sleep_for(20ms);
    }
    return 0;
  }

  ::aion::testing::TempDir tmp_{"jobprocs"};
  fs::path dir_ = tmp_.path();
  RunnerConfig config_;
  hw::Inventory inventory_;
  SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::EventLog> events_;
  std::unique_ptr<JobManager> jobs_;
};

// The job ignores SIGTERM; the wall clock is then set back an hour. The SIGKILL is due a
// grace period after the SIGTERM on the monotonic clock, and comes then.
TEST_F(JobProcessesAttackTest, AWallClockSteppedBackDoesNotDelayTheKillAfterTheGrace) {
  ManualClock clock;
  make_manager(clock);
  ASSERT_TRUE(jobs_->start());
  auto job = jobs_->submit(spec({"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"}));
  ASSERT_TRUE(job) << job.error().message();
  auto nudge = [&] {
    clock.advance(10ms);
    jobs_->poke();
  };
  ASSERT_GT(read_pid(config_.jobs_dir / std::to_string(job->id) / "pid", 10s, nudge), 0);
  std::this_thread::sleep_for(200ms);  // the trap is set
  ASSERT_TRUE(jobs_->cancel(job->id, -1, true));
  clock.step_wall(-1h);
  clock.advance(config_.kill_grace + 1s);
  jobs_->poke();
  Job done = wait_job(
      job->id, [](const Job& j) { return is_terminal(j.state); }, 5s, nudge);
  EXPECT_EQ(done.state, JobState::kCancelled)
      << "the job ignoring SIGTERM was not killed after the grace: " << done.reason;
  EXPECT_EQ(done.signal, SIGKILL);
  jobs_->stop();
}

// A process outside any job (its own session and process group) gets a pid that aiond had
// recorded for a job before it stopped; the job's shim is gone. Recovering the job must not
// signal that process.
TEST_F(JobProcessesAttackTest, ARecordedPidNowOfAnotherProcessIsNotSignalledAfterARestart) {
  pid_t sleeper = 0;
  {
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    const char* argv[] = {"/bin/sleep", "60", nullptr};
    ASSERT_EQ(::posix_spawn(&sleeper, "/bin/sleep", nullptr, &attr, const_cast<char* const*>(argv),
                            environ),
              0);
    posix_spawnattr_destroy(&attr);
  }
  ASSERT_EQ(::getpgid(sleeper), sleeper);
  // The state a crashed aiond leaves: the job stored as running with the pids it had, its
  // files, and no shim any more.
  Job j;
  j.spec = spec({"/bin/sleep", "60"});
  j.spec.name = "victim-of-reuse";
  j.state = JobState::kRunning;
  j.submit_ms = j.start_ms = to_unix_ms(clock_.wall());
  j.allocation = Allocation{.cpus = {0}};
  j.pid = sleeper;
  j.shim_pid = sleeper;
  j.shim_start = 1;  // the shim's start time: not the sleeper's
  {
    JobStore store(*store_);
    ASSERT_TRUE(store.insert(j));
    j.state = JobState::kRunning;
    ASSERT_TRUE(store.update(j));
  }
  fs::path jd = config_.jobs_dir / std::to_string(j.id);
  fs::create_directories(jd);
  std::ofstream(jd / "launch") << "exe=/bin/sleep";
  std::ofstream(jd / "pid") << sleeper << "\n";
  std::ofstream(jd / "shim.pid") << sleeper << " 1\n";

  make_manager(clock_);
  ASSERT_TRUE(jobs_->start());
  auto got = jobs_->get(j.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, JobState::kLost) << got->reason;
  std::this_thread::sleep_for(300ms);
  int status = 0;
  pid_t w = ::waitpid(sleeper, &status, WNOHANG);
  EXPECT_EQ(w, 0) << "aiond signalled the unrelated process (pid " << sleeper << "): "
                  << (w == sleeper && WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "gone");
  ::kill(sleeper, SIGKILL);
  ::waitpid(sleeper, &status, 0);
  jobs_->stop();
}

// A job with a quarter of a GPU and 10 GiB of its memory starts a child that calls setsid and
// then uses 12 GiB on the GPU (the fake NVML reports the child's pid). The child is still in
// the job's cgroup: the job is stopped for going past its share.
TEST_F(JobProcessesAttackTest, AGpuShareJobWhoseChildCallsSetsidIsStillPoliced) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create job cgroups";
  auto caps = detect_cgroups(HostFs("/"));
  if (!caps || caps->version == CgroupVersion::kNone)
    GTEST_SKIP() << "no cgroup hierarchy on this machine";
  config_.cgroups = true;
  config_.gpu_check = 200ms;
  config_.kill_grace = 1s;
  // One NVIDIA GPU, answered for by the fake NVML from a file the test rewrites.
  Json doc;
  std::ifstream(::aion::testing::fixture_path("hw/dgx-a100/nvml.json")) >> doc;
  Json gpu = doc["gpus"][0];
  gpu.erase("nvlinks");
  gpu["processes"] = Json::array();
  doc["gpus"] = Json::array({gpu});
  fs::path nvml = dir_ / "nvml.json";
  auto write_nvml = [&] {
    std::ofstream(nvml.string() + ".tmp") << doc.dump();
    fs::rename(nvml.string() + ".tmp", nvml);
  };
  write_nvml();
  ::setenv("AION_NVML_LIBRARY", FAKE_NVML_PATH, 1);
  ::setenv("AION_FAKE_NVML", nvml.c_str(), 1);
  hw::Accelerator a;
  a.vendor = "nvidia";
  a.model = gpu["name"];
  a.pci.address = "0000:03:00.0";
  a.memory_bytes = gpu["memory_total"];
  a.uuid = gpu["uuid"];
  a.source = "nvml";
  inventory_.accelerators.push_back(a);
  make_manager(clock_);
  ASSERT_TRUE(jobs_->start());
  // The manager isolates with the hierarchy found above (not "off" or "none").
  ASSERT_EQ(jobs_->isolation_summary().rfind("cgroup v", 0), 0u) << jobs_->isolation_summary();

  fs::path child_pid = dir_ / "child.pid";
  JobSpec s =
      spec({"/bin/sh", "-c",
            "setsid /bin/sh -c 'echo $$ > " + child_pid.string() + "; exec sleep 60' & wait"});
  s.resources.gpu_fraction = 0.25;
  s.resources.gpu_memory_bytes = 10 * kGiB;
  auto job = jobs_->submit(s);
  ASSERT_TRUE(job) << job.error().message();
  pid_t child = read_pid(child_pid, 10s);
  ASSERT_GT(child, 0);
  pid_t shim = 0;
  std::ifstream(config_.jobs_dir / std::to_string(job->id) / "shim.pid") >> shim;
  ASSERT_EQ(::getsid(child), child) << "the child did not leave the shim's session";
  ASSERT_NE(::getsid(child), shim);
  std::stringstream where;
  where << std::ifstream("/proc/" + std::to_string(child) + "/cgroup").rdbuf();
  ASSERT_NE(where.str().find("/" + config_.cgroup_parent + "/job-" + std::to_string(job->id)),
            std::string::npos)
      << "the child is not in the job's cgroup: " << where.str();

  doc["gpus"][0]["processes"] = Json::array({{{"pid", child}, {"used_memory", 12 * kGiB}}});
  write_nvml();
  Job done = wait_job(
      job->id, [](const Job& j) { return is_terminal(j.state); }, 8s);
  EXPECT_EQ(done.state, JobState::kFailed) << "the setsid child's GPU memory went unpoliced";
  EXPECT_NE(done.reason.find("more than its 10.0 GiB share"), std::string::npos) << done.reason;
  EXPECT_EQ(done.usage.gpu_memory_peak_bytes, 12 * kGiB);
  // Gone, or a zombie waiting for whoever adopted it.
  std::string stat;
  for (int i = 0; i < 50; ++i) {
    std::ifstream f("/proc/" + std::to_string(child) + "/stat");
    stat.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (stat.empty() || stat.find(") Z") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(stat.empty() || stat.find(") Z") != std::string::npos)
      << "the setsid child outlived its job: " << stat;
  ::kill(child, SIGKILL);
  jobs_->stop();
  for (const auto& root :
       {caps->cpuset_root, caps->memory_root, caps->devices_root, caps->cpuacct_root,
        caps->pids_root, caps->blkio_root, caps->unified_root}) {
    std::error_code ec;
    if (!root.empty()) fs::remove(fs::path(root) / config_.cgroup_parent, ec);
  }
  ::unsetenv("AION_FAKE_NVML");
  ::unsetenv("AION_NVML_LIBRARY");
}

}  // namespace
}  // namespace aion::sched
