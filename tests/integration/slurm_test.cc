// A real single-node Slurm (Debian's munge, slurmctld, slurmd on 127.0.0.1) runs with the
// NodeName line and gres.conf that aion writes for the generated workstation (2 GPUs) over
// dummy device nodes made with mknod: `srun --gres=gpu:N` gets the right CUDA_VISIBLE_DEVICES,
// aion's prolog/epilog pass on the healthy node, a recorded GPU fault (the diagnose module's
// unhealthy marker) makes `aion slurm healthcheck` drain the node with aion's reason in
// `sinfo -R`, and clearing it resumes the node. A job's `--comment aion-tune=PROFILE` makes
// the prolog tune the (copied) node tree and the epilog restore it. Skips, saying why, without root
// or the packages.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/process.h"
#include "support/fixtures.h"
#include "support/sockets.h"
#include "support/temp_dir.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kNode = "aiontest";
const char* const kPrograms[] = {"/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd",
                                 "/usr/bin/srun",    "/usr/bin/sinfo",      "/usr/bin/scontrol",
                                 "/usr/bin/squeue"};

using aion::testing::free_port;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The daemons this test starts, stopped (TERM, then KILL) and reaped in reverse order.
class Daemons {
 public:
  ~Daemons() {
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) {
      ::kill(*it, SIGTERM);
      for (int i = 0; i < 50 && ::waitpid(*it, nullptr, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(100ms);
      if (::kill(*it, 0) == 0) {
        ::kill(*it, SIGKILL);
        ::waitpid(*it, nullptr, 0);
      }
    }
  }
  // Starts argv in the foreground with output to log; returns false when fork fails.
  bool start(const std::vector<std::string>& argv, const fs::path& log) {
    pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> a;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      ::_exit(127);
    }
    pids_.push_back(pid);
    return true;
  }
  bool alive(std::size_t i) const { return ::waitpid(pids_[i], nullptr, WNOHANG) == 0; }

 private:
  std::vector<pid_t> pids_;
};

class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* p : kPrograms) {
      if (!fs::exists(p)) {
        GTEST_SKIP() << p << " is missing: install Debian's munge, slurmctld, slurmd and "
                     << "slurm-client packages (scripts/setup.sh does)";
      }
    }
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (slurmd, mknod); run as root to include it";
    tmp_.emplace("slurm-it");
    dir_ = tmp_->path();
    for (const char* d : {"state", "spool", "dev", "log", "aion-state/health"})
      fs::create_directories(dir_ / d);
    tmp_->make_reachable();
    std::ofstream(dir_ / "aion.toml") << "";
    // The generated workstation, copied so that the prolog may tune it, with the kernel knobs
    // of the generated tuning host (sysctls, THP) added.
    const auto opts = fs::copy_options::recursive | fs::copy_options::copy_symlinks |
                      fs::copy_options::skip_existing;
    fs::copy(hw_fixture_root("workstation"), root(), opts);
    fs::copy(fixture_path("tune/host/proc/sys"), root() / "proc/sys", opts);
    fs::create_directories(root() / "sys/kernel");
    fs::copy(fixture_path("tune/host/sys/kernel/mm"), root() / "sys/kernel/mm", opts);
  }
  void TearDown() override {
    daemons_.reset();
    if (tmp_ && HasFailure()) {
      tmp_->keep();
      std::printf("logs kept in %s\n", dir_.c_str());
    }
  }

  fs::path root() const { return dir_ / "root"; }
  std::string fixture() const { return root().string(); }
  std::string conf() const { return (dir_ / "slurm.conf").string(); }

  ProcessResult run(std::vector<std::string> argv) {
    auto r = run_process({.argv = argv,
                          .env_set = {{"SLURM_CONF", conf()},
                                      {"AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}},
                          .timeout = 30s});
    EXPECT_TRUE(r) << argv[0] << ": " << r.error().message();
    return r ? *r : ProcessResult{};
  }
  // aion with the fixture, the test's config, state dir and device directory.
  ProcessResult aion(const std::string& command, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {std::string(AION_BIN_DIR) + "/aion",
                                     "--config",
                                     (dir_ / "aion.toml").string(),
                                     "--host-root",
                                     fixture(),
                                     "slurm",
                                     command,
                                     "--node",
                                     kNode,
                                     "--dev-dir",
                                     (dir_ / "dev").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  }
  std::vector<std::string> health_args() const {
    return {"--no-daemon", "--state-dir", (dir_ / "aion-state").string()};
  }
  std::string logs() const {
    std::string out;
    for (const char* f : {"munged.out", "slurmctld.out", "slurmd.out"})
      out += std::string("--- ") + f + "\n" + slurp(dir_ / "log" / f);
    return out;
  }
  // Polls sinfo until the node's state (lowercase, flags as sinfo prints them) matches.
  bool wait_state(const std::string& want, std::chrono::seconds limit, std::string& last) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      auto r = run({"/usr/bin/sinfo", "-h", "-N", "-o", "%T"});
      last = r.out;
      while (!last.empty() && last.back() == '\n') last.pop_back();
      if (last == want) return true;
      std::this_thread::sleep_for(250ms);
    }
    return false;
  }
  // A wrapper script, since Slurm runs Prolog/Epilog/HealthCheckProgram without arguments.
  fs::path wrapper(const std::string& command) {
    fs::path p = dir_ / ("aion-" + command + ".sh");
    std::ofstream out(p);
    // slurmd runs these with a clean environment: scontrol and aion find a slurm.conf that
    // is not /etc/slurm/slurm.conf only through SLURM_CONF.
    out << "#!/bin/sh\nSLURM_CONF=" << conf() << " AION_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1"
        << "\nexport SLURM_CONF AION_NVML_LIBRARY\nexec " << AION_BIN_DIR << "/aion --config "
        << (dir_ / "aion.toml").string() << " --host-root " << fixture() << " slurm " << command
        << " --node " << kNode << " --dev-dir " << (dir_ / "dev").string()
        << " --no-daemon --state-dir " << (dir_ / "aion-state").string() << "\n";
    out.close();
    fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
    return p;
  }

  std::optional<TempDir> tmp_;  // made once the test is known to run
  fs::path dir_;
  std::unique_ptr<Daemons> daemons_ = std::make_unique<Daemons>();
};

