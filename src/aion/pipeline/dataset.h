// Datasets: named, versioned, content-addressed manifests of directory trees. A version lists
// every file of the tree (relative path, size, mtime, XXH3-128 and optionally SHA-256, and its
// modality); symlinks are recorded as links (their target, never followed). These are the value
// types shared by the catalog (dataset_catalog.h), adding and verifying (dataset_add.h,
// dataset_verify.h) and staging (stage.h), and the rules for names. Values; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aion/core/error.h"
#include "aion/pipeline/hash.h"
#include "aion/pipeline/modality.h"

namespace aion::pipeline {

// Stored in the catalog by number: never renumber.
enum class FileKind : std::uint8_t { kFile = 0, kSymlink = 1 };

// One entry of a manifest. `path` is relative to the tree's root, '/'-separated, the bytes the
// file system gave (not necessarily UTF-8); display_path() makes it printable.
struct FileEntry {
  std::string path;
  FileKind kind = FileKind::kFile;
  std::uint64_t size = 0;  // bytes; for a link, the length of its target
  std::int64_t mtime_ns = 0;
  std::uint32_t mode = 0;  // permission bits
  Xxh128 xxh3;             // of the content; for a link, of its target
  std::optional<Sha256> sha256;
  Modality modality = Modality::kOther;
  std::string format;       // "png", "csv", ... ("" unknown)
  std::string link_target;  // for a link
};

struct ModalityTotals {
  std::array<std::uint64_t, kModalityCount> files{};
  std::array<std::uint64_t, kModalityCount> bytes{};
  void add(Modality m, std::uint64_t size) {
    files[static_cast<std::size_t>(m)] += 1;
    bytes[static_cast<std::size_t>(m)] += size;
  }
};

// One stored version of a dataset. `id` is the catalog-wide id other records (pipelines,
// artifacts) refer to; it is never reused, even after the version is removed. `manifest_id` is
// the XXH3-128 of the manifest in path order (paths, kinds and content hashes): two versions
// with the same manifest_id hold the same files, on any machine.
struct VersionInfo {
  std::int64_t id = 0;
  std::string dataset;
  int version = 0;
  std::string source;  // absolute path of the tree it was read from (file-system bytes)
  std::int64_t created_at_ms = 0;
  std::uint64_t files = 0;  // regular files
  std::uint64_t bytes = 0;  // of the regular files
  std::uint64_t links = 0;
  std::uint64_t skipped_special = 0;  // FIFOs, sockets, devices: not recorded
  std::uint64_t unreadable = 0;       // could not be read: not recorded
  bool sha256 = false;                // every file has a SHA-256
  Xxh128 manifest_id;
  ModalityTotals totals;
};

// NAME or NAME@VERSION.
struct VersionRef {
  std::string name;
  std::optional<int> version;  // none: the latest
  std::string text() const;
};

// Names are 1-128 characters of [A-Za-z0-9._-], not starting with '.' or '-' (they become
// directory names in the stage cache). kInvalidArgument naming the rule otherwise.
Status check_dataset_name(std::string_view name);
// "imagenet", "imagenet@3"; kInvalidArgument for a bad name or version.
Result<VersionRef> parse_version_ref(std::string_view text);

// A path or name made safe to print and to put in JSON: valid UTF-8 passes through; a
// backslash becomes "\\", control bytes "\n", "\t", "\r" or "\xNN", and every byte that is not
// part of valid UTF-8 "\xNN". Reversible, so distinct names stay distinct.
std::string display_path(std::string_view raw);

// "1.5 GiB", "312 KiB", "17 B".
std::string format_bytes(std::uint64_t bytes);

}  // namespace aion::pipeline
