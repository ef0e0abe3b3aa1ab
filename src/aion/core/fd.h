// Fd: owns one open file descriptor and closes it when it goes out of scope. Movable, not
// copyable. Not thread-safe: like any value, one Fd must not be used from two threads at once.
#pragma once

#include <unistd.h>

#include <utility>

namespace aion {

class Fd {
 public:
  Fd() = default;
  // Takes ownership of `fd`; a negative value (a failed open) owns nothing.
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing; returns the descriptor.
  int release() { return std::exchange(fd_, -1); }
  // Closes what is owned (a close error is not reported: nothing useful can follow it for a
  // descriptor being dropped) and takes `fd` instead.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace aion
