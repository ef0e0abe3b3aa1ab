// Attacks on who a unix-socket peer is and what it may learn or keep: a user the group
// database lists in the admin group but whose process does not hold the group (removed after
// logging in, or dropped by a service); a user probing which paths exist in directories it
// cannot read by submitting jobs there; and a job that must keep its user's supplementary
// groups (a GPU job needs `render` for /dev/kfd).
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/test_users.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
constexpr const char* kAdmins = "aion-sec-admins";

std::string request_as(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, const fs::path& sock,
                       const std::string& method, const std::string& target,
                       const std::string& body = "") {
  return as_user(uid, gid, groups, [&]() -> std::string {
    auto c = api::Client::connect_unix(sock);
    if (!c) return "0 " + c.error().message();
    auto r = c->request(method, target, body);
    if (!r) return "0 " + r.error().message();
    return std::to_string(r->status) + " " + r->body;
  });
}

std::string role_of(const std::string& status_reply) {
  auto brace = status_reply.find('{');
  if (brace == std::string::npos) return status_reply;
  Json j = Json::parse(status_reply.substr(brace), nullptr, false);
  if (j.is_discarded()) return status_reply;
  return j["caller"].value("role", "");
}

class PeerIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create test users and drop to them";
    alice_ = ensure_user("aion-sec-alice", {kAdmins});
    carol_ = ensure_user("aion-sec-carol");
    admins_ = ensure_group(kAdmins);
    if (!alice_ || !carol_ || !admins_) GTEST_SKIP() << "useradd/groupadd could not make users";
    h_.write_config(std::string("[daemon]\nsocket_mode = \"0666\"\nsocket_group = \"") + kAdmins +
                    "\"\n");
    auto st = h_.start();
    ASSERT_TRUE(st) << st.error().message() << h_.log();
    // A job accepted here is only evidence: the held node never starts it.
    auto held = h_.client()->post("/v1/sched/hold", R"({"hold":true})");
    ASSERT_TRUE(held && held->status == 200) << (held ? held->body : held.error().message());
  }

  DaemonHarness h_;
  std::optional<TestUser> alice_, carol_;
  std::optional<gid_t> admins_;
};

TEST_F(PeerIdentityTest, RoleFollowsTheGroupsTheConnectingProcessHolds) {
  // Listed in the group database, but this process dropped the group: not an admin.
  std::string dropped = request_as(alice_->uid, alice_->gid, {}, h_.socket(), "GET", "/v1/status");
  EXPECT_EQ(role_of(dropped), "viewer") << dropped;
  // Holding it: admin.
  std::string holding =
      request_as(alice_->uid, alice_->gid, {*admins_}, h_.socket(), "GET", "/v1/status");
  EXPECT_EQ(role_of(holding), "admin") << holding;
  // Not listed, but the process holds the group (newgrp, sg): what it holds counts.
  std::string carol =
      request_as(carol_->uid, carol_->gid, {*admins_}, h_.socket(), "GET", "/v1/status");
  EXPECT_EQ(role_of(carol), "admin") << carol;
}

TEST_F(PeerIdentityTest, SubmitDoesNotRevealWhichPathsExistWhereTheUserCannotLook) {
  fs::path priv = h_.dir() / "private";
  fs::create_directories(priv / "exists");
  ::chmod(priv.c_str(), 0700);  // root's
  std::ofstream(priv / "exists" / "prog") << "#!/bin/sh\n";
  ::chmod((priv / "exists" / "prog").c_str(), 0755);

  auto submit = [&](const Json& job) {
    std::string r =
        request_as(carol_->uid, carol_->gid, {}, h_.socket(), "POST", "/v1/jobs", job.dump());
    // The same answer for both paths, once the path itself is taken out.
    for (std::string_view word : {"exists", "absent"})
      for (auto at = r.find(word); at != std::string::npos; at = r.find(word, at + 1))
        r.replace(at, word.size(), "X");
    return r;
  };
  std::string cwd_there = submit({{"command", {"/bin/true"}}, {"cwd", (priv / "exists").string()}});
  std::string cwd_absent =
      submit({{"command", {"/bin/true"}}, {"cwd", (priv / "absent").string()}});
  EXPECT_EQ(cwd_there.substr(0, 4), "404 ") << cwd_there;
  EXPECT_EQ(cwd_there, cwd_absent);
  std::string prog_there = submit({{"command", {(priv / "exists" / "prog").string()}}});
  std::string prog_absent = submit({{"command", {(priv / "absent" / "prog").string()}}});
  EXPECT_EQ(prog_there.substr(0, 4), "404 ") << prog_there;
  EXPECT_EQ(prog_there, prog_absent);
}

// A job runs with its user's supplementary groups, as a login would give them.
TEST(JobGroupsTest, JobRunsWithItsUsersSupplementaryGroups) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run jobs as another user";
  bool v2 = fs::exists("/sys/fs/cgroup/cgroup.controllers");
  bool v1 = fs::exists("/sys/fs/cgroup/cpuset/cpuset.cpus");
  if (!v1 && !v2) GTEST_SKIP() << "no usable cgroup hierarchy to run jobs in";
  auto extra = ensure_group("aion-sec-render");
  auto dave = ensure_user("aion-sec-dave", {"aion-sec-render"});
  if (!extra || !dave) GTEST_SKIP() << "useradd/groupadd could not make test users";
  DaemonHarness h;
  std::string parent = "aion.sectest." + std::to_string(::getpid());
  h.write_config("[sched]\ncpu_overcommit = 32\nreserved_memory = \"0\"\ncgroup_parent = \"" +
                 parent + "\"\n");
  auto st = h.start();
  ASSERT_TRUE(st) << st.error().message() << h.log();
  auto c = h.client();
  ASSERT_TRUE(c);
  auto r =
      c->post("/v1/jobs", Json({{"command", {"/usr/bin/id", "-G"}}, {"user", dave->name}}).dump());
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error().message());
  long long id = Json::parse(r->body)["id"];
  std::string state;
  for (int i = 0; i < 300 && state != "completed" && state != "failed"; ++i) {
    std::this_thread::sleep_for(100ms);
    auto j = c->get("/v1/jobs/" + std::to_string(id));
    if (j && j->status == 200) state = Json::parse(j->body).value("state", "");
  }
  ASSERT_EQ(state, "completed") << h.log();
  Exit out = run_program(
      {DaemonHarness::aion_path(), "--socket", h.socket().string(), "logs", std::to_string(id)});
  ASSERT_EQ(out.code, 0) << out.out;
  std::istringstream words(out.out);
  std::vector<std::string> gids{std::istream_iterator<std::string>(words), {}};
  EXPECT_NE(std::find(gids.begin(), gids.end(), std::to_string(*extra)), gids.end())
      << "the job's `id -G` printed: " << out.out;
  h.signal(SIGTERM);
  h.wait();
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/memory",
                           "/sys/fs/cgroup/devices", "/sys/fs/cgroup/pids"}) {
    std::error_code ec;
    fs::path base = fs::path(root) / parent;
    if (!fs::is_directory(base, ec)) continue;
    for (const auto& e : fs::directory_iterator(base, ec)) ::rmdir(e.path().c_str());
    ::rmdir(base.c_str());
  }
}

}  // namespace
}  // namespace aion::testing
