#include "aion/api/accounts.h"

#include <pwd.h>

#include <algorithm>
#include <charconv>
#include <sstream>

namespace aion::api {

namespace {

constexpr std::uint32_t kDefaultUidMin = 1000;  // shadow-utils' default for UID_MIN

Result<Account> from_passwd(const struct passwd* pw) {
  return Account{pw->pw_name, static_cast<std::uint32_t>(pw->pw_uid),
                 static_cast<std::uint32_t>(pw->pw_gid)};
}

bool plausible_name(std::string_view n) {
  if (n.empty() || n.size() > 32 || n.front() == '-') return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '$';
  });
}

}  // namespace

std::uint32_t uid_min(const HostFs& host) {
  auto text = host.read("/etc/login.defs", 1 << 20);
  if (!text) return kDefaultUidMin;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key >> value) || key != "UID_MIN") continue;
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec == std::errc() && p == value.data() + value.size() && v > 0) return v;
  }
  return kDefaultUidMin;
}

Result<Account> find_account(std::string_view name) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  std::string n(name);
  if (::getpwnam_r(n.c_str(), &pw, buf, sizeof buf, &found) != 0 || !found) {
    return fail(ErrorCode::kNotFound, "no user named '" + n + "' on this node");
  }
  return from_passwd(found);
}

Result<Account> find_account(std::uint32_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(static_cast<uid_t>(uid), &pw, buf, sizeof buf, &found) != 0 || !found) {
    return fail(ErrorCode::kNotFound, "no user with uid " + std::to_string(uid) + " on this node");
  }
  return from_passwd(found);
}

Result<Account> token_account(std::string_view name, std::uint32_t min_uid) {
  auto a = find_account(name);
  if (!a) return a;
  if (a->uid == 0 || a->uid < min_uid) {
    return fail(ErrorCode::kPermissionDenied,
                "a token may not act as '" + a->name + "' (uid " + std::to_string(a->uid) +
                    "): root and system accounts (uid below UID_MIN " + std::to_string(min_uid) +
                    ") are reachable only through the unix socket as root");
  }
  return a;
}

Result<std::vector<std::string>> parse_user_list(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&]() -> Status {
    if (cur.empty()) return {};
    if (!plausible_name(cur)) {
      return fail(ErrorCode::kInvalidArgument,
                  "'" + cur + "' is not a user name; list users as alice,bob");
    }
    if (std::find(out.begin(), out.end(), cur) == out.end()) out.push_back(cur);
    cur.clear();
    return {};
  };
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (auto st = flush(); !st) return std::unexpected(st.error());
    } else {
      cur.push_back(c);
    }
  }
  if (auto st = flush(); !st) return std::unexpected(st.error());
  return out;
}

}  // namespace aion::api
