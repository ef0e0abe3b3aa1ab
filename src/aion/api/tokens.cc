#include "aion/api/tokens.h"
#include "aion/core/strings.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

namespace aion::api {
namespace {

constexpr store::Migration kMigrations[] = {
    {"api", 1, "create api_tokens",
     "CREATE TABLE api_tokens ("
     " id TEXT PRIMARY KEY,"
     " role TEXT NOT NULL,"
     " salt BLOB NOT NULL,"
     " hash BLOB NOT NULL,"
     " note TEXT NOT NULL DEFAULT '',"
     " created_ms INTEGER NOT NULL,"
     " last_used_ms INTEGER NOT NULL DEFAULT 0,"
     " revoked_ms INTEGER NOT NULL DEFAULT 0)"},
    // Comma-separated user names a token's jobs may run as; tokens made before have none.
    {"api", 2, "api_tokens run_as",
     "ALTER TABLE api_tokens ADD COLUMN run_as TEXT NOT NULL DEFAULT ''"},
};

constexpr std::string_view kPrefix = "aion_";

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

Result<std::string> random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) {
    return fail(ErrorCode::kInternal, "the system random generator failed");
  }
  return hex(buf.data(), bytes);
}

std::string sha256(std::string_view salt, std::string_view secret) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, salt.data(), salt.size());
  EVP_DigestUpdate(ctx, secret.data(), secret.size());
  EVP_DigestFinal_ex(ctx, out, &len);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<char*>(out), len);
}

bool hash_matches(std::string_view salt, std::string_view secret, std::string_view hash) {
  std::string got = sha256(salt, secret);
  return got.size() == hash.size() && CRYPTO_memcmp(got.data(), hash.data(), got.size()) == 0;
}

std::unexpected<Error> unauthenticated() {
  return fail(ErrorCode::kUnauthenticated, "unknown or revoked token");
}

}  // namespace

std::span<const store::Migration> TokenStore::migrations() {
  return kMigrations;
}

Result<CreatedToken> TokenStore::create(Role role, std::string note,
                                        std::vector<std::string> run_as) {
  auto id = random_hex(4);
  auto secret = random_hex(24);
  auto salt = random_hex(16);
  if (!id || !secret || !salt)
    return fail(ErrorCode::kInternal, "the system random generator failed");
  CreatedToken out;
  out.info.id = *id;
  out.info.role = role;
  out.info.note = std::move(note);
  out.info.run_as = std::move(run_as);
  out.info.created_ms = to_unix_ms(clock_.wall());
  out.token = std::string(kPrefix) + *id + "_" + *secret;
  std::string hash = sha256(*salt, *secret);
  auto st = store_.with([&](store::Database& db) -> Status {
    auto s = db.prepare(
        "INSERT INTO api_tokens(id, role, salt, hash, note, created_ms, run_as) VALUES (?1, ?2, "
        "?3, ?4, ?5, ?6, ?7)");
    if (!s) return std::unexpected(s.error());
    (*s)->bind(1, out.info.id).bind(2, to_string(role)).bind_blob(3, *salt).bind_blob(4, hash);
    (*s)->bind(5, out.info.note).bind(6, out.info.created_ms).bind(7, join(out.info.run_as, ","));
    return (*s)->run();
  });
  if (!st) return std::unexpected(st.error());
  return out;
}

Result<Identity> TokenStore::verify(std::string_view token) {
  if (token.substr(0, kPrefix.size()) != kPrefix) return unauthenticated();
  std::string_view rest = token.substr(kPrefix.size());
  auto sep = rest.find('_');
  if (sep == std::string_view::npos) return unauthenticated();
  std::string id(rest.substr(0, sep));
  std::string_view secret = rest.substr(sep + 1);
  {
    // Keyed by the id, which is not secret: the lookup's timing tells nothing about the
    // secret, and the hash comparison below takes the same time for every wrong secret.
    std::lock_guard lock(cache_mu_);
    if (auto it = verified_.find(id); it != verified_.end()) {
      if (!hash_matches(it->second.salt, secret, it->second.hash)) return unauthenticated();
      return it->second.identity;
    }
  }
  Verified v;
  auto found = store_.with([&](store::Database& db) -> Result<Identity> {
    auto s =
        db.prepare("SELECT role, salt, hash, revoked_ms, run_as FROM api_tokens WHERE id = ?1");
    if (!s) return std::unexpected(s.error());
    (*s)->bind(1, id);
    auto row = (*s)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return unauthenticated();
    std::string role = (*s)->column_text(0);
    v.salt = (*s)->column_text(1);
    v.hash = (*s)->column_text(2);
    std::int64_t revoked = (*s)->column_int(3);
    std::vector<std::string> run_as = split((*s)->column_text(4), ',', {.skip_empty = true});
    (*s)->reset();
    if (revoked != 0 || !hash_matches(v.salt, secret, v.hash)) return unauthenticated();
    auto u = db.prepare("UPDATE api_tokens SET last_used_ms = ?2 WHERE id = ?1");
    if (u) {
      // When the token was last used is for its owner's information: the request goes on.
      if (auto st = (*u)->bind(1, id).bind(2, to_unix_ms(clock_.wall())).run(); !st) {
        spdlog::warn("event=token_last_used_failed id={} error=\"{}\"", id, st.error().message());
      }
    }
    v.identity =
        Identity{parse_role(role).value_or(Role::kViewer), "token:" + id, -1, std::move(run_as)};
    // Cached before the store is released: a revoke() waiting for it clears the cache after
    // this, so a token revoked meanwhile is never remembered as valid.
    Identity identity = v.identity;
    std::lock_guard lock(cache_mu_);
    verified_[id] = std::move(v);
    return identity;
  });
  return found;
}

Status TokenStore::revoke(std::string_view id) {
  auto st = store_.with([&](store::Database& db) -> Status {
    auto s = db.prepare(
        "UPDATE api_tokens SET revoked_ms = CASE revoked_ms WHEN 0 THEN ?2 ELSE revoked_ms END "
        "WHERE id = ?1");
    if (!s) return std::unexpected(s.error());
    if (auto r = (*s)->bind(1, id).bind(2, to_unix_ms(clock_.wall())).run(); !r) return r;
    if (db.changes() == 0) {
      return fail(ErrorCode::kNotFound,
                  "no token with id '" + std::string(id) + "' (see `aion admin token ls`)");
    }
    // Cleared while the store is held, so no verify() that read the token before the revoke
    // can cache it after the clear.
    std::lock_guard lock(cache_mu_);
    verified_.clear();
    return {};
  });
  return st;
}

Result<std::vector<TokenInfo>> TokenStore::list() {
  return store_.with([&](store::Database& db) -> Result<std::vector<TokenInfo>> {
    auto s = db.prepare(
        "SELECT id, role, note, created_ms, last_used_ms, revoked_ms, run_as FROM api_tokens "
        "ORDER BY created_ms");
    if (!s) return std::unexpected(s.error());
    std::vector<TokenInfo> out;
    Result<bool> row;
    while ((row = (*s)->step()) && *row) {
      TokenInfo t;
      t.id = (*s)->column_text(0);
      t.role = parse_role((*s)->column_text(1)).value_or(Role::kViewer);
      t.note = (*s)->column_text(2);
      t.created_ms = (*s)->column_int(3);
      t.last_used_ms = (*s)->column_int(4);
      t.revoked_ms = (*s)->column_int(5);
      t.run_as = split((*s)->column_text(6), ',', {.skip_empty = true});
      out.push_back(std::move(t));
    }
    (*s)->reset();
    if (!row) return std::unexpected(row.error());
    return out;
  });
}

}  // namespace aion::api