TEST_F(SlurmTest, AionGresGivesJobsTheirGpusAndHealthCheckDrainsAndResumes) {
  const auto t0 = std::chrono::steady_clock::now();
  // Dummy NVIDIA device nodes (major 195), as the driver would create them.
  for (int i = 0; i < 2; ++i) {
    const auto node = dir_ / "dev" / ("nvidia" + std::to_string(i));
    ASSERT_EQ(::mknod(node.c_str(), S_IFCHR | 0666, ::makedev(195, i)), 0) << node;
  }

  auto gres = aion("gres");
  ASSERT_EQ(gres.exit_code, 0) << gres.err;
  ASSERT_NE(gres.out.find("File=" + (dir_ / "dev").string() + "/nvidia1"), std::string::npos)
      << gres.out;
  std::ofstream(dir_ / "gres.conf") << gres.out;
  auto node = aion("node");
  ASSERT_EQ(node.exit_code, 0) << node.err;
  ASSERT_NE(node.out.find("Gres=gpu:rtx_4090:2"), std::string::npos) << node.out;
  std::string node_line = node.out.substr(0, node.out.find('\n'));

  // munge with a fresh key, on a private socket.
  {
    std::random_device rd;
    std::string key(1024, '\0');
    for (auto& c : key) c = static_cast<char>(rd());
    std::ofstream(dir_ / "munge.key", std::ios::binary) << key;
    fs::permissions(dir_ / "munge.key", fs::perms::owner_read);
  }
  const std::string d = dir_.string();
  ASSERT_TRUE(
      daemons_->start({"/usr/sbin/munged", "-F", "--force", "--key-file=" + d + "/munge.key",
                       "--socket=" + d + "/munge.sock", "--pid-file=" + d + "/munged.pid",
                       "--log-file=" + d + "/log/munged.log", "--seed-file=" + d + "/munged.seed"},
                      dir_ / "log" / "munged.out"));
  for (int i = 0; i < 50 && !fs::exists(dir_ / "munge.sock"); ++i)
    std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(fs::exists(dir_ / "munge.sock")) << logs();

  // The node line claims the fixture's 16 CPUs and 64 GiB, not this machine's:
  // config_overrides makes slurmd trust slurm.conf instead of draining for "low" resources.
  std::ofstream(conf()) << "ClusterName=aiontest\n"
                        << "SlurmctldHost=localhost(127.0.0.1)\n"
                        << "SlurmUser=root\nSlurmdUser=root\n"
                        << "AuthType=auth/munge\nCredType=cred/munge\n"
                        << "AuthInfo=socket=" << d << "/munge.sock\n"
                        << "StateSaveLocation=" << d << "/state\n"
                        << "SlurmdSpoolDir=" << d << "/spool\n"
                        << "SlurmctldPidFile=" << d << "/slurmctld.pid\n"
                        << "SlurmdPidFile=" << d << "/slurmd.pid\n"
                        << "SlurmctldLogFile=" << d << "/log/slurmctld.log\n"
                        << "SlurmdLogFile=" << d << "/log/slurmd.log\n"
                        << "SlurmctldPort=" << free_port() << "\n"
                        << "SlurmdPort=" << free_port() << "\n"
                        << "GresTypes=gpu\n"
                        << "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
                        << "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
                        << "SlurmdParameters=config_overrides\nReturnToService=2\n"
                        << "MpiDefault=none\nJobAcctGatherType=jobacct_gather/none\n"
                        << "AccountingStorageType=accounting_storage/none\n"
                        << "Prolog=" << wrapper("prolog").string() << "\n"
                        << "Epilog=" << wrapper("epilog").string() << "\n"
                        << "HealthCheckProgram=" << wrapper("healthcheck").string() << "\n"
                        << "HealthCheckInterval=2\nHealthCheckNodeState=ANY\n"
                        << node_line << " NodeAddr=127.0.0.1\n"
                        << "PartitionName=debug Nodes=" << kNode
                        << " Default=YES MaxTime=INFINITE State=UP\n";
  ASSERT_TRUE(daemons_->start({"/usr/sbin/slurmctld", "-D", "-i", "-f", conf()},
                              dir_ / "log" / "slurmctld.out"));
  ASSERT_TRUE(daemons_->start({"/usr/sbin/slurmd", "-D", "-f", conf(), "-N", kNode},
                              dir_ / "log" / "slurmd.out"));
  std::string state;
  ASSERT_TRUE(wait_state("idle", 30s, state))
      << "node state '" << state << "'\n"
      << logs() << slurp(dir_ / "log" / "slurmctld.log") << slurp(dir_ / "log" / "slurmd.log");

  // Jobs get the GPUs gres.conf describes, in its order.
  auto one = run({"/usr/bin/srun", "--gres=gpu:1", "/usr/bin/env"});
  ASSERT_EQ(one.exit_code, 0) << one.err << logs();
  EXPECT_NE(one.out.find("\nCUDA_VISIBLE_DEVICES=0\n"), std::string::npos) << one.out;
  auto two = run({"/usr/bin/srun", "--gres=gpu:2", "/usr/bin/env"});
  ASSERT_EQ(two.exit_code, 0) << two.err << logs();
  EXPECT_NE(two.out.find("\nCUDA_VISIBLE_DEVICES=0,1\n"), std::string::npos) << two.out;
  auto three = run({"/usr/bin/srun", "--immediate=5", "--gres=gpu:3", "/usr/bin/true"});
  EXPECT_NE(three.exit_code, 0) << "a third GPU does not exist on this node";

  // A job naming a tuning profile in its comment runs tuned (the prolog applied it to the
  // node's tree); its epilog rolls it back. A misspelt profile leaves the job untuned and the
  // node up.
  const fs::path swappiness = root() / "proc/sys/vm/swappiness";
  const fs::path thp = root() / "sys/kernel/mm/transparent_hugepage/enabled";
  const std::string thp_before = slurp(thp);
  ASSERT_EQ(slurp(swappiness), "60\n");
  auto tuned =
      run({"/usr/bin/srun", "--comment=aion-tune=ai-training", "/bin/cat", swappiness.string()});
  ASSERT_EQ(tuned.exit_code, 0) << tuned.err << logs() << slurp(dir_ / "log" / "slurmd.log");
  EXPECT_EQ(tuned.out.substr(0, tuned.out.find('\n')), "10");  // as written, no newline
  auto queue_empty = [&] {
    for (int i = 0; i < 100 && !run({"/usr/bin/squeue", "-h"}).out.empty(); ++i)
      std::this_thread::sleep_for(100ms);
    return run({"/usr/bin/squeue", "-h"}).out.empty();
  };
  ASSERT_TRUE(queue_empty());
  EXPECT_EQ(slurp(swappiness), "60\n");
  EXPECT_EQ(slurp(thp), thp_before);
  EXPECT_NE(slurp(dir_ / "aion-state" / "tune" / "holds.json").find("\"hold\": null"),
            std::string::npos);
  auto typo =
      run({"/usr/bin/srun", "--comment=aion-tune=ai-trainig", "/bin/cat", swappiness.string()});
  EXPECT_EQ(typo.exit_code, 0) << typo.err;
  EXPECT_EQ(typo.out, "60\n");
  ASSERT_TRUE(queue_empty());
  ASSERT_TRUE(wait_state("idle", 10s, state)) << state;

  // Healthy: the health check leaves the node alone.
  auto h = aion("healthcheck", health_args());
  EXPECT_EQ(h.exit_code, 0) << h.out << h.err;
  EXPECT_NE(h.out.find("checked 2 GPU(s) of " + d + "/gres.conf"), std::string::npos) << h.out;

  // A GPU fault recorded by the diagnose module's remediation: slurmd's own periodic run of
  // aion as HealthCheckProgram drains the node with aion's reason.
  // Jobs stay COMPLETING until their epilog has run; an epilog that saw the fault would drain
  // the node itself ("Epilog error"), so let them finish first.
  for (int i = 0; i < 100 && !run({"/usr/bin/squeue", "-h"}).out.empty(); ++i)
    std::this_thread::sleep_for(100ms);
  ASSERT_EQ(run({"/usr/bin/squeue", "-h"}).out, "");
  // Written as the diagnose module must write it: whole, by rename, so that a concurrent
  // health check never reads an empty marker.
  std::ofstream(dir_ / "aion-state" / "health" / "unhealthy.tmp")
      << "GPU 1 (0000:02:00.0) reported Xid 79 (fell off the bus)\n";
  fs::rename(dir_ / "aion-state" / "health" / "unhealthy.tmp",
             dir_ / "aion-state" / "health" / "unhealthy");
  ASSERT_TRUE(wait_state("drained", 20s, state)) << state << slurp(dir_ / "log" / "slurmd.log");
  auto reasons = run({"/usr/bin/sinfo", "-R", "-h", "-o", "%E|%N"});
  EXPECT_EQ(reasons.out, "aion: GPU 1 (0000:02:00.0) reported Xid 79 (fell off the bus)|" +
                             std::string(kNode) + "\n");
  // Run by hand it reports the fault (exit 1) and leaves the already drained node as it is.
  h = aion("healthcheck", health_args());
  EXPECT_EQ(h.exit_code, 1) << h.out << h.err;
  EXPECT_NE(h.out.find("action  none: fault present and the node is already drained for it"),
            std::string::npos)
      << h.out << h.err;
  // The prolog refuses jobs on the unhealthy node (Slurm would drain it for that too).
  auto p = run({wrapper("prolog").string()});
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.err.find("aion prolog: GPU 1 (0000:02:00.0) reported Xid 79"), std::string::npos)
      << p.err;

  // Cleared: the health check resumes the node it drained.
  fs::remove(dir_ / "aion-state" / "health" / "unhealthy");
  h = aion("healthcheck", health_args());
  EXPECT_EQ(h.exit_code, 0) << h.out << h.err;
  EXPECT_TRUE(wait_state("idle", 10s, state)) << state;
  EXPECT_EQ(run({"/usr/bin/sinfo", "-R", "-h"}).out, "");

  // A node an operator drained is not aion's to resume.
  run({"/usr/bin/scontrol", "update", std::string("nodename=") + kNode, "state=drain",
       "reason=admin: new DIMMs"});
  h = aion("healthcheck", health_args());
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(run({"/usr/bin/sinfo", "-R", "-h", "-o", "%E"}).out.find("admin: new DIMMs"),
            std::string::npos);

  EXPECT_TRUE(daemons_->alive(1) && daemons_->alive(2)) << logs();
  std::printf("slurm integration test body took %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace
}  // namespace aion::testing
