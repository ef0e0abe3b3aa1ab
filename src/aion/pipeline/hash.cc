#include "aion/pipeline/hash.h"

#include <openssl/evp.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace aion::pipeline {

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string Xxh128::hex() const {
  return to_hex(view());
}

std::optional<Xxh128> Xxh128::from_bytes(std::string_view b) {
  if (b.size() != 16) return std::nullopt;
  Xxh128 d;
  std::memcpy(d.bytes.data(), b.data(), 16);
  return d;
}

struct FileHasher::State {
  bool sha256 = false;
  XXH3_state_t* xxh = nullptr;
  EVP_MD_CTX* md = nullptr;
  std::vector<char> buffer;
};

FileHasher::FileHasher(bool sha256) : state_(std::make_unique<State>()) {
  state_->sha256 = sha256;
  state_->xxh = XXH3_createState();
  if (sha256) state_->md = EVP_MD_CTX_new();
  state_->buffer.resize(kHashBufferBytes);
}

FileHasher::~FileHasher() {
  XXH3_freeState(state_->xxh);
  if (state_->md) EVP_MD_CTX_free(state_->md);
}

void FileHasher::reset() {
  XXH3_128bits_reset(state_->xxh);
  if (state_->md) EVP_DigestInit_ex(state_->md, EVP_sha256(), nullptr);
}

namespace {

Xxh128 canonical(XXH128_hash_t h) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  Xxh128 d;
  std::memcpy(d.bytes.data(), c.digest, 16);
  return d;
}

Status write_all(int fd, const char* data, std::size_t n, std::string_view what) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error(errno, "writing the copy of " + std::string(what)));
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

}  // namespace

Result<HashResult> FileHasher::hash_fd(int fd, std::string_view what, int out_fd,
                                       const std::function<void(std::uint64_t)>& progress) {
  reset();
  HashResult r;
  State& s = *state_;
  for (;;) {
    ssize_t n = ::read(fd, s.buffer.data(), s.buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error(errno, "reading " + std::string(what)));
    }
    if (n == 0) break;
    const auto len = static_cast<std::size_t>(n);
    if (r.head.size() < kHeadBytes) {
      r.head.append(s.buffer.data(), std::min(len, kHeadBytes - r.head.size()));
    }
    XXH3_128bits_update(s.xxh, s.buffer.data(), len);
    if (s.md) EVP_DigestUpdate(s.md, s.buffer.data(), len);
    if (out_fd >= 0) {
      if (auto w = write_all(out_fd, s.buffer.data(), len, what); !w) {
        return std::unexpected(w.error());
      }
    }
    r.bytes += len;
    if (progress) progress(len);
  }
  r.xxh3 = canonical(XXH3_128bits_digest(s.xxh));
  if (s.md) {
    Sha256 d{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(s.md, d.data(), &len);
    r.sha256 = d;
  }
  return r;
}

HashResult FileHasher::hash_bytes(std::string_view bytes) {
  reset();
  HashResult r;
  XXH3_128bits_update(state_->xxh, bytes.data(), bytes.size());
  if (state_->md) EVP_DigestUpdate(state_->md, bytes.data(), bytes.size());
  r.xxh3 = canonical(XXH3_128bits_digest(state_->xxh));
  if (state_->md) {
    Sha256 d{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(state_->md, d.data(), &len);
    r.sha256 = d;
  }
  r.bytes = bytes.size();
  r.head = std::string(bytes.substr(0, kHeadBytes));
  return r;
}

}  // namespace aion::pipeline
