// Adding a directory tree to the catalog as the next version of a dataset: walk it
// (dataset_walk.h), hash every file on a few threads (dataset_pool.h) and detect its
// modality (modality.h), write the manifest in one transaction, and keep the version only
// when its manifest differs from the latest version's (otherwise: "unchanged", nothing
// stored). A file whose path, size and modification time (to the nanosecond) are those of
// the latest version's entry keeps that entry's hashes and modality without being read
// again, as rsync's quick check and git's index do; `rehash` reads everything, and `verify`
// always does. Memory stays bounded: entries stream from the walk through the pool into the
// catalog. Runs on the caller's thread (plus the pool's); not thread-safe per catalog.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/pipeline/dataset.h"
#include "aion/pipeline/dataset_catalog.h"
#include "aion/pipeline/modality.h"

namespace aion::pipeline {

// Work done so far, for a progress display.
struct Progress {
  std::uint64_t files = 0;        // finished
  std::uint64_t bytes = 0;        // read
  std::uint64_t total_files = 0;  // known so far (grows while a walk runs)
};

struct Problem {
  std::string path;  // raw bytes, relative to the root
  std::string what;
};

struct AddOptions {
  bool sha256 = false;          // also SHA-256 of every file
  bool strict = false;          // an unreadable file or directory fails the add (no version stored)
  bool rehash = false;          // read every file, even those unchanged by size and mtime
  int threads = 0;              // <= 0: default_hash_threads()
  std::size_t max_listed = 50;  // paths listed per kind of change in the diff
  std::function<void(const Progress&)> progress;  // may be empty; on the caller's thread
};

struct AddResult {
  bool created = false;             // false: unchanged since the latest version, nothing stored
  bool sha256_added = false;        // unchanged, and its SHA-256 were recorded on the latest
  VersionInfo version;              // the new version, or (unchanged) the latest one
  std::optional<Diff> diff;         // from the previous version, when there is one and it changed
  std::vector<Problem> unreadable;  // not recorded (at most max_listed kept)
  std::uint64_t unreadable_count = 0;
  std::uint64_t special = 0;  // skipped FIFOs, sockets, devices
  std::uint64_t reused = 0;   // files unchanged by size and mtime, hashes taken from the latest
  double seconds = 0;
};

// Errors: the directory cannot be read (kNotFound, kPermissionDenied, kInvalidArgument), a bad
// name, the catalog's errors; with `strict`, kPermissionDenied/kIo naming the first unreadable
// path.
Result<AddResult> add_dataset(DatasetCatalog& catalog, const ModalityTable& modalities,
                              std::string_view name, const std::filesystem::path& dir,
                              const AddOptions& options);

}  // namespace aion::pipeline
