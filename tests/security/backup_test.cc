// Attacks through `POST /v1/admin/backup`, which root's daemon carries out for a member of
// the admin group: links planted in the backup's directory while backups run must never make
// the daemon create or chown a file elsewhere, and the copy must not carry other users' jobs.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/store/database.h"
#include "support/daemon_harness.h"
#include "support/test_users.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kAdmins = "aion-sec-admins";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class BackupAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create test users and drop to them";
    alice_ = ensure_user("aion-sec-alice", {kAdmins});
    bob_ = ensure_user("aion-sec-bob");
    admins_ = ensure_group(kAdmins);
    if (!alice_ || !bob_ || !admins_) GTEST_SKIP() << "useradd/groupadd could not make test users";
    h_.write_config(std::string("[daemon]\nsocket_mode = \"0660\"\nsocket_group = \"") + kAdmins +
                    "\"\n");
    auto st = h_.start();
    ASSERT_TRUE(st) << st.error().message() << h_.log();
    // Jobs submitted here are only evidence: the held node never starts them.
    auto held = h_.client()->post("/v1/sched/hold", R"({"hold":true})");
    ASSERT_TRUE(held && held->status == 200) << (held ? held->body : held.error().message());
    mine_ = h_.dir() / "alice";
    fs::create_directories(mine_);
    ASSERT_EQ(::chown(mine_.c_str(), alice_->uid, alice_->gid), 0);
    ::chmod(mine_.c_str(), 0700);
  }

  // Asks for a backup at `dest` as alice (admin group member, not root).
  std::string backup_as_alice(const fs::path& dest) {
    std::string sock = h_.socket().string();
    Json body = {{"path", dest.string()}};
    return as_user(alice_->uid, alice_->gid, {*admins_}, [&]() -> std::string {
      auto c = api::Client::connect_unix(sock);
      if (!c) return "0 " + c.error().message();
      auto r = c->post("/v1/admin/backup", body.dump());
      if (!r) return "0 " + r.error().message();
      return std::to_string(r->status) + " " + r->body;
    });
  }

  DaemonHarness h_;
  std::optional<TestUser> alice_, bob_;
  std::optional<gid_t> admins_;
  fs::path mine_;
};

TEST_F(BackupAttackTest, LinksPlantedWhileBackupsRunNeverReachOutsideTheDirectory) {
  fs::path outside = h_.dir() / "outside";
  fs::create_directories(outside);
  fs::path owned = outside / "owned";
  std::ofstream(owned) << "root's file";
  ::chmod(owned.c_str(), 0600);
  const std::string pid = std::to_string(h_.pid());

  // What alice can do in her own directory: links at every temporary name a backup might
  // use, and a link swapped in at the destination as soon as a backup lands there. The racer
  // is a process, not a thread: backups are asked for from forked children, and a fork while
  // another thread holds an allocator lock would hang the child (under ASan it does).
  pid_t racer = ::fork();
  ASSERT_GE(racer, 0);
  if (racer == 0) {
    for (;;) {
      for (int k = 0; k < 64; ++k) {
        for (const std::string& name :
             {"b.db.tmp-" + pid + "-" + std::to_string(k),
              ".b.db.tmp-" + pid + "-" + std::to_string(k), std::string("b.db-journal")}) {
          fs::path victim = outside / ("victim-" + std::to_string(k));
          (void)::symlink(victim.c_str(), (mine_ / name).c_str());
        }
      }
      struct stat st {};
      if (::lstat((mine_ / "b.db").c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        fs::path lnk = mine_ / "swap";
        ::unlink(lnk.c_str());
        (void)::symlink(owned.c_str(), lnk.c_str());
        (void)::rename(lnk.c_str(), (mine_ / "b.db").c_str());
      }
    }
  }
  for (int i = 0; i < 30; ++i) {
    std::string reply = backup_as_alice(mine_ / "b.db");  // refused or not: what it touched counts
    EXPECT_NE(reply, "<child timed out>") << "backup " << i << " hung\n" << h_.log();
    ::unlink((mine_ / "b.db").c_str());
  }
  ::kill(racer, SIGKILL);
  ::waitpid(racer, nullptr, 0);

  std::vector<std::string> appeared;
  for (const auto& e : fs::directory_iterator(outside)) {
    if (e.path() != owned) appeared.push_back(e.path().filename());
  }
  EXPECT_TRUE(appeared.empty()) << "the daemon created " << appeared.size()
                                << " file(s) outside the backup directory, e.g. "
                                << (appeared.empty() ? "" : appeared[0]);
  struct stat st {};
  ASSERT_EQ(::stat(owned.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "a file outside the backup directory was chowned to alice";
  EXPECT_EQ(slurp(owned), "root's file");
  // The attack must not simply have stopped every backup: without the racer they work.
  std::string clean = backup_as_alice(mine_ / "clean.db");
  EXPECT_EQ(clean.rfind("200 ", 0), 0u) << clean << "\n" << h_.log();
  ASSERT_EQ(::lstat((mine_ / "clean.db").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_uid, alice_->uid) << "the backup belongs to whoever asked for it";
}

TEST_F(BackupAttackTest, BackupForAGroupMemberCarriesNoOtherUsersJobSecrets) {
  auto c = h_.client();
  ASSERT_TRUE(c);
  Json bobs = {{"command", {"/bin/sh", "-c", "exit 0 # bob-cmdline-9c2e"}},
               {"env", {{"AION_SEC_SECRET", "bob-secret-7f3a"}}},
               {"user", bob_->name}};
  auto r = c->post("/v1/jobs", bobs.dump());
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error().message());
  Json alices = {{"command", {"/bin/sh", "-c", "exit 0 # alice-cmdline-51d0"}},
                 {"user", alice_->name}};
  r = c->post("/v1/jobs", alices.dump());
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error().message());

  std::string reply = backup_as_alice(mine_ / "mine.db");
  ASSERT_EQ(reply.rfind("200 ", 0), 0u) << reply;
  std::string bytes = slurp(mine_ / "mine.db");
  EXPECT_EQ(bytes.find("bob-secret-7f3a"), std::string::npos) << "bob's job environment leaked";
  EXPECT_EQ(bytes.find("bob-cmdline-9c2e"), std::string::npos) << "bob's command line leaked";
  EXPECT_NE(bytes.find("alice-cmdline-51d0"), std::string::npos) << "alice's own jobs stay whole";
  EXPECT_TRUE(store::verify_database(mine_ / "mine.db"));

  // Root's backup is complete.
  fs::path full = h_.dir() / "full.db";
  r = c->post("/v1/admin/backup", Json({{"path", full.string()}}).dump());
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error().message());
  EXPECT_NE(slurp(full).find("bob-secret-7f3a"), std::string::npos);
}

}  // namespace
}  // namespace aion::testing
