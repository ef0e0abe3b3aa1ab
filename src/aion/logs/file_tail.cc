#include "aion/logs/file_tail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace aion::logs {

FileTail::FileTail(HostFs fs, std::string host_path, std::optional<FileCursor> resume)
    : fs_(std::move(fs)), path_(std::move(host_path)), resume_(resume) {}

FileTail::~FileTail() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileTail::open_current(bool from_start) {
  std::string real = fs_.resolve(path_).string();
  int fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  ::fstat(fd, &st);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  inode_ = static_cast<std::uint64_t>(st.st_ino);
  offset_ = 0;
  lines_.reset();
  if (!from_start) {
    std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    if (resume_ && resume_->inode == inode_ && resume_->offset <= size) {
      offset_ = resume_->offset;
    } else if (!resume_) {
      offset_ = size;
    }
    // A saved cursor of another inode: the file rotated while we were away; read it all.
  }
  ::lseek(fd_, static_cast<off_t>(offset_), SEEK_SET);
  return true;
}

void FileTail::drain(std::vector<std::string>& out, std::size_t max_lines) {
  char buf[65536];
  while (out.size() < max_lines) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    offset_ += static_cast<std::uint64_t>(n);
    lines_.feed(
        std::string_view(buf, static_cast<std::size_t>(n)),
        [&](std::string_view line) {
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          out.emplace_back(line);
        },
        [&] { ++oversized_; });
  }
}

Result<std::vector<std::string>> FileTail::poll(std::size_t max_lines) {
  std::vector<std::string> out;
  if (fd_ < 0) {
    if (!open_current(started_)) return out;
    started_ = true;
  }
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < offset_) {
    ++truncations_;
    offset_ = 0;
    lines_.reset();
    ::lseek(fd_, 0, SEEK_SET);
  }
  drain(out, max_lines);
  if (out.size() >= max_lines) return out;
  struct stat now {};
  std::string real = fs_.resolve(path_).string();
  if (::stat(real.c_str(), &now) == 0 && static_cast<std::uint64_t>(now.st_ino) != inode_) {
    // Rotated: the old file is read to its end above; what is left unfinished there is a
    // complete line now that nobody appends to it.
    if (std::string rest = lines_.take_unfinished(); !rest.empty()) out.push_back(std::move(rest));
    ++rotations_;
    if (open_current(true)) drain(out, max_lines);
  }
  return out;
}

}  // namespace aion::logs
