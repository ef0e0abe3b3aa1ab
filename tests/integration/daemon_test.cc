// End-to-end behaviour of the aiond binary: start-up errors, the state lock, reload, clean
// stop, roles and tokens.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/store/database.h"
#include "support/daemon_harness.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A bad config must fail with exit 2, one line naming the problem, and leave no trace.
void expect_config_rejected(const std::string& toml, const std::string& expected_fragment) {
  DaemonHarness h;
  h.write_config(toml);
  Exit e =
      run_program({DaemonHarness::aiond_path(), "--foreground", "--config", h.config().string(),
                   "--state-dir", h.state_dir().string(), "--socket", h.socket().string()});
  EXPECT_EQ(e.code, 2) << e.out;
  EXPECT_EQ(count_lines(e.out), 1) << e.out;
  EXPECT_NE(e.out.find(expected_fragment), std::string::npos) << e.out;
  EXPECT_NE(e.out.find(h.config().string()), std::string::npos)
      << "message must name the file: " << e.out;
  EXPECT_FALSE(fs::exists(h.state_dir())) << "a rejected config must not create state";
  EXPECT_FALSE(fs::exists(h.socket()));
}

TEST(DaemonStartTest, MalformedConfigIsRejected) {
  expect_config_rejected("[daemon\nsocket = 1\n", "syntax error");
}

TEST(DaemonStartTest, UnknownKeyIsRejected) {
  expect_config_rejected("[api]\nthreds = 4\n",
                         "unknown key 'api.threds' (did you mean 'api.threads'?)");
}

TEST(DaemonStartTest, WrongTypeIsRejected) {
  expect_config_rejected("[api]\nthreads = \"four\"\n",
                         "api.threads: expected an integer, found string");
}

