#include "aion/pipeline/stage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "aion/core/fd.h"
#include "aion/pipeline/dataset_pool.h"

namespace aion::pipeline {

namespace {

std::string parent_of(std::string_view rel) {
  auto slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(rel.substr(0, slash));
}

// Whether a link at `rel` pointing to `target` stays inside the dataset's root.
bool link_stays_inside(std::string_view rel, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  int depth = 0;
  for (char c : rel) depth += c == '/';
  std::size_t i = 0;
  while (i <= target.size()) {
    std::size_t j = target.find('/', i);
    if (j == std::string_view::npos) j = target.size();
    std::string_view part = target.substr(i, j - i);
    if (part == "..") {
      if (--depth < 0) return false;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    i = j + 1;
  }
  return true;
}

Status remove_tree(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) {
    return fail(ErrorCode::kIo,
                "cannot remove " + display_path(dir.string()) + ": " + ec.message());
  }
  return {};
}

// Creates rel's directories below `base` (each one only once per run: `made` remembers the
// last directory made, and manifests come in path order).
Status make_parents(const std::filesystem::path& base, const std::string& rel_dir,
                    std::string& made) {
  if (rel_dir.empty() || rel_dir == made) return {};
  std::error_code ec;
  std::filesystem::create_directories(base / rel_dir, ec);
  if (ec) {
    return fail(ErrorCode::kIo,
                "cannot create " + display_path((base / rel_dir).string()) + ": " + ec.message());
  }
  made = rel_dir;
  return {};
}

struct CopyOutcome {
  std::optional<Error> error;
  std::uint64_t bytes = 0;
  bool linked = false;
};

CopyOutcome copy_one(const std::string& src, const std::string& dst, const FileEntry& e, bool link,
                     FileHasher& hasher, HashPool& pool) {
  CopyOutcome out;
  Fd in(::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!in.valid()) {
    out.error = errno_error(errno, "opening " + display_path(src));
    return out;
  }
  struct stat st {};
  if (fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    out.error = Error(ErrorCode::kCorrupt, display_path(src) + " is no longer a regular file");
    return out;
  }
  Fd dst_fd;
  if (link) {
    if (::link(src.c_str(), dst.c_str()) != 0) {
      out.error = errno_error(errno, "linking " + display_path(dst));
      return out;
    }
    out.linked = true;
  } else {
    dst_fd = Fd(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       (e.mode & 0777) | 0600));
    if (!dst_fd.valid()) {
      out.error = errno_error(errno, "creating " + display_path(dst));
      return out;
    }
  }
  posix_fadvise(in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  auto h = hasher.hash_fd(in.get(), display_path(src), dst_fd.get(),
                          [&](std::uint64_t n) { pool.add_bytes(n); });
  if (!h) {
    out.error = h.error();
    return out;
  }
  out.bytes = h->bytes;
  if (h->xxh3 != e.xxh3 || h->bytes != e.size) {
    out.error = Error(ErrorCode::kCorrupt,
                      display_path(src) +
                          " no longer matches the manifest (it changed since `aion data add`); "
                          "run `aion data verify` and add the dataset again");
    return out;
  }
  if (dst_fd.valid()) {
    // The copy keeps the recorded mtime, so `aion data verify --root` on it tells a corrupt
    // copy from an edited one.
    struct timespec times[2] = {{0, UTIME_OMIT},
                                {static_cast<time_t>(e.mtime_ns / 1'000'000'000),
                                 static_cast<long>(e.mtime_ns % 1'000'000'000)}};
    futimens(dst_fd.get(), times);
  }
  return out;
}

Result<std::uint64_t> free_bytes(const std::filesystem::path& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) {
    return std::unexpected(errno_error(errno, "reading the free space of " + dir.string()));
  }
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

}  // namespace

bool safe_relative_path(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part.empty() || part == "." || part == "..") return false;
    i = j + 1;
  }
  return path.find('\0') == std::string_view::npos;
}

Result<std::vector<StagedCopy>> evict_for(DatasetCatalog& catalog, const StageCacheConfig& cache,
                                          std::uint64_t needed) {
  auto staged = catalog.staged();
  if (!staged) return std::unexpected(staged.error());
  std::uint64_t used = 0;
  for (const auto& s : *staged) used += s.bytes;
  std::vector<StagedCopy> evicted;
  for (const auto& s : *staged) {
    if (used + needed <= cache.max_bytes) break;
    if (auto ok = remove_tree(s.dir); !ok) return std::unexpected(ok.error());
    if (auto ok = catalog.forget_staged(s.version_id); !ok) return std::unexpected(ok.error());
    used -= s.bytes;
    evicted.push_back(s);
  }
  return evicted;
}

Result<StageResult> stage_dataset(DatasetCatalog& catalog, const VersionInfo& version,
                                  const StageOptions& options, const StageCacheConfig& cache) {
  const auto started = std::chrono::steady_clock::now();
  StageResult result;
  const bool to_cache = options.to.empty();
  const std::string label = version.dataset + "@" + std::to_string(version.version);
  std::filesystem::path target;
  std::error_code ec;
  if (to_cache) {
    if (version.bytes > cache.max_bytes) {
      return fail(ErrorCode::kResourceExhausted,
                  label + " holds " + format_bytes(version.bytes) +
                      ", more than the whole stage cache (datasets.stage_cache_max_bytes = " +
                      format_bytes(cache.max_bytes) + "): raise the bound or stage with --to DIR");
    }
    std::filesystem::create_directories(cache.dir, ec);
    if (ec) {
      return fail(ErrorCode::kIo,
                  "cannot create the stage cache " + cache.dir.string() + ": " + ec.message());
    }
    target = cache.dir / label;
    auto existing = catalog.staged(version.id);
    if (!existing) return std::unexpected(existing.error());
    if (*existing) {
      if (std::filesystem::is_directory((*existing)->dir, ec)) {
        if (auto ok = catalog.touch_staged(version.id); !ok) return std::unexpected(ok.error());
        result.dir = (*existing)->dir;
        result.reused = true;
        result.files = version.files;
        result.bytes = version.bytes;
        return result;
      }
      if (auto ok = catalog.forget_staged(version.id); !ok) return std::unexpected(ok.error());
    }
    auto evicted = evict_for(catalog, cache, version.bytes);
    if (!evicted) return std::unexpected(evicted.error());
    result.evicted = std::move(*evicted);
  } else {
    target = std::filesystem::absolute(options.to);
    if (std::filesystem::exists(std::filesystem::symlink_status(target, ec))) {
      if (!std::filesystem::is_directory(std::filesystem::symlink_status(target, ec)) ||
          !std::filesystem::is_empty(target, ec)) {
        return fail(ErrorCode::kAlreadyExists,
                    display_path(target.string()) +
                        " exists and is not an empty directory: stage into a new directory");
      }
    }
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) {
      return fail(ErrorCode::kIo,
                  "cannot create " + target.parent_path().string() + ": " + ec.message());
    }
  }

  const std::filesystem::path partial =
      target.parent_path() /
      ("." + target.filename().string() + ".partial-" + std::to_string(::getpid()));
  if (auto ok = remove_tree(partial); !ok) return std::unexpected(ok.error());
  if (::mkdir(partial.c_str(), 0755) != 0) {
    return std::unexpected(errno_error(errno, "creating " + display_path(partial.string())));
  }
  // Whatever fails below leaves no partial copy behind.
  struct Cleanup {
    std::filesystem::path dir;
    bool armed = true;
    ~Cleanup() {
      if (armed) {
        std::error_code e;
        std::filesystem::remove_all(dir, e);
      }
    }
  } cleanup{partial};

  struct stat src_st {
  }, dst_st{};
  if (::stat(version.source.c_str(), &src_st) != 0) {
    return std::unexpected(errno_error(errno, "opening " + display_path(version.source) +
                                                  ", the tree " + label + " was added from"));
  }
  ::stat(partial.c_str(), &dst_st);
  bool link = options.link;
  if (link && src_st.st_dev != dst_st.st_dev) {
    link = false;
    result.link_refused = true;
  }
  if (!link) {
    auto avail = free_bytes(partial);
    if (!avail) return std::unexpected(avail.error());
    if (*avail < version.bytes) {
      return fail(ErrorCode::kResourceExhausted, label + " needs " + format_bytes(version.bytes) +
                                                     " but " +
                                                     display_path(target.parent_path().string()) +
                                                     " has " + format_bytes(*avail) + " free");
    }
  }

  Progress progress;
  progress.total_files = version.files + version.links;
  std::function<void()> report;
  HashPool pool(options.threads, false, [&] { report(); });
  report = [&] {
    if (!options.progress) return;
    progress.bytes = pool.bytes();
    options.progress(progress);
  };
  std::string made;
  const std::string src_root = version.source;
  auto per_entry = [&](FileEntry&& e) -> Status {
    if (!safe_relative_path(e.path)) {
      return fail(ErrorCode::kCorrupt, "the manifest of " + label + " holds the path '" +
                                           display_path(e.path) +
                                           "', which leaves the dataset; not staged");
    }
    if (auto ok = make_parents(partial, parent_of(e.path), made); !ok) return ok;
    const std::string dst = (partial / e.path).string();
    if (e.kind == FileKind::kSymlink) {
      ++progress.files;
      if (!link_stays_inside(e.path, e.link_target)) {
        ++result.skipped_symlinks;
        return {};
      }
      if (::symlink(e.link_target.c_str(), dst.c_str()) != 0) {
        return std::unexpected(errno_error(errno, "creating the link " + display_path(dst)));
      }
      ++result.symlinks;
      return {};
    }
    return pool.submit([&, src = src_root + "/" + e.path, dst,
                        e = std::move(e)](FileHasher& hasher) -> HashPool::Completion {
      CopyOutcome out = copy_one(src, dst, e, link, hasher, pool);
      return [&, out = std::move(out)]() -> Status {
        ++progress.files;
        if (out.error) return std::unexpected(*out.error);
        ++result.files;
        result.bytes += out.bytes;
        result.linked += out.linked ? 1 : 0;
        return {};
      };
    });
  };
  Status walked = catalog.for_each_file(version.id, per_entry);
  Status finished = pool.finish();
  if (!walked) return std::unexpected(walked.error());
  if (!finished) return std::unexpected(finished.error());
  report();

  if (std::filesystem::exists(target, ec)) {
    std::filesystem::remove(target, ec);  // the empty directory checked above
  }
  if (::rename(partial.c_str(), target.c_str()) != 0) {
    return std::unexpected(
        errno_error(errno, "renaming the staged copy to " + display_path(target.string())));
  }
  cleanup.armed = false;
  result.dir = target.string();
  if (to_cache) {
    const std::int64_t now = to_unix_ms(catalog.clock().wall());
    if (auto ok = catalog.record_staged({version.id, result.dir, version.bytes, now, now}); !ok) {
      return std::unexpected(ok.error());
    }
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

Result<RemoveResult> remove_dataset(DatasetCatalog& catalog, const VersionRef& ref) {
  RemoveResult out;
  auto staged = catalog.staged();
  if (!staged) return std::unexpected(staged.error());
  auto removed = catalog.remove(ref);
  if (!removed) return std::unexpected(removed.error());
  out.removed = std::move(*removed);
  for (const auto& v : out.removed) {
    for (const auto& s : *staged) {
      if (s.version_id != v.id) continue;
      if (auto ok = remove_tree(s.dir); !ok) return std::unexpected(ok.error());
      out.staged_dirs_removed.push_back(s.dir);
    }
  }
  return out;
}

}  // namespace aion::pipeline
