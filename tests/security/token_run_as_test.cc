// Attacks on who a job runs as: a token holder asks to run as root, as a user its token was
// not made for, or as a system account; a member of the admin ('aion') group, who is admin on
// the unix socket but not root, tries to mint a token that does any of that.
#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/test_users.h"

namespace aion::testing {
namespace {

constexpr const char* kAdmins = "aion-sec-admins";

struct Reply {
  int status = 0;
  std::string body;
};

Reply parse_reply(const std::string& text) {
  auto sp = text.find(' ');
  if (sp == std::string::npos) return {0, text};
  return {std::atoi(text.substr(0, sp).c_str()), text.substr(sp + 1)};
}

std::string post_text(api::Client& c, const std::string& target, const std::string& body) {
  auto r = c.post(target, body);
  if (!r) return "0 " + r.error().message();
  return std::to_string(r->status) + " " + r->body;
}

class TokenRunAsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create test users and drop to them";
    alice_ = ensure_user("aion-sec-alice", {kAdmins});
    bob_ = ensure_user("aion-sec-bob");
    admins_ = ensure_group(kAdmins);
    if (!alice_ || !bob_ || !admins_) GTEST_SKIP() << "useradd/groupadd could not make test users";
    h_.write_config(std::string("[daemon]\nsocket_mode = \"0660\"\nsocket_group = \"") + kAdmins +
                    "\"\n[api.tcp]\nenabled = true\nlisten = \"127.0.0.1:0\"\n");
    auto st = h_.start();
    ASSERT_TRUE(st) << st.error().message() << h_.log();
    // Jobs submitted here are only evidence: the held node never starts them.
    auto held = h_.client()->post("/v1/sched/hold", R"({"hold":true})");
    ASSERT_TRUE(held && held->status == 200) << (held ? held->body : held.error().message());
    Json status = Json::parse(h_.client()->get("/v1/status")->body);
    for (const auto& l : status["listeners"]) {
      if (l["kind"] == "tcp") tcp_ = l["address"];
    }
    ASSERT_FALSE(tcp_.empty()) << status.dump();
  }

  // Creates a token as root over the unix socket.
  Reply create_as_root(const Json& body) {
    auto c = h_.client();
    if (!c) return {0, c.error().message()};
    return parse_reply(post_text(*c, "/v1/admin/tokens", body.dump()));
  }

  // Creates a token as alice, who holds the admin group but is not root.
  Reply create_as_alice(const Json& body) {
    std::string sock = h_.socket().string();
    return parse_reply(as_user(alice_->uid, alice_->gid, {*admins_}, [&] {
      auto c = api::Client::connect_unix(sock);
      if (!c) return "0 " + c.error().message();
      return post_text(*c, "/v1/admin/tokens", body.dump());
    }));
  }

  // Submits a job over TCP with `token`, naming `user`.
  Reply submit_with(const std::string& token, const std::string& user) {
    auto c = api::Client::connect_tcp(tcp_, token);
    if (!c) return {0, c.error().message()};
    Json job = {{"command", {"/bin/true"}}, {"user", user}};
    return parse_reply(post_text(*c, "/v1/jobs", job.dump()));
  }

  DaemonHarness h_;
  std::optional<TestUser> alice_, bob_;
  std::optional<gid_t> admins_;
  std::string tcp_;
};

TEST_F(TokenRunAsTest, TokenRunsJobsOnlyAsTheUsersItWasCreatedFor) {
  Reply made = create_as_root({{"role", "operator"}, {"run_as", {alice_->name}}});
  ASSERT_EQ(made.status, 201) << made.body;
  std::string token = Json::parse(made.body)["token"];
  for (const std::string& victim : {std::string("root"), bob_->name, std::string("daemon")}) {
    Reply r = submit_with(token, victim);
    EXPECT_EQ(r.status, 403) << "a token made for alice ran a job as " << victim << ": " << r.body;
  }
  Reply ok = submit_with(token, alice_->name);
  EXPECT_EQ(ok.status, 201) << ok.body;
}

