#include "state_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace aiond {
namespace fs = std::filesystem;
using aion::ErrorCode;

aion::Result<StateLock> StateLock::acquire(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) {
      return aion::fail(
          ErrorCode::kPermissionDenied,
          "cannot create state directory " + dir.string() + ": " + ec.message() +
              " (choose another with --state-dir, or run as a user who may write there)");
    }
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  }
  if (!fs::is_directory(dir, ec)) {
    return aion::fail(ErrorCode::kConfig,
                      "state directory " + dir.string() + " is not a directory");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return aion::fail(ErrorCode::kPermissionDenied,
                      "state directory " + dir.string() +
                          " is not writable: " + std::strerror(errno) +
                          " (fix its permissions or choose another with --state-dir)");
  }
  fs::path lock_path = dir / "aiond.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return aion::fail(ErrorCode::kPermissionDenied,
                      "cannot open " + lock_path.string() + ": " + std::strerror(errno));
  }
  // After an aiond was killed, a child it was starting at that moment (fork done, exec not
  // yet) still holds a copy of the lock for a few milliseconds. When the recorded owner is
  // gone, wait for that child to let go instead of refusing to start.
  for (int tries = 0;; ++tries) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    const int owner = std::atoi(pid.c_str());
    const bool owner_gone = owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH;
    if (err == EWOULDBLOCK && owner_gone && tries < 100) {
      ::usleep(50'000);
      continue;
    }
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return aion::fail(ErrorCode::kConflict,
                        "another aiond (pid " + pid + ") is already using state directory " +
                            dir.string() + "; stop it first or use another --state-dir");
    }
    return aion::fail(ErrorCode::kIo,
                      "cannot lock " + lock_path.string() + ": " + std::strerror(err));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    int err = errno;
    ::close(fd);
    return aion::fail(ErrorCode::kIo,
                      "cannot write " + lock_path.string() + ": " + std::strerror(err));
  }
  return StateLock(fd);
}

StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace aiond
