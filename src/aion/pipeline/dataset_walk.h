// Walking a dataset's directory tree without following links: every regular file and every
// symlink below the root is reported (a symlink as a link with its target, never followed, so
// nothing outside the tree is read through one); FIFOs, sockets and device nodes are counted
// and skipped; a directory or link that cannot be read is reported and skipped. Directories are
// opened relative to their parent's descriptor with O_NOFOLLOW, so a directory swapped for a
// link while the walk runs is not entered. The walk streams: it holds one open directory per
// level of depth and no list of the tree. A pure function over the file system; thread-safe.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "aion/core/error.h"
#include "aion/pipeline/dataset.h"

namespace aion::pipeline {

// Directories nested deeper than this are reported unreadable rather than entered (each level
// holds a descriptor; real datasets are a handful of levels deep).
inline constexpr int kMaxWalkDepth = 256;

struct WalkEntry {
  std::string path;  // relative to the root, '/'-separated
  FileKind kind = FileKind::kFile;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint32_t mode = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string link_target;  // for a link
};

struct WalkStats {
  std::uint64_t entries = 0;  // files and links reported
  std::uint64_t special = 0;  // skipped FIFOs, sockets, devices
  std::uint64_t unreadable = 0;
};

// Calls `on_entry` for each file and link (depth first, in directory order); stops and returns
// its error when it fails. `on_unreadable(path, error)` for each directory or link that could
// not be read (path relative, "" for none). Errors: the root cannot be opened as a directory
// (kNotFound, kPermissionDenied, kInvalidArgument for a file that is not a directory).
Result<WalkStats> walk_tree(
    const std::filesystem::path& root, const std::function<Status(WalkEntry&&)>& on_entry,
    const std::function<void(std::string_view, const Error&)>& on_unreadable);

// mtime of a stat result in nanoseconds since the epoch.
std::int64_t mtime_ns_of(const struct stat& st);

}  // namespace aion::pipeline
