// FileTail: follows a growing log file the way `tail -F` does, through HostFs.
//
// poll() returns the complete lines appended since the last call. When the path names a new
// file (its inode changed: logrotate moved the old one away and created another), the rest
// of the old file is read first and then the new one from its start; when the file shrank
// below the read offset (truncated in place, `> file`), reading restarts at its start. A line
// without its '\n' yet is held back until it is complete. The cursor (inode, offset) can be
// saved and given back to resume after a restart; a cursor whose inode is no longer at the
// path means the file rotated meanwhile, and the new file is read from its start.
// A line longer than kMaxLineBytes (a binary file, a runaway writer) is skipped up to its
// '\n' and counted in oversized(), so a file without newlines never grows memory.
// Not thread-safe: a FileTail belongs to one reader thread (LogService's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/logs/line_splitter.h"

namespace aion::logs {

inline constexpr std::size_t kMaxLineBytes = 1 << 20;

struct FileCursor {
  std::uint64_t inode = 0;
  std::uint64_t offset = 0;
};

class FileTail {
 public:
  // No cursor: start at the file's current end (only new lines are read).
  FileTail(HostFs fs, std::string host_path, std::optional<FileCursor> resume = std::nullopt);
  ~FileTail();
  FileTail(const FileTail&) = delete;
  FileTail& operator=(const FileTail&) = delete;

  // The new complete lines (without '\n'), at most max_lines. A missing file is not an
  // error (it may be rotating): it yields nothing until it appears.
  Result<std::vector<std::string>> poll(std::size_t max_lines = 10000);

  // Points at the start of the held-back partial line (or of the overlong line being
  // skipped), so a restart reads it whole (or skips it whole).
  FileCursor cursor() const { return {inode_, offset_ - lines_.unfinished()}; }
  const std::string& path() const { return path_; }
  std::uint64_t rotations() const { return rotations_; }
  std::uint64_t truncations() const { return truncations_; }
  std::uint64_t oversized() const { return oversized_; }

 private:
  bool open_current(bool from_start);
  void drain(std::vector<std::string>& out, std::size_t max_lines);

  HostFs fs_;
  std::string path_;
  std::optional<FileCursor> resume_;
  int fd_ = -1;
  std::uint64_t inode_ = 0;
  std::uint64_t offset_ = 0;  // bytes of the current file consumed, partial line included
  LineSplitter lines_{kMaxLineBytes};
  std::uint64_t rotations_ = 0;
  std::uint64_t truncations_ = 0;
  std::uint64_t oversized_ = 0;
  bool started_ = false;
};

}  // namespace aion::logs