TEST(DaemonStartTest, CheckConfigValidatesWithoutStarting) {
  DaemonHarness h;
  h.write_config("[log]\nlevel = \"debug\"\n");
  Exit ok =
      run_program({DaemonHarness::aiond_path(), "--check-config", "--config", h.config().string()});
  EXPECT_EQ(ok.code, 0) << ok.out;
  h.write_config("[log]\nlevel = \"loud\"\n");
  Exit bad =
      run_program({DaemonHarness::aiond_path(), "--check-config", "--config", h.config().string()});
  EXPECT_EQ(bad.code, 2) << bad.out;
  Exit missing = run_program(
      {DaemonHarness::aiond_path(), "--check-config", "--config", "/nonexistent/aion.toml"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.out.find("/nonexistent/aion.toml"), std::string::npos);
}

TEST(DaemonStartTest, DefaultConfigPrintedIsValid) {
  DaemonHarness h;
  Exit e = run_program({DaemonHarness::aiond_path(), "--print-default-config"});
  ASSERT_EQ(e.code, 0);
  h.write_config(e.out);
  Exit check =
      run_program({DaemonHarness::aiond_path(), "--check-config", "--config", h.config().string()});
  EXPECT_EQ(check.code, 0) << check.out;
}

TEST(DaemonStartTest, PackagedConfigIsValid) {
  Exit e = run_program({DaemonHarness::aiond_path(), "--check-config", "--config",
                        std::string(AION_SOURCE_DIR) + "/packaging/aion.toml"});
  EXPECT_EQ(e.code, 0) << e.out;
}

TEST(DaemonStartTest, NonWritableStateDirectoryIsRejected) {
  DaemonHarness h;
  fs::path ro = h.dir() / "readonly";
  fs::create_directories(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                          fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  std::vector<std::string> argv = {
      DaemonHarness::aiond_path(), "--foreground", "--state-dir",
      (ro / "state").string(),     "--socket",     (h.dir() / "x.sock").string()};
  // Root may write anywhere: drop to nobody so that permissions apply.
  std::optional<uid_t> as;
  if (::geteuid() == 0) as = 65534;
  Exit e = run_program(argv, as);
  EXPECT_EQ(e.code, 2) << e.out;
  EXPECT_EQ(count_lines(e.out), 1) << e.out;
  EXPECT_NE(e.out.find((ro / "state").string()), std::string::npos) << e.out;
  EXPECT_TRUE(fs::is_empty(ro));
}

TEST(DaemonStartTest, SecondDaemonOnSameStateIsRejected) {
  DaemonHarness h;
  ASSERT_TRUE(h.start());
  std::ifstream lock_before(h.state_dir() / "aiond.lock");
  std::string pid_before((std::istreambuf_iterator<char>(lock_before)), {});
  auto db_mtime = fs::last_write_time(h.state_dir() / "aion.db");
  Exit e = run_program({DaemonHarness::aiond_path(), "--foreground", "--state-dir",
                        h.state_dir().string(), "--socket", (h.dir() / "other.sock").string()});
  EXPECT_EQ(e.code, 2) << e.out;
  EXPECT_EQ(count_lines(e.out), 1) << e.out;
  EXPECT_NE(e.out.find("another aiond (pid " + std::to_string(h.pid()) + ")"), std::string::npos)
      << e.out;
  EXPECT_FALSE(fs::exists(h.dir() / "other.sock"));
  std::ifstream lock_after(h.state_dir() / "aiond.lock");
  std::string pid_after((std::istreambuf_iterator<char>(lock_after)), {});
  EXPECT_EQ(pid_before, pid_after);
  EXPECT_EQ(db_mtime, fs::last_write_time(h.state_dir() / "aion.db"));
  EXPECT_EQ(h.client()->get("/v1/status")->status, 200) << "the first daemon keeps serving";
}

TEST(DaemonStartTest, CorruptDatabaseIsReportedAndPreserved) {
  DaemonHarness h;
  fs::create_directories(h.state_dir());
  std::string garbage(64 * 1024, '\x5a');
  std::ofstream(h.state_dir() / "aion.db", std::ios::binary) << garbage;
  Exit e = run_program({DaemonHarness::aiond_path(), "--foreground", "--state-dir",
                        h.state_dir().string(), "--socket", h.socket().string()});
  EXPECT_EQ(e.code, 1) << e.out;
  EXPECT_NE(e.out.find("is damaged"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("aion admin backup"), std::string::npos) << e.out;
  std::ifstream in(h.state_dir() / "aion.db", std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(after, garbage) << "the damaged file must be left as it was";
  bool copy = false;
  for (const auto& f : fs::directory_iterator(h.state_dir())) {
    copy = copy || f.path().filename().string().rfind("aion.db.corrupt-", 0) == 0;
  }
  EXPECT_TRUE(copy);
}

TEST(DaemonLifecycleTest, SigtermStopsCleanlyAndRemovesSocket) {
  DaemonHarness h;
  ASSERT_TRUE(h.start());
  h.signal(SIGTERM);
  Exit e = h.wait();
  EXPECT_EQ(e.code, 0) << e.out;
  EXPECT_FALSE(fs::exists(h.socket()));
  EXPECT_NE(e.out.find("event=stopped"), std::string::npos);
  EXPECT_TRUE(store::verify_database(h.state_dir() / "aion.db"));
  // Restart on the same state: the stop was recorded.
  ASSERT_TRUE(h.start());
  auto r = h.client()->get("/v1/events?kind=daemon_stopped");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("stopped cleanly"), std::string::npos) << r->body;
}

TEST(DaemonLifecycleTest, SighupWithBadConfigKeepsRunningConfig) {
  DaemonHarness h;
  h.write_config("[log]\nlevel = \"info\"\n");
  ASSERT_TRUE(h.start());
  h.write_config("[log]\nlevel = \"info\"\nbogus = 1\n");
  h.signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  auto c = h.client();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->get("/v1/status")->status, 200);
  EXPECT_NE(h.log().find("event=reload_rejected"), std::string::npos) << h.log();
  // The API's reload says why it refused.
  auto r = c->post("/v1/admin/reload", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("log.bogus"), std::string::npos) << r->body;
  h.write_config("[log]\nlevel = \"debug\"\n");
  h.signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  EXPECT_NE(h.log().find("event=reloaded"), std::string::npos) << h.log();
  EXPECT_EQ(c->get("/v1/status")->status, 200);
  EXPECT_NE(h.log().find("event=http"), std::string::npos) << "debug logging is now on";
}

TEST(DaemonAuthTest, NonAdminPeerGets403OnAdminRoute) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged uid";
  DaemonHarness h;
  h.write_config("[daemon]\nsocket_mode = \"0666\"\nsocket_group = \"aion-test-no-such-group\"\n");
  ASSERT_TRUE(h.start());
  std::string sock = h.socket().string();
  Exit status =
      run_program({DaemonHarness::aion_path(), "--socket", sock, "--json", "status"}, 65534);
  EXPECT_EQ(status.code, 0) << status.out;
  EXPECT_NE(status.out.find("\"role\":\"viewer\""), std::string::npos) << status.out;
  Exit admin =
      run_program({DaemonHarness::aion_path(), "--socket", sock, "admin", "token", "ls"}, 65534);
  EXPECT_EQ(admin.code, 1) << admin.out;
  EXPECT_NE(admin.out.find("needs the admin role"), std::string::npos) << admin.out;
  Exit post =
      run_program({DaemonHarness::aion_path(), "--socket", sock, "events", "post", "hi"}, 65534);
  EXPECT_EQ(post.code, 1) << post.out;
  // Root is an admin.
  Exit root = run_program({DaemonHarness::aion_path(), "--socket", sock, "admin", "token", "ls"});
  EXPECT_EQ(root.code, 0) << root.out;
}

TEST(DaemonAuthTest, RevokedTokenGets401OverTcp) {
  DaemonHarness h;
  h.write_config("[api.tcp]\nenabled = true\nlisten = \"127.0.0.1:0\"\n");
  ASSERT_TRUE(h.start());
  auto c = h.client();
  ASSERT_TRUE(c);
  Json status = Json::parse(c->get("/v1/status")->body);
  std::string tcp;
  for (const auto& l : status["listeners"]) {
    if (l["kind"] == "tcp") tcp = l["address"];
  }
  ASSERT_FALSE(tcp.empty()) << status.dump();
  Exit created = run_program({DaemonHarness::aion_path(), "--socket", h.socket().string(), "--json",
                              "admin", "token", "create", "--role", "operator"});
  ASSERT_EQ(created.code, 0) << created.out;
  Json tok = Json::parse(created.out);
  auto remote = api::Client::connect_tcp(tcp, tok["token"]);
  ASSERT_TRUE(remote);
  auto ok = remote->get("/v1/status");
  EXPECT_EQ(ok->status, 200);
  EXPECT_NE(ok->body.find("\"role\":\"operator\""), std::string::npos);
  EXPECT_EQ(remote->post("/v1/events", R"({"message":"from a token"})")->status, 201);
  EXPECT_EQ(remote->get("/v1/admin/tokens")->status, 403);
  Exit revoked = run_program({DaemonHarness::aion_path(), "--socket", h.socket().string(), "admin",
                              "token", "revoke", tok["id"]});
  ASSERT_EQ(revoked.code, 0) << revoked.out;
  auto after = remote->get("/v1/status");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 401);
  EXPECT_NE(after->body.find("\"code\":\"unauthenticated\""), std::string::npos);
  auto anon = api::Client::connect_tcp(tcp, "");
  EXPECT_EQ(anon->get("/v1/status")->status, 401);
}

TEST(DaemonCliTest, UnreachableDaemonExitsWith3AndHint) {
  Exit e =
      run_program({DaemonHarness::aion_path(), "--socket", "/tmp/aion-no-daemon.sock", "status"});
  EXPECT_EQ(e.code, 3);
  EXPECT_NE(e.out.find("aiond is not running"), std::string::npos) << e.out;
}

TEST(DaemonCliTest, BackupProducesVerifiedCopy) {
  DaemonHarness h;
  ASSERT_TRUE(h.start());
  fs::path dest = h.dir() / "backup.db";
  Exit e = run_program({DaemonHarness::aion_path(), "--socket", h.socket().string(), "admin",
                        "backup", dest.string()});
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_TRUE(store::verify_database(dest));
  Exit again = run_program({DaemonHarness::aion_path(), "--socket", h.socket().string(), "admin",
                            "backup", dest.string()});
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.out.find("already exists"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace aion::testing
