#include "aion/api/sessions.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace aion::api {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::array<unsigned char, 64> buf{};
  if (bytes > buf.size() || RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("no random bytes for a session id");
  }
  return hex(buf.data(), bytes);
}

std::string sha256_hex(std::string_view s) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(s.data(), s.size(), out, &len, EVP_sha256(), nullptr);
  return hex(out, len);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view header(const Request& r, std::string_view name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string_view() : std::string_view(it->second);
}

bool equal_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

SessionStore::SessionStore(std::chrono::seconds idle_timeout, std::size_t max_sessions)
    : idle_timeout_(idle_timeout), max_sessions_(std::max<std::size_t>(1, max_sessions)) {}

NewSession SessionStore::create(std::string token) {
  NewSession s{random_hex(32), random_hex(32)};
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  expire_locked(now);
  while (by_hash_.size() >= max_sessions_) {
    auto oldest = std::min_element(by_hash_.begin(), by_hash_.end(), [](auto& a, auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    by_hash_.erase(oldest);
  }
  by_hash_[sha256_hex(s.id)] = Entry{{std::move(token), s.csrf}, now};
  return s;
}

std::optional<SessionState> SessionStore::find(std::string_view id) {
  if (id.size() != 64) return std::nullopt;
  auto key = sha256_hex(id);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(key);
  if (it == by_hash_.end()) return std::nullopt;
  if (now - it->second.last_used > idle_timeout_) {
    by_hash_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second.state;
}

void SessionStore::remove(std::string_view id) {
  auto key = sha256_hex(id);
  std::lock_guard lock(mu_);
  by_hash_.erase(key);
}

std::size_t SessionStore::size() const {
  std::lock_guard lock(mu_);
  return by_hash_.size();
}

void SessionStore::expire_locked(std::chrono::steady_clock::time_point now) {
  std::erase_if(by_hash_,
                [&](const auto& kv) { return now - kv.second.last_used > idle_timeout_; });
}

std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim(pair.substr(0, eq)) == name) return trim(pair.substr(eq + 1));
  }
  return std::nullopt;
}

std::string session_cookie(std::string_view id, bool secure, bool end) {
  std::string c = std::string(kSessionCookie) + "=" + (end ? std::string() : std::string(id)) +
                  "; Path=/; HttpOnly; SameSite=Strict";
  if (secure) c += "; Secure";
  if (end) c += "; Max-Age=0";
  return c;
}

bool origin_matches_host(const Request& r) {
  std::string_view origin = header(r, "origin");
  if (origin.empty()) return true;  // same-origin GETs and older browsers send none
  auto scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;  // "null" from sandboxed frames
  std::string_view host = header(r, "host");
  return !host.empty() && origin.substr(scheme_end + 3) == host;
}

std::string csrf_refusal(const Request& r, std::string_view session_csrf) {
  if (r.method == "GET" || r.method == "HEAD" || r.method == "OPTIONS") return {};
  if (!origin_matches_host(r)) {
    return "the request came from another origin (" + std::string(header(r, "origin")) +
           "); the dashboard's own pages are the only ones that may act with its session";
  }
  if (!equal_secret(header(r, kCsrfHeader), session_csrf)) {
    return "a request made with the dashboard's session cookie must carry its X-CSRF-Token "
           "header (from GET /v1/session); use an API token (Authorization: Bearer) from "
           "scripts";
  }
  return {};
}

}  // namespace aion::api
