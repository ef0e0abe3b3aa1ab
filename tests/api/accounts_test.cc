#include "aion/api/accounts.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "aion/api/tokens.h"
#include "aion/core/clock.h"
#include "aion/store/store.h"
#include "support/temp_dir.h"

namespace aion::api {
namespace {

namespace fs = std::filesystem;

class HostRoot {
 public:
  HostRoot() { fs::create_directories(dir_ / "etc"); }
  void login_defs(const std::string& text) { std::ofstream(dir_ / "etc" / "login.defs") << text; }
  HostFs fs() const { return HostFs(dir_.path()); }

 private:
  ::aion::testing::TempDir dir_{"accounts"};
};

TEST(AccountsTest, UidMinComesFromLoginDefsBelowTheHostRoot) {
  HostRoot root;
  EXPECT_EQ(uid_min(root.fs()), 1000u) << "absent file: the shadow-utils default";
  root.login_defs("# comment UID_MIN 5\nSYS_UID_MIN 100\nUID_MIN\t\t 2000\nUID_MAX 60000\n");
  EXPECT_EQ(uid_min(root.fs()), 2000u);
  root.login_defs("UID_MIN lots\n");
  EXPECT_EQ(uid_min(root.fs()), 1000u);
}

TEST(AccountsTest, TokensNeverActAsRootOrSystemAccounts) {
  auto r = token_account("root", 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message().find("UID_MIN 1000"), std::string::npos) << r.error().message();
  auto sys = token_account("daemon", 1000);  // uid 1 on Debian
  ASSERT_FALSE(sys);
  EXPECT_EQ(sys.error().code(), ErrorCode::kPermissionDenied);
  auto none = token_account("aion-no-such-user", 1000);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

TEST(AccountsTest, UserListsAcceptCommasAndSpacesAndRejectOddNames) {
  auto l = parse_user_list("alice, bob,,alice carol");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, (std::vector<std::string>{"alice", "bob", "carol"}));
  auto bad = parse_user_list("alice,../etc");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(parse_user_list("-rf"));
}

TEST(TokenRunAsStoreTest, RunAsListIsStoredListedAndCarriedByVerifiedTokens) {
  ManualClock clock;
  auto db = store::Database::open({.path = ":memory:"}, TokenStore::migrations());
  ASSERT_TRUE(db);
  store::Store s(std::move(*db));
  TokenStore tokens(s, clock);
  auto t = tokens.create(Role::kOperator, "ci", {"alice", "bob"});
  ASSERT_TRUE(t);
  auto listed = tokens.list();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].run_as, (std::vector<std::string>{"alice", "bob"}));
  for (int i = 0; i < 2; ++i) {  // from the database, then from the cache
    auto id = tokens.verify(t->token);
    ASSERT_TRUE(id);
    EXPECT_EQ(id->run_as, (std::vector<std::string>{"alice", "bob"}));
  }
}

TEST(TokenRunAsStoreTest, CachedTokenIdWithAnotherSecretIsRefused) {
  ManualClock clock;
  auto db = store::Database::open({.path = ":memory:"}, TokenStore::migrations());
  ASSERT_TRUE(db);
  store::Store s(std::move(*db));
  TokenStore tokens(s, clock);
  auto t = tokens.create(Role::kAdmin, "");
  ASSERT_TRUE(t);
  ASSERT_TRUE(tokens.verify(t->token));  // now cached by its id
  std::string altered = t->token;
  altered.back() = altered.back() == '0' ? '1' : '0';
  auto r = tokens.verify(altered);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_FALSE(tokens.verify(t->token.substr(0, t->token.size() - 1)));
  EXPECT_TRUE(tokens.verify(t->token));
}

}  // namespace
}  // namespace aion::api
