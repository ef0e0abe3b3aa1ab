// TokenStore: bearer tokens for the TCP API.
//
// A token reads "aion_<id>_<secret>"; only the id, a random salt and SHA-256(salt||secret)
// are stored, so the database never holds a usable token. create() returns the token once.
// verify() answers kUnauthenticated for an unknown, malformed or revoked token. Verified
// tokens are remembered in memory by id (with their salt and hash, never the secret) until
// any token is revoked, so the hot path does not touch the database; every verification
// compares the secret's hash in constant time, cached or not. A token carries the list of
// users it may run jobs as (its run-as list), fixed when it is created. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "aion/api/http.h"
#include "aion/core/clock.h"
#include "aion/store/store.h"

namespace aion::api {

struct TokenInfo {
  std::string id;
  Role role = Role::kViewer;
  std::string note;
  std::int64_t created_ms = 0;
  std::int64_t last_used_ms = 0;    // 0: never
  std::int64_t revoked_ms = 0;      // 0: active
  std::vector<std::string> run_as;  // users its jobs may run as; empty: none
};

struct CreatedToken {
  TokenInfo info;
  std::string token;  // the secret, shown once
};

class TokenStore {
 public:
  TokenStore(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  static std::span<const store::Migration> migrations();

  // `run_as` is stored as given: the caller checks that each name is a regular account and
  // that it may grant it (see accounts.h).
  Result<CreatedToken> create(Role role, std::string note, std::vector<std::string> run_as = {});
  Result<Identity> verify(std::string_view token);
  // kNotFound for an unknown id; revoking twice is fine.
  Status revoke(std::string_view id);
  Result<std::vector<TokenInfo>> list();

 private:
  store::Store& store_;
  const Clock& clock_;
  struct Verified {
    std::string salt;
    std::string hash;  // SHA-256(salt || secret)
    Identity identity;
  };
  std::mutex cache_mu_;                                 // guards verified_
  std::unordered_map<std::string, Verified> verified_;  // guarded by cache_mu_; token id ->
};

}  // namespace aion::api
