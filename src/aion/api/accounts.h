// Accounts: which local users a caller may act for.
//
// A job runs as a local user; the API decides who may name whom. Root (and the daemon's own
// user) may name any user; a unix peer only itself; a token only the users listed when it
// was created (its run-as list), and never root or a system account (a uid below UID_MIN of
// /etc/login.defs, read through HostFs). Free functions over the user database; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"

namespace aion::api {

struct Account {
  std::string name;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

// UID_MIN from <root>/etc/login.defs; 1000 (the shadow-utils default) when the file or the
// key is absent or unreadable.
std::uint32_t uid_min(const HostFs& host);

// The account named `name`: kNotFound when the user database has none.
Result<Account> find_account(std::string_view name);
// The account with uid `uid`, or kNotFound.
Result<Account> find_account(std::uint32_t uid);

// The account named `name` when a token may act for it: kPermissionDenied for root and for
// system accounts (uid below `min_uid`), kNotFound for an unknown user.
Result<Account> token_account(std::string_view name, std::uint32_t min_uid);

// Parses "alice,bob" (commas or whitespace) into names; kInvalidArgument for a name that
// is not a plausible user name.
Result<std::vector<std::string>> parse_user_list(std::string_view text);

}  // namespace aion::api
