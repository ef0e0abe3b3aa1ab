// Content hashes of dataset files: XXH3-128 (xxHash, Debian libxxhash-dev) always, SHA-256
// (OpenSSL EVP) on request, both computed in one pass over large sequential reads, optionally
// writing every block read to a second file (staging copies a file and proves the copy in the
// same pass). A FileHasher owns its buffer and hash states and is used by one thread at a time;
// separate FileHashers are independent. The free functions are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aion/core/error.h"

namespace aion::pipeline {

// 1 MiB: large enough that a read costs far more than the syscall, small enough that eight
// workers hold 8 MiB of buffers.
inline constexpr std::size_t kHashBufferBytes = std::size_t{1} << 20;
// The bytes kept from the start of a file for modality detection: the deepest magic number we
// look at (tar's "ustar" at offset 257) plus room.
inline constexpr std::size_t kHeadBytes = 512;

// An XXH3-128 digest, big-endian (canonical) bytes as xxhsum prints them.
struct Xxh128 {
  std::array<std::uint8_t, 16> bytes{};
  bool operator==(const Xxh128&) const = default;
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  std::string hex() const;
  // From 16 stored bytes; nullopt for any other length.
  static std::optional<Xxh128> from_bytes(std::string_view b);
};

using Sha256 = std::array<std::uint8_t, 32>;

struct HashResult {
  Xxh128 xxh3;
  std::optional<Sha256> sha256;  // when the hasher was asked for it
  std::uint64_t bytes = 0;       // read (and written, when copying)
  std::string head;              // the first kHeadBytes bytes (fewer for a short file)
};

class FileHasher {
 public:
  explicit FileHasher(bool sha256);
  ~FileHasher();
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  // Hashes `fd` from its position to end of file. When `out_fd` >= 0 every block is written
  // to it as well (a short write is retried; ENOSPC is kResourceExhausted). `progress(bytes)`
  // (may be empty) runs after each block with that block's size. Errors name `what`.
  Result<HashResult> hash_fd(int fd, std::string_view what, int out_fd = -1,
                             const std::function<void(std::uint64_t)>& progress = {});
  // The same over bytes in memory (symlink targets are recorded by the hash of the target).
  HashResult hash_bytes(std::string_view bytes);

 private:
  void reset();
  struct State;
  std::unique_ptr<State> state_;
};

// Lowercase hex of any bytes.
std::string to_hex(std::string_view bytes);
inline std::string to_hex(const Sha256& d) {
  return to_hex({reinterpret_cast<const char*>(d.data()), d.size()});
}

}  // namespace aion::pipeline
