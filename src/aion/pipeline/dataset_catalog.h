// DatasetCatalog: the stored datasets, their versions and manifests, in a SQLite file of the
// invoking user's state directory (datasets.db; store::Database checks it at open, so a
// truncated or damaged file is a kCorrupt error naming it, with a copy set aside).
//
// Layout (module "datasets" migrations): datasets(name); dataset_versions (id: the catalog-wide
// id other records such as pipeline runs refer to, AUTOINCREMENT so never reused);
// dataset_files keyed by (version_id, path), hashes as BLOBs, indexed by (xxh3, size) to find
// duplicates; dataset_modalities (totals per version); stage_cache (staged copies, stage.h).
// A version's rows are written in one transaction (Writer), so a version is all there or not.
//
// Not thread-safe: one thread uses a catalog (the CLI's). Other processes may use the file at
// once; a second writer waits up to the busy timeout, then gets kConflict.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/clock.h"
#include "aion/core/error.h"
#include "aion/pipeline/dataset.h"
#include "aion/store/database.h"

namespace aion::pipeline {

// Up to `max_listed` paths of one kind of change, and how many there are in all.
struct DiffList {
  std::uint64_t count = 0;
  std::vector<std::string> paths;  // raw bytes, path order
};

// From one version to another: paths only in the new one, only in the old one, and in both
// with other content (or kind, or link target). A changed mtime alone is no change.
struct Diff {
  DiffList added, removed, changed;
  bool empty() const { return added.count == 0 && removed.count == 0 && changed.count == 0; }
};

struct DuplicateCopy {
  std::string dataset;
  int version = 0;
  std::string path;
};

// Files of the same content (XXH3-128 and size) in more than one dataset.
struct DuplicateGroup {
  Xxh128 xxh3;
  std::uint64_t size = 0;
  std::vector<DuplicateCopy> copies;  // up to a bound, by dataset, version, path
  std::uint64_t total_copies = 0;
};

struct DuplicateReport {
  std::vector<DuplicateGroup> groups;  // largest files first, up to the bound asked for
  std::uint64_t total_groups = 0;
  std::uint64_t total_bytes = 0;  // sum of the groups' file sizes (one copy each)
};

// A staged copy of a version in the stage cache.
struct StagedCopy {
  std::int64_t version_id = 0;
  std::string dir;
  std::uint64_t bytes = 0;
  std::int64_t staged_at_ms = 0;
  std::int64_t last_used_ms = 0;
};

class DatasetCatalog {
 public:
  // <state_dir>/datasets.db.
  static std::filesystem::path default_file(const std::filesystem::path& state_dir);
  // Opens (creating it and its directory, mode 0700) and migrates the catalog.
  static Result<std::unique_ptr<DatasetCatalog>> open(const std::filesystem::path& file,
                                                      const Clock* clock = nullptr);
  // Opens an existing catalog for reading only: no directory, migration or journal is
  // created (kNotFound without the file). For readers that are not the catalog's owner, such
  // as aiond resolving a pipeline's dataset inputs.
  static Result<std::unique_ptr<DatasetCatalog>> open_read_only(const std::filesystem::path& file);

  // A version being written, inside one transaction. add() each entry, then commit(); a
  // Writer dropped without commit() leaves no trace.
  class Writer {
   public:
    Writer(Writer&&) = default;
    Status add(const FileEntry& entry);
    std::int64_t version_id() const { return info_.id; }
    // The manifest id of what was added so far (a pass over the rows in path order).
    Result<Xxh128> manifest_id();
    // Stores the counts of `info` (files, bytes, links, skipped, unreadable, sha256, totals;
    // the manifest id is computed) and commits. Returns the stored version.
    Result<VersionInfo> commit(const VersionInfo& info);
    // For a tree whose manifest equals version `target`'s: copies the SHA-256 of the entries
    // added so far onto the same paths of `target`, marks `target` as having SHA-256, and
    // commits without keeping the version being written.
    Status commit_sha256_into(std::int64_t target_version_id);

   private:
    friend class DatasetCatalog;
    Writer(DatasetCatalog* cat, store::Transaction tx, VersionInfo info)
        : cat_(cat), tx_(std::move(tx)), info_(std::move(info)) {}
    DatasetCatalog* cat_;
    store::Transaction tx_;
    VersionInfo info_;
  };

  // Starts the next version of `name` (creating the dataset) read from `source`.
  // kConflict when another process writes the catalog for longer than the busy timeout.
  Result<Writer> begin_version(std::string_view name, const std::string& source);

  // Every version of every dataset, by name then version.
  Result<std::vector<VersionInfo>> list();
  // The versions of one dataset, oldest first; empty when it does not exist.
  Result<std::vector<VersionInfo>> versions(std::string_view name);
  // The version `ref` names (its latest when no version is given). kNotFound naming what
  // exists.
  Result<VersionInfo> resolve(const VersionRef& ref);
  Result<VersionInfo> by_id(std::int64_t version_id);

  // Every entry of a version, in path order; stops at the first error `fn` returns.
  Status for_each_file(std::int64_t version_id, const std::function<Status(FileEntry&&)>& fn);
  Result<std::optional<FileEntry>> find_file(std::int64_t version_id, std::string_view path);

  Result<Diff> diff(std::int64_t from_version_id, std::int64_t to_version_id,
                    std::size_t max_listed);

  // Content held by more than one dataset: across the whole catalog, or (version_id) the
  // content of one version that other datasets hold too. Empty files are not counted.
  Result<DuplicateReport> duplicates(std::optional<std::int64_t> version_id, std::size_t max_groups,
                                     std::size_t max_copies);

  // Removes one version (the dataset too when it was its last), or every version of a
  // dataset. Returns what was removed; stage-cache rows of those versions go with them (the
  // caller removes their directories: stage.h's remove_dataset()).
  Result<std::vector<VersionInfo>> remove(const VersionRef& ref);

  Result<std::vector<StagedCopy>> staged();  // least recently used first
  Result<std::optional<StagedCopy>> staged(std::int64_t version_id);
  Status record_staged(const StagedCopy& copy);
  Status touch_staged(std::int64_t version_id);
  Status forget_staged(std::int64_t version_id);

  const Clock& clock() const { return *clock_; }
  const std::filesystem::path& path() const { return db_->path(); }

 private:
  DatasetCatalog(std::unique_ptr<store::Database> db, const Clock* clock)
      : db_(std::move(db)), clock_(clock) {}
  Result<std::vector<VersionInfo>> query_versions(std::string_view where, std::string_view arg,
                                                  std::int64_t id_arg);
  Status load_totals(VersionInfo& v);

  std::unique_ptr<store::Database> db_;
  const Clock* clock_;
};

}  // namespace aion::pipeline
