#include "aion/pipeline/dataset_add.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>

#include "aion/core/fd.h"
#include "aion/pipeline/dataset_pool.h"
#include "aion/pipeline/dataset_walk.h"
#include "aion/pipeline/hash.h"

namespace aion::pipeline {

static_assert(kHeadBytes == kHeadBytesForRules, "detection must see the bytes the hasher keeps");

namespace {

// Modification times this close to a version's reading are not trusted to show a later
// change: mtime granularity is a clock tick on local file systems, up to 2 s on FAT and
// some network file systems.
constexpr std::int64_t kRacyMarginMs = 2000;

std::string_view base_name(std::string_view rel) {
  auto slash = rel.rfind('/');
  return slash == std::string_view::npos ? rel : rel.substr(slash + 1);
}

}  // namespace

Result<AddResult> add_dataset(DatasetCatalog& catalog, const ModalityTable& modalities,
                              std::string_view name, const std::filesystem::path& dir,
                              const AddOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (auto ok = check_dataset_name(name); !ok) return std::unexpected(ok.error());
  // The tree is recorded by its real path: the links below it are never followed, but the
  // one the user named is.
  char* real = ::realpath(dir.c_str(), nullptr);
  if (!real) {
    return std::unexpected(
        errno_error(errno, "reading the dataset directory " + display_path(dir.string())));
  }
  const std::string root = real;
  std::free(real);

  auto previous = catalog.versions(name);
  if (!previous) return std::unexpected(previous.error());
  auto writer = catalog.begin_version(name, root);
  if (!writer) return std::unexpected(writer.error());

  AddResult result;
  VersionInfo counts;
  counts.sha256 = options.sha256;
  Progress progress;
  auto note_unreadable = [&](std::string_view path, const Error& e) {
    ++result.unreadable_count;
    if (result.unreadable.size() < options.max_listed) {
      result.unreadable.push_back({std::string(path), e.message()});
    }
  };
  std::optional<Error> strict_error;

  std::function<void()> report;
  HashPool pool(options.threads, options.sha256, [&] { report(); });
  report = [&] {
    if (!options.progress) return;
    progress.bytes = pool.bytes();
    options.progress(progress);
  };

  // The latest version's entries, for files whose size and mtime did not change. Its SHA-256
  // is needed too when this version records them.
  const std::optional<VersionInfo> latest =
      !options.rehash && !previous->empty() && (!options.sha256 || previous->back().sha256)
          ? std::optional<VersionInfo>(previous->back())
          : std::nullopt;
  // A file modified within a clock tick of when the latest version read it may have been
  // modified again after the read without its mtime moving ("racily clean", as git calls
  // it): such files are read again. The version's creation time is when its reading began.
  const std::int64_t racy_from_ns =
      latest ? (latest->created_at_ms - kRacyMarginMs) * 1'000'000 : 0;
  auto reuse = [&](const WalkEntry& w) -> Result<std::optional<FileEntry>> {
    if (!latest || w.mtime_ns >= racy_from_ns) return std::optional<FileEntry>();
    auto prev = catalog.find_file(latest->id, w.path);
    if (!prev) return std::unexpected(prev.error());
    if (!*prev || (*prev)->kind != FileKind::kFile || (*prev)->size != w.size ||
        (*prev)->mtime_ns != w.mtime_ns || (*prev)->mode != w.mode ||
        (options.sha256 && !(*prev)->sha256)) {
      return std::optional<FileEntry>();  // a chmod may have made it unreadable: read it
    }
    if (!options.sha256) (*prev)->sha256.reset();
    return prev;
  };

  auto on_entry = [&](WalkEntry&& w) -> Status {
    ++progress.total_files;
    if (w.kind == FileKind::kFile) {
      auto same = reuse(w);
      if (!same) return std::unexpected(same.error());
      if (*same) {
        FileEntry& e = **same;
        ++counts.files;
        counts.bytes += e.size;
        counts.totals.add(e.modality, e.size);
        ++result.reused;
        ++progress.files;
        return writer->add(e);
      }
    }
    if (w.kind == FileKind::kSymlink) {
      FileEntry e;
      e.path = std::move(w.path);
      e.kind = FileKind::kSymlink;
      e.size = w.size;
      e.mtime_ns = w.mtime_ns;
      e.mode = w.mode;
      e.link_target = std::move(w.link_target);
      FileHasher h(options.sha256);
      HashResult r = h.hash_bytes(e.link_target);
      e.xxh3 = r.xxh3;
      e.sha256 = r.sha256;
      e.modality = Modality::kOther;
      ++counts.links;
      ++progress.files;
      return writer->add(e);
    }
    auto task = [&, root, w = std::move(w)](FileHasher& hasher) mutable -> HashPool::Completion {
      const std::string full = root + "/" + w.path;
      Fd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      std::optional<Error> err;
      HashResult r;
      struct stat st {};
      if (!fd.valid()) {
        err = errno_error(errno, "opening it");
      } else if (fstat(fd.get(), &st) != 0 || st.st_ino != w.ino || st.st_dev != w.dev) {
        err = Error(ErrorCode::kConflict, "it was replaced while the tree was read");
      } else {
        posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        auto h = hasher.hash_fd(fd.get(), "it", -1, [&](std::uint64_t n) { pool.add_bytes(n); });
        if (!h) {
          err = h.error();
        } else {
          r = std::move(*h);
        }
      }
      return [&, w = std::move(w), r = std::move(r), err = std::move(err), st]() mutable -> Status {
        ++progress.files;
        if (err) {
          note_unreadable(w.path, *err);
          if (options.strict && !strict_error) {
            strict_error = Error(err->code(), "cannot read '" + display_path(w.path) + "' in " +
                                                  display_path(root) + ": " + err->message() +
                                                  " (--strict: nothing was stored)");
            return std::unexpected(*strict_error);
          }
          return {};
        }
        FileEntry e;
        e.kind = FileKind::kFile;
        e.size = r.bytes;  // what was hashed, even when the file grew since the walk
        e.mtime_ns = mtime_ns_of(st);
        e.mode = w.mode;
        e.xxh3 = r.xxh3;
        e.sha256 = r.sha256;
        Detection d = modalities.detect(r.head, base_name(w.path));
        e.modality = d.modality;
        e.format = std::move(d.format);
        e.path = std::move(w.path);
        ++counts.files;
        counts.bytes += e.size;
        counts.totals.add(e.modality, e.size);
        return writer->add(e);
      };
    };
    return pool.submit(std::move(task));
  };
  auto on_unreadable = [&](std::string_view path, const Error& e) {
    note_unreadable(path, e);
    if (options.strict && !strict_error) {
      strict_error =
          Error(e.code(), "cannot read '" + display_path(path) + "' in " + display_path(root) +
                              ": " + e.message() + " (--strict: nothing was stored)");
    }
  };
  auto walked = walk_tree(root, on_entry, on_unreadable);
  if (!walked) return std::unexpected(walked.error());
  if (auto ok = pool.finish(); !ok) return std::unexpected(ok.error());
  if (strict_error) return std::unexpected(*strict_error);
  report();

  counts.skipped_special = walked->special;
  counts.unreadable = result.unreadable_count;
  result.special = walked->special;

  auto manifest = writer->manifest_id();
  if (!manifest) return std::unexpected(manifest.error());
  if (!previous->empty() && previous->back().manifest_id == *manifest) {
    result.created = false;
    result.version = previous->back();
    if (options.sha256 && !result.version.sha256) {
      // Same content, now with SHA-256: the latest version gets them.
      if (auto ok = writer->commit_sha256_into(result.version.id); !ok) {
        return std::unexpected(ok.error());
      }
      result.version.sha256 = true;
      result.sha256_added = true;
    }
  } else {
    auto stored = writer->commit(counts);
    if (!stored) return std::unexpected(stored.error());
    result.created = true;
    result.version = std::move(*stored);
    if (!previous->empty()) {
      auto d = catalog.diff(previous->back().id, result.version.id, options.max_listed);
      if (!d) return std::unexpected(d.error());
      result.diff = std::move(*d);
    }
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace aion::pipeline