// SECURITY.md: an operator token sees the command lines and output of its run-as users' jobs
// and cancels them, and no one else's.
TEST_F(TokenRunAsTest, TokenActsOnTheJobsOfItsRunAsUsersOnly) {
  Reply made = create_as_root({{"role", "operator"}, {"run_as", {alice_->name}}});
  ASSERT_EQ(made.status, 201) << made.body;
  std::string token = Json::parse(made.body)["token"];
  Reply alices = submit_with(token, alice_->name);
  ASSERT_EQ(alices.status, 201) << alices.body;
  std::string alice_job = Json::parse(alices.body)["id"].dump();
  // A job of bob's (root may submit as any account).
  auto root = h_.client();
  ASSERT_TRUE(root);
  Reply bobs = parse_reply(post_text(
      *root, "/v1/jobs",
      Json{{"command", {"/bin/true"}}, {"name", "bobs secret"}, {"user", bob_->name}}.dump()));
  ASSERT_EQ(bobs.status, 201) << bobs.body;
  std::string bob_job = Json::parse(bobs.body)["id"].dump();

  auto c = api::Client::connect_tcp(tcp_, token);
  ASSERT_TRUE(c);
  auto alice_seen = c->get("/v1/jobs/" + alice_job);
  ASSERT_TRUE(alice_seen);
  EXPECT_NE(alice_seen->body.find("/bin/true"), std::string::npos) << alice_seen->body;
  auto bob_seen = c->get("/v1/jobs/" + bob_job);
  ASSERT_TRUE(bob_seen);
  EXPECT_EQ(bob_seen->body.find("bobs secret"), std::string::npos) << bob_seen->body;
  EXPECT_EQ(c->get("/v1/jobs/" + bob_job + "/logs")->status, 403);
  EXPECT_EQ(c->get("/v1/jobs/" + alice_job + "/logs")->status, 200);
  EXPECT_EQ(c->post("/v1/jobs/" + bob_job + "/cancel", "{}")->status, 403);
  auto cancelled = c->post("/v1/jobs/" + alice_job + "/cancel", "{}");
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->status, 200) << cancelled->body;
  EXPECT_NE(cancelled->body.find("cancelled"), std::string::npos) << cancelled->body;
}

TEST_F(TokenRunAsTest, RootAndSystemAccountsCannotBeOnARunAsList) {
  for (const std::string& who : {std::string("root"), std::string("daemon")}) {
    Reply r = create_as_root({{"role", "operator"}, {"run_as", {who}}});
    EXPECT_EQ(r.status, 403) << "a token may act as " << who << ": " << r.body;
    EXPECT_NE(r.body.find("UID_MIN"), std::string::npos) << r.body;
  }
}

TEST_F(TokenRunAsTest, AdminGroupMemberCannotMintATokenThatRunsAsRootOrAnotherUser) {
  // The attack as it works without run-as lists: any operator token names root.
  Reply plain = create_as_alice({{"role", "operator"}});
  ASSERT_EQ(plain.status, 201) << plain.body;
  Reply as_root = submit_with(Json::parse(plain.body)["token"], "root");
  EXPECT_EQ(as_root.status, 403) << "an aion-group member's token ran a job as root: "
                                 << as_root.body;

  for (const std::string& victim : {std::string("root"), bob_->name}) {
    Reply r = create_as_alice({{"role", "operator"}, {"run_as", {victim}}});
    EXPECT_EQ(r.status, 403) << "alice minted a token for " << victim << ": " << r.body;
  }
  Reply own = create_as_alice({{"role", "admin"}, {"run_as", {alice_->name}}});
  ASSERT_EQ(own.status, 201) << own.body;
  std::string admin_token = Json::parse(own.body)["token"];
  EXPECT_EQ(submit_with(admin_token, "root").status, 403);
  // Her admin token cannot widen its own list either.
  auto c = api::Client::connect_tcp(tcp_, admin_token);
  ASSERT_TRUE(c);
  Reply wider = parse_reply(post_text(
      *c, "/v1/admin/tokens", Json({{"role", "operator"}, {"run_as", {bob_->name}}}).dump()));
  EXPECT_EQ(wider.status, 403) << wider.body;
}

TEST_F(TokenRunAsTest, TokenListShowsEachTokensRunAsUsers) {
  Exit made =
      run_program({DaemonHarness::aion_path(), "--socket", h_.socket().string(), "admin", "token",
                   "create", "--role", "operator", "--run-as", alice_->name + "," + bob_->name});
  ASSERT_EQ(made.code, 0) << made.out;
  Exit ls = run_program(
      {DaemonHarness::aion_path(), "--socket", h_.socket().string(), "admin", "token", "ls"});
  ASSERT_EQ(ls.code, 0) << ls.out;
  EXPECT_NE(ls.out.find("RUN AS"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find(alice_->name + "," + bob_->name), std::string::npos) << ls.out;
}

}  // namespace
}  // namespace aion::testing
