// Staging a dataset version: copying (or hard-linking) its files from the tree it was added
// from into a directory where a job reads them, usually fast local storage. Every file is
// hashed while it is copied and compared with the manifest, so a staged copy is verified by
// construction; a difference fails the stage (the source changed since `add`: verify it).
// The copy is built in a hidden ".partial" directory beside the target and renamed into place,
// so the target is either complete or absent.
//
// Without an explicit target, versions go to the stage cache (a directory bounded in bytes,
// datasets.stage_cache_max_bytes): a version staged before is reused; to make room the least
// recently used staged versions are removed whole. Symlinks are recreated when their target
// stays inside the dataset, and skipped (counted) otherwise.
// Runs on the caller's thread plus a HashPool's; not thread-safe per catalog.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/pipeline/dataset_add.h"
#include "aion/pipeline/dataset_catalog.h"

namespace aion::pipeline {

struct StageCacheConfig {
  std::filesystem::path dir;
  std::uint64_t max_bytes = 0;
};

struct StageOptions {
  std::filesystem::path to;  // empty: the stage cache; else a directory that is absent or empty
  bool link = false;  // hard-link instead of copying when source and target share a file system
  int threads = 0;
  std::function<void(const Progress&)> progress;  // may be empty
};

struct StageResult {
  std::string dir;
  bool reused = false;  // already in the stage cache: nothing copied
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::uint64_t linked = 0;   // hard links made (the rest were copied)
  bool link_refused = false;  // --link asked but the file systems differ: copied
  std::uint64_t symlinks = 0;
  std::uint64_t skipped_symlinks = 0;  // pointing out of the dataset
  std::vector<StagedCopy> evicted;
  double seconds = 0;
};

// Errors: kResourceExhausted when the version is larger than the cache bound or the target's
// file system lacks the space; kAlreadyExists when `to` is not empty; kCorrupt when a source
// file no longer matches the manifest (naming it); file-system errors naming the path.
Result<StageResult> stage_dataset(DatasetCatalog& catalog, const VersionInfo& version,
                                  const StageOptions& options, const StageCacheConfig& cache);

// Removes staged copies, least recently used first, until `needed` more bytes fit under the
// bound; returns what it removed.
Result<std::vector<StagedCopy>> evict_for(DatasetCatalog& catalog, const StageCacheConfig& cache,
                                          std::uint64_t needed);

struct RemoveResult {
  std::vector<VersionInfo> removed;
  std::vector<std::string> staged_dirs_removed;
};

// Removes versions from the catalog (stage.h because their staged copies go too).
Result<RemoveResult> remove_dataset(DatasetCatalog& catalog, const VersionRef& ref);

// True when the relative `path` has no empty, "." or ".." component and does not start with
// '/': a manifest path that may be joined to a target directory.
bool safe_relative_path(std::string_view path);

}  // namespace aion::pipeline
