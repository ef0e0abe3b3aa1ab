// StateLock: one aiond per state directory. Holds an exclusive flock on
// <state_dir>/aiond.lock for the daemon's lifetime and records the holder's pid in it, so a
// second daemon can say who holds the state. The lock goes away with the process, even on
// SIGKILL, so a crash never leaves a stale lock. Not thread-safe, and needs none: the daemon's
// main thread takes it once at start and holds it until exit.
#pragma once

#include <filesystem>

#include "aion/core/error.h"

namespace aiond {

class StateLock {
 public:
  // Creates the state directory (0750) when missing, checks that it is writable and takes
  // the lock. Errors: kPermissionDenied (not writable), kConflict (held by another daemon,
  // message names its pid). Changes nothing on disk when the lock is held by another.
  static aion::Result<StateLock> acquire(const std::filesystem::path& state_dir);

  StateLock(StateLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StateLock& operator=(StateLock&&) = delete;
  StateLock(const StateLock&) = delete;
  ~StateLock();

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace aiond
