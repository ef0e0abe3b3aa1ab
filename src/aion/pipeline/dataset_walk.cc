#include "aion/pipeline/dataset_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace aion::pipeline {

std::int64_t mtime_ns_of(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

namespace {

struct Level {
  DIR* dir;
  std::string prefix;  // "a/b/" ("" at the root)
};

// Closes every directory still open when the walk ends early.
struct LevelStack {
  std::vector<Level> levels;
  ~LevelStack() {
    for (auto& l : levels) closedir(l.dir);
  }
};

}  // namespace

Result<WalkStats> walk_tree(
    const std::filesystem::path& root, const std::function<Status(WalkEntry&&)>& on_entry,
    const std::function<void(std::string_view, const Error&)>& on_unreadable) {
  const std::string shown = display_path(root.string());
  int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    int err = errno;
    if (err == ENOTDIR) {
      return fail(ErrorCode::kInvalidArgument,
                  shown + " is not a directory: a dataset is a directory tree");
    }
    return std::unexpected(errno_error(err, "opening the dataset directory " + shown));
  }
  DIR* top = fdopendir(root_fd);
  if (!top) {
    int err = errno;
    ::close(root_fd);
    return std::unexpected(errno_error(err, "reading the dataset directory " + shown));
  }
  WalkStats stats;
  LevelStack stack;
  stack.levels.push_back({top, ""});
  while (!stack.levels.empty()) {
    Level& level = stack.levels.back();
    errno = 0;
    struct dirent* e = readdir(level.dir);
    if (!e) {
      if (errno != 0) {
        ++stats.unreadable;
        on_unreadable(level.prefix, errno_error(errno, "reading the directory"));
      }
      closedir(level.dir);
      stack.levels.pop_back();
      continue;
    }
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string rel = level.prefix + std::string(name);
    const int dfd = dirfd(level.dir);
    struct stat st;
    if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed while we walked
      ++stats.unreadable;
      on_unreadable(rel, errno_error(errno, "reading its attributes"));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (static_cast<int>(stack.levels.size()) >= kMaxWalkDepth) {
        ++stats.unreadable;
        on_unreadable(rel, Error(ErrorCode::kResourceExhausted, "nested deeper than " +
                                                                    std::to_string(kMaxWalkDepth) +
                                                                    " directories; not entered"));
        continue;
      }
      int fd = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      DIR* d = fd >= 0 ? fdopendir(fd) : nullptr;
      if (!d) {
        int err = errno;
        if (fd >= 0) ::close(fd);
        ++stats.unreadable;
        on_unreadable(rel, errno_error(err, "opening the directory"));
        continue;
      }
      stack.levels.push_back({d, rel + "/"});
      continue;
    }
    WalkEntry entry;
    entry.mtime_ns = mtime_ns_of(st);
    entry.mode = st.st_mode & 07777;
    entry.dev = st.st_dev;
    entry.ino = st.st_ino;
    if (S_ISREG(st.st_mode)) {
      entry.kind = FileKind::kFile;
      entry.size = static_cast<std::uint64_t>(st.st_size);
    } else if (S_ISLNK(st.st_mode)) {
      entry.kind = FileKind::kSymlink;
      std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
      ssize_t n = readlinkat(dfd, e->d_name, target.data(), target.size());
      if (n < 0) {
        ++stats.unreadable;
        on_unreadable(rel, errno_error(errno, "reading the link"));
        continue;
      }
      target.resize(static_cast<std::size_t>(n));
      entry.size = target.size();
      entry.link_target = std::move(target);
    } else {
      ++stats.special;
      continue;
    }
    entry.path = std::move(rel);
    ++stats.entries;
    if (auto ok = on_entry(std::move(entry)); !ok) return std::unexpected(ok.error());
  }
  return stats;
}

}  // namespace aion::pipeline
