// Another user's private data through the real aiond: bob, a viewer on the unix socket,
// lists jobs, the queue, events, the event stream and incidents while alice's jobs carry
// secrets in their name, command line and working directory, and reads the logs routes
// while the kernel, root and alice write log lines. He must see none of it; alice sees her
// own. Then the forged fault: a user's journal entry with an Xid 79 text opens no incident,
// while the same text from the kernel does, with its drain-and-reset playbook.
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/fixtures.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr uid_t kAlice = 1000;
constexpr uid_t kBob = 65534;
// Every local user may connect (and is a viewer unless root or in the socket's group).
const std::string kViewersMayConnect = "[daemon]\nsocket_mode = \"0666\"\n";

// Runs `fn` in a child process that became `uid` (and gid `uid`, no supplementary groups)
// and returns what it returned. The child is the test binary itself, so nothing needs to be
// reachable by that uid but the daemon's socket.
std::string as_user(uid_t uid, const std::function<std::string()>& fn) {
  int p[2];
  if (::pipe(p) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    ::alarm(60);  // never hang the suite
    std::string out;
    if (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0) {
      out = "cannot become uid " + std::to_string(uid);
    } else {
      out = fn();
    }
    for (std::size_t off = 0; off < out.size();) {
      ssize_t n = ::write(p[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[65536];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

// "STATUS BODY" of one request on a fresh connection.
std::string request(const fs::path& socket, const std::string& method, const std::string& target,
                    const std::string& body = {}) {
  auto c = api::Client::connect_unix(socket);
  if (!c) return "connect failed: " + c.error().message();
  auto r = c->request(method, target, body);
  if (!r) return "request failed: " + r.error().message();
  return std::to_string(r->status) + " " + r->body;
}

// Everything the event stream sends from the start until an event whose message is
// `marker` (an annotation every caller may see).
std::string stream_until(const fs::path& socket, const std::string& marker) {
  auto c = api::Client::connect_unix(socket, 20s);
  if (!c) return "connect failed";
  std::string all;
  auto st = c->stream("/v1/events/stream?since_id=0", [&](std::string_view data) {
    all.append(data).append("\n");
    return data.find(marker) == std::string_view::npos;
  });
  if (!st) all += "stream failed: " + st.error().message();
  return all;
}

Json body_of(const std::string& status_body) {
  auto sp = status_body.find(' ');
  return Json::parse(sp == std::string::npos ? "" : status_body.substr(sp + 1), nullptr, false);
}

class VisibilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: the test becomes alice and bob";
  }

  std::string root(const std::string& method, const std::string& target,
                   const std::string& body = {}) {
    return request(h_.socket(), method, target, body);
  }

  Json wait_for_job(long long id, const std::string& state) {
    Json j;
    for (int i = 0; i < 300; ++i) {
      j = body_of(root("GET", "/v1/jobs/" + std::to_string(id)));
      if (j.value("state", "") == state) return j;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "job " << id << " never " << state << ": " << j.dump() << "\n" << h_.log();
    return j;
  }

  DaemonHarness h_;
};

TEST_F(VisibilityTest, BobSeesNoneOfAlicesCommandLineNameOrDirectoryOnAnyRouteOrStream) {
  fs::path cwd = h_.dir() / "cwd-s3cr3t";
  fs::create_directories(cwd);
  fs::permissions(cwd, fs::perms::all);
  h_.write_config(kViewersMayConnect +
                  "[sched]\ncgroups = false\n[logs]\nenabled = false\n[diagnose]\n"
                  "poll_interval_ms = 100\n");
  h_.set_env("AION_DATA_DIR", std::string(AION_SOURCE_DIR) + "/data");
  auto started = h_.start();
  ASSERT_TRUE(started) << started.error().message() << h_.log();
  const fs::path sock = h_.socket();

  auto submit = [&](const std::string& name, std::vector<std::string> command) {
    Json spec = {{"name", name},
                 {"command", command},
                 {"env", {{"API_TOKEN", "env-s3cr3t"}}},
                 {"cwd", cwd.string()}};
    std::string r = as_user(kAlice, [&] { return request(sock, "POST", "/v1/jobs", spec.dump()); });
    EXPECT_EQ(r.rfind("201 ", 0), 0u) << r << h_.log();
    return body_of(r).value("id", 0LL);
  };
  long long running = submit("name-s3cr3t", {"/bin/sh", "-c", "sleep 60", "argv-s3cr3t"});
  long long failed = submit("name2-s3cr3t", {"/bin/sh", "-c", "exit 3", "argv2-s3cr3t"});
  wait_for_job(running, "running");
  wait_for_job(failed, "failed");
  ASSERT_EQ(root("POST", "/v1/sched/hold", R"({"hold": true})").rfind("200 ", 0), 0u);
  long long pending = submit("name3-s3cr3t", {"/bin/sh", "-c", "true", "argv3-s3cr3t"});
  ASSERT_EQ(root("POST", "/v1/events", R"({"message": "marker-end"})").rfind("201 ", 0), 0u);

  // Give the diagnosis a moment to turn the failed job into an incident.
  for (int i = 0; i < 50; ++i) {
    if (!body_of(root("GET", "/v1/incidents"))["incidents"].empty()) break;
    std::this_thread::sleep_for(100ms);
  }

  auto look = [&] {
    std::string all;
    for (std::string t : {"/v1/jobs", "/v1/jobs?limit=10", "/v1/queue", "/v1/events?limit=10000",
                          "/v1/incidents"}) {
      all += t + " -> " + request(sock, "GET", t) + "\n";
    }
    for (long long id : {running, failed, pending})
      all += request(sock, "GET", "/v1/jobs/" + std::to_string(id)) + "\n";
    Json incidents = body_of(request(sock, "GET", "/v1/incidents"))["incidents"];
    for (const auto& i : incidents)
      all += request(sock, "GET", "/v1/incidents/" + i["id"].dump()) + "\n";
    all += "stream -> " + stream_until(sock, "marker-end");
    return all;
  };
  std::string bob = as_user(kBob, look);
  std::string alice = as_user(kAlice, look);

  // bob: the jobs are there, their private fields are not.
  EXPECT_NE(bob.find("marker-end"), std::string::npos) << bob;
  EXPECT_NE(bob.find("\"id\":" + std::to_string(pending)), std::string::npos) << bob;
  EXPECT_EQ(bob.find("s3cr3t"), std::string::npos) << bob;
  // alice: her own command lines, names and directory, on the list, the queue and the stream.
  for (const std::string& secret :
       std::vector<std::string>{"argv-s3cr3t", "argv2-s3cr3t", "argv3-s3cr3t", "name-s3cr3t",
                                "name3-s3cr3t", cwd.string()}) {
    EXPECT_NE(alice.find(secret), std::string::npos) << secret << "\n" << alice;
  }
  root("POST", "/v1/jobs/" + std::to_string(running) + "/cancel");
  // The environment goes to nobody.
  EXPECT_EQ(alice.find("env-s3cr3t"), std::string::npos) << alice;
  EXPECT_EQ(root("GET", "/v1/jobs").find("env-s3cr3t"), std::string::npos);
}

// A host root with a kernel ring buffer (a regular file at dev/kmsg) and a journal directory
// written by systemd-journal-remote from export-format records.
class LogVisibilityTest : public VisibilityTest {
 protected:
  void SetUp() override {
    VisibilityTest::SetUp();
    if (IsSkipped()) return;
    if (!fs::exists(kJournalRemote)) {
      GTEST_SKIP() << kJournalRemote << " is missing (Debian package systemd-journal-remote)";
    }
    host_ = h_.dir() / "root";
    copy_fixture("hw/dgx-a100/root", host_);
    fs::create_directories(host_ / "dev");
    fs::create_directories(host_ / "var/log/journal");
  }

  static constexpr const char* kJournalRemote = "/lib/systemd/systemd-journal-remote";

  // Appends one journal record per map (fields as journald would set them).
  void write_journal(const std::vector<std::map<std::string, std::string>>& records) {
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    fs::path exp = h_.dir() / "records.export";
    {
      std::ofstream out(exp);
      long long mono = 1000;
      for (const auto& r : records) {
        out << "__REALTIME_TIMESTAMP=" << now_us + mono << "\n__MONOTONIC_TIMESTAMP=" << mono
            << "\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=node\n";
        for (const auto& [k, v] : r) out << k << "=" << v << "\n";
        out << "\n";
        mono += 1000;
      }
    }
    Exit e = run_program(
        {kJournalRemote, "-o", (host_ / "var/log/journal/system.journal").string(), exp.string()});
    ASSERT_EQ(e.code, 0) << e.out;
  }

  // The cursor of the journal's first record: aiond resumes after it, as after a restart.
  void resume_journal_after_first_record() {
    Exit e = run_program({"/bin/journalctl", "--directory", (host_ / "var/log/journal").string(),
                          "-o", "export", "-n", "all", "--no-pager"});
    ASSERT_EQ(e.code, 0) << e.out;
    auto at = e.out.find("__CURSOR=");
    ASSERT_NE(at, std::string::npos) << e.out;
    std::string cursor = e.out.substr(at + 9, e.out.find('\n', at) - at - 9);
    fs::create_directories(h_.state_dir() / "logs");
    std::ofstream(h_.state_dir() / "logs/cursors.json")
        << Json{{"schema_version", 1}, {"journal", cursor}, {"files", Json::object()}}.dump();
  }

  fs::path host_;
};

const char* kKernelXid =
    "NVRM: Xid (PCI:0000:03:00): 79, pid=99, name=python, GPU has fallen off the bus.";
const char* kForgedXid =
    "NVRM: Xid (PCI:0000:07:00): 79, pid=1234, name=python, GPU has fallen off the bus.";

TEST_F(LogVisibilityTest, BobReadsNeitherKernelLinesNorOtherUsersJournalEntries) {
  write_journal({
      {{"MESSAGE", "journal opened"}, {"_TRANSPORT", "journal"}, {"_UID", "0"}, {"_PID", "1"}},
      {{"MESSAGE", "alice says alice-journal-s3cr3t"},
       {"_TRANSPORT", "syslog"},
       {"_UID", std::to_string(kAlice)},
       {"_PID", "4242"},
       {"SYSLOG_IDENTIFIER", "alice"}},
      {{"MESSAGE",
        "root : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/cat root-journal-s3cr3t"},
       {"_TRANSPORT", "syslog"},
       {"_UID", "0"},
       {"_PID", "77"},
       {"SYSLOG_IDENTIFIER", "sudo"}},
  });
  if (IsSkipped() || HasFatalFailure()) return;
  resume_journal_after_first_record();
  std::ofstream(host_ / "dev/kmsg") << "6,1,100,-;audit: kernel-only-s3cr3t came by\n"
                                    << "3,2,200,-;" << kKernelXid << "\n";
  h_.write_config(kViewersMayConnect +
                  "[sched]\ncgroups = false\n[diagnose]\npoll_interval_ms = 100\n"
                  "[logs]\npoll_interval_ms = 50\n");
  h_.set_env("AION_DATA_DIR", std::string(AION_SOURCE_DIR) + "/data");
  auto started = h_.start({"--host-root", host_.string()});
  ASSERT_TRUE(started) << started.error().message() << h_.log();
  const fs::path sock = h_.socket();

  std::string recent;
  for (int i = 0; i < 100; ++i) {
    recent = root("GET", "/v1/logs/recent?limit=1000");
    if (recent.find("root-journal-s3cr3t") != std::string::npos &&
        recent.find("kernel-only-s3cr3t") != std::string::npos)
      break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_NE(recent.find("root-journal-s3cr3t"), std::string::npos) << recent << h_.log();
  ASSERT_NE(recent.find("alice-journal-s3cr3t"), std::string::npos) << recent;
  ASSERT_EQ(root("POST", "/v1/events", R"({"message": "marker-end"})").rfind("201 ", 0), 0u);

  auto look = [&] {
    std::string all;
    for (std::string t : {"/v1/logs/recent?limit=1000", "/v1/logs/templates?limit=1000",
                          "/v1/events?limit=10000"}) {
      all += t + " -> " + request(sock, "GET", t) + "\n";
    }
    all += "stream -> " + stream_until(sock, "marker-end");
    return all;
  };
  std::string bob = as_user(kBob, look);
  std::string alice = as_user(kAlice, look);
  EXPECT_NE(bob.find("marker-end"), std::string::npos) << bob;
  for (const char* secret :
       {"kernel-only-s3cr3t", "NVRM", "root-journal-s3cr3t", "alice-journal-s3cr3t", "COMMAND="}) {
    EXPECT_EQ(bob.find(secret), std::string::npos) << secret << "\n" << bob;
    if (std::string(secret) != "alice-journal-s3cr3t") {
      EXPECT_EQ(alice.find(secret), std::string::npos) << secret << "\n" << alice;
    }
  }
  EXPECT_NE(alice.find("alice-journal-s3cr3t"), std::string::npos) << alice;
  EXPECT_NE(bob.find("/v1/logs/templates?limit=1000 -> 403 "), std::string::npos) << bob;
}

TEST_F(LogVisibilityTest, AnXid79InAUsersJournalEntryOpensNoIncidentButTheKernelsDoes) {
  write_journal({
      {{"MESSAGE", "journal opened"}, {"_TRANSPORT", "journal"}, {"_UID", "0"}, {"_PID", "1"}},
      {{"MESSAGE", kForgedXid},
       {"_TRANSPORT", "syslog"},
       {"_UID", std::to_string(kAlice)},
       {"_PID", "4242"},
       {"SYSLOG_IDENTIFIER", "logger"}},
      {{"MESSAGE", std::string("kernel: ") + kForgedXid},
       {"_TRANSPORT", "journal"},
       {"_UID", std::to_string(kAlice)},
       {"_PID", "4243"},
       {"SYSLOG_IDENTIFIER", "kernel"}},
  });
  if (IsSkipped() || HasFatalFailure()) return;
  resume_journal_after_first_record();
  std::ofstream(host_ / "dev/kmsg") << "3,1,200,-;" << kKernelXid << "\n";
  h_.write_config(kViewersMayConnect +
                  "[sched]\ncgroups = false\n[diagnose]\npoll_interval_ms = 100\n"
                  "[logs]\npoll_interval_ms = 50\n");
  h_.set_env("AION_DATA_DIR", std::string(AION_SOURCE_DIR) + "/data");
  auto started = h_.start({"--host-root", host_.string()});
  ASSERT_TRUE(started) << started.error().message() << h_.log();

  // Wait until aiond has read the journal records and the kernel's line made its incident.
  Json incidents;
  for (int i = 0; i < 100; ++i) {
    std::string recent = root("GET", "/v1/logs/recent?limit=1000");
    incidents = body_of(root("GET", "/v1/incidents"))["incidents"];
    if (recent.find("kernel: NVRM") != std::string::npos &&
        incidents.dump().find("0000:03:00.0") != std::string::npos)
      break;
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(500ms);  // the diagnosis polls every 100 ms
  incidents = body_of(root("GET", "/v1/incidents"))["incidents"];
  bool kernel_incident = false;
  for (const auto& i : incidents) {
    Json detail = body_of(root("GET", "/v1/incidents/" + i["id"].dump()));
    std::string devices = detail["devices"].dump();
    EXPECT_EQ(devices.find("0000:07:00.0"), std::string::npos) << detail.dump(2);
    if (devices.find("0000:03:00.0") != std::string::npos) {
      kernel_incident = true;
      EXPECT_EQ(detail["hypotheses"][0]["signature"], "nvidia-xid-79") << detail.dump(2);
      EXPECT_EQ(detail["hypotheses"][0]["playbook"], "drain-and-reset-gpu") << detail.dump(2);
    }
  }
  EXPECT_TRUE(kernel_incident) << incidents.dump(2) << h_.log();
}

}  // namespace
}  // namespace aion::testing
