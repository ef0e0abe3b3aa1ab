#include "aion/pipeline/dataset_verify.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include "aion/core/fd.h"
#include "aion/pipeline/dataset_pool.h"
#include "aion/pipeline/dataset_walk.h"

namespace aion::pipeline {

namespace {

constexpr std::array<std::string_view, kVerifyStates> kStateNames = {
    "ok", "changed", "missing", "corrupt", "extra", "unreadable"};

struct Check {
  VerifyState state = VerifyState::kOk;
  std::string detail;
  std::uint64_t bytes = 0;
};

// Re-reads one regular file of the manifest and says how it compares.
Check check_file(const std::string& full, const FileEntry& e, FileHasher& hasher, HashPool& pool) {
  Check c;
  Fd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return {VerifyState::kMissing, "not found", 0};
    if (err == ELOOP) return {VerifyState::kChanged, "is now a symlink", 0};
    return {VerifyState::kUnreadable, errno_error(err, "opening it").message(), 0};
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    return {VerifyState::kUnreadable, errno_error(errno, "reading its attributes").message(), 0};
  }
  if (!S_ISREG(st.st_mode)) return {VerifyState::kChanged, "is no longer a regular file", 0};
  posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  auto h = hasher.hash_fd(fd.get(), "it", -1, [&](std::uint64_t n) { pool.add_bytes(n); });
  if (!h) return {VerifyState::kUnreadable, h.error().message(), 0};
  c.bytes = h->bytes;
  if (h->xxh3 == e.xxh3 && h->bytes == e.size) return c;
  const bool same_size = static_cast<std::uint64_t>(st.st_size) == e.size;
  const bool same_mtime = mtime_ns_of(st) == e.mtime_ns;
  if (same_size && same_mtime) {
    c.state = VerifyState::kCorrupt;
    c.detail = "content differs (xxh3 " + h->xxh3.hex() + ", recorded " + e.xxh3.hex() +
               ") but size and mtime are as recorded";
  } else {
    c.state = VerifyState::kChanged;
    c.detail = same_size ? "modified since it was recorded"
                         : "size " + std::to_string(e.size) + " -> " +
                               std::to_string(static_cast<std::uint64_t>(st.st_size));
  }
  return c;
}

Check check_link(const std::string& full, const FileEntry& e) {
  struct stat st {};
  if (::lstat(full.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return {VerifyState::kMissing, "not found", 0};
    return {VerifyState::kUnreadable, errno_error(errno, "reading its attributes").message(), 0};
  }
  if (!S_ISLNK(st.st_mode)) return {VerifyState::kChanged, "is no longer a symlink", 0};
  std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
  ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
  if (n < 0) return {VerifyState::kUnreadable, errno_error(errno, "reading the link").message(), 0};
  target.resize(static_cast<std::size_t>(n));
  if (target != e.link_target) {
    return {
        VerifyState::kChanged,
        "points to '" + display_path(target) + "', recorded '" + display_path(e.link_target) + "'",
        0};
  }
  return {};
}

}  // namespace

std::string_view to_string(VerifyState s) {
  return kStateNames[static_cast<std::size_t>(s)];
}

bool VerifyReport::ok() const {
  for (std::size_t i = 1; i < kVerifyStates; ++i) {
    if (counts[i] != 0) return false;
  }
  return true;
}

Result<VerifyReport> verify_dataset(DatasetCatalog& catalog, const VersionInfo& version,
                                    const VerifyOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  VerifyReport report;
  report.version = version;
  report.root = options.root.empty() ? version.source : options.root.string();
  const std::string root = report.root;
  struct stat rst {};
  if (::stat(root.c_str(), &rst) != 0) {
    return std::unexpected(errno_error(
        errno, "opening " + display_path(root) + ", the tree of " + version.dataset + "@" +
                   std::to_string(version.version) + " (--root names another copy)"));
  }
  if (!S_ISDIR(rst.st_mode)) {
    return fail(ErrorCode::kInvalidArgument, display_path(root) + " is not a directory");
  }
  auto record = [&](std::string path, VerifyState state, std::string detail) {
    ++report.counts[static_cast<std::size_t>(state)];
    if (state != VerifyState::kOk && report.findings.size() < options.max_listed) {
      report.findings.push_back({std::move(path), state, std::move(detail)});
    }
  };
  Progress progress;
  progress.total_files = version.files + version.links;
  std::function<void()> report_progress;
  HashPool pool(options.threads, false, [&] { report_progress(); });
  report_progress = [&] {
    if (!options.progress) return;
    progress.bytes = pool.bytes();
    options.progress(progress);
  };

  auto per_entry = [&](FileEntry&& e) -> Status {
    std::string full = root + "/" + e.path;
    if (e.kind == FileKind::kSymlink) {
      Check c = check_link(full, e);
      ++report.checked;
      ++progress.files;
      record(std::move(e.path), c.state, std::move(c.detail));
      return {};
    }
    return pool.submit([&, full = std::move(full),
                        e = std::move(e)](FileHasher& hasher) mutable -> HashPool::Completion {
      Check c = check_file(full, e, hasher, pool);
      return [&, path = std::move(e.path), c = std::move(c)]() mutable -> Status {
        ++report.checked;
        ++progress.files;
        report.bytes += c.bytes;
        record(std::move(path), c.state, std::move(c.detail));
        return {};
      };
    });
  };
  if (auto ok = catalog.for_each_file(version.id, per_entry); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = pool.finish(); !ok) return std::unexpected(ok.error());
  report_progress();

  if (options.extras) {
    auto on_entry = [&](WalkEntry&& w) -> Status {
      auto found = catalog.find_file(version.id, w.path);
      if (!found) return std::unexpected(found.error());
      if (!*found) record(std::move(w.path), VerifyState::kExtra, "not in the manifest");
      return {};
    };
    auto on_unreadable = [&](std::string_view path, const Error& e) {
      record(std::string(path), VerifyState::kUnreadable, e.message());
    };
    auto walked = walk_tree(root, on_entry, on_unreadable);
    if (!walked) return std::unexpected(walked.error());
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace aion::pipeline
