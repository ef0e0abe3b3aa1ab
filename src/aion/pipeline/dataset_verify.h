// Verifying a dataset version against a tree (by default the one it was added from): every
// manifest entry is re-read and re-hashed on a few threads, and every file of the tree that the
// manifest lacks is found with a second, streaming walk. A file is "changed" when its content
// differs and its size or mtime does too (someone edited it), "corrupt" when its content
// differs but size and mtime are as recorded (the bytes changed behind the file system's
// back: bit rot, a bad copy), "missing" when it is gone, "extra" when the manifest lacks it,
// "unreadable" when it cannot be read. Runs on the caller's thread plus the pool's; not
// thread-safe per catalog.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/pipeline/dataset_add.h"
#include "aion/pipeline/dataset_catalog.h"

namespace aion::pipeline {

enum class VerifyState : std::uint8_t { kOk, kChanged, kMissing, kCorrupt, kExtra, kUnreadable };
inline constexpr std::size_t kVerifyStates = 6;
std::string_view to_string(VerifyState s);  // "ok", "changed", ...

struct VerifyFinding {
  std::string path;  // raw bytes, relative to the root
  VerifyState state = VerifyState::kOk;
  std::string detail;
};

struct VerifyOptions {
  std::filesystem::path root;  // empty: the version's source
  int threads = 0;             // <= 0: default_hash_threads()
  bool extras = true;          // also walk the tree for files the manifest lacks
  std::size_t max_listed = 1000;
  std::function<void(const Progress&)> progress;  // may be empty
};

struct VerifyReport {
  VersionInfo version;
  std::string root;
  std::uint64_t checked = 0;                          // manifest entries checked
  std::uint64_t bytes = 0;                            // read
  std::array<std::uint64_t, kVerifyStates> counts{};  // by VerifyState
  std::vector<VerifyFinding> findings;  // problems only, up to max_listed, in manifest order
  double seconds = 0;
  bool ok() const;  // nothing but kOk
};

// Errors: the root cannot be opened, the catalog's errors. Problems with files are findings.
Result<VerifyReport> verify_dataset(DatasetCatalog& catalog, const VersionInfo& version,
                                    const VerifyOptions& options);

}  // namespace aion::pipeline
