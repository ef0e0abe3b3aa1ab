// Integrity of files: aion's own programs and data against the package's manifest (written
// when the .deb is built: /usr/lib/aion/manifest.sha256), and the files a job declares (model
// weights, datasets) against the checksums recorded for them, in the form sha256sum writes
// ("<64 hex digits>  <path>", a '*' before the path for binary mode; paths relative to the
// sums file's directory unless absolute). SHA-256 through OpenSSL, read in 1 MiB blocks.
// Pure functions over the file system; thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::guard {

struct SumEntry {
  std::string sha256;  // lowercase hex
  std::string path;    // as written
};

// kParse naming `source` and the line for anything but sum lines, blank lines and # comments.
Result<std::vector<SumEntry>> parse_sums(std::string_view text, const std::string& source);

// The SHA-256 of a file as lowercase hex; `progress(bytes)` (may be empty) after each block.
Result<std::string> sha256_file(const std::filesystem::path& file,
                                const std::function<void(std::uint64_t)>& progress = {});

struct FileVerdict {
  enum State { kOk, kMismatch, kMissing, kUnreadable, kUnlisted };
  std::string path;  // as listed (or, kUnlisted, relative to the root)
  State state = kOk;
  std::string detail;  // the checksum found, or why it could not be read
};
std::string_view to_string(FileVerdict::State s);

struct VerifyReport {
  std::vector<FileVerdict> files;
  std::uint64_t bytes = 0;  // read
  bool ok() const;
};

// Checks each entry against the file at base/path (an absolute path as it is).
VerifyReport verify_sums(const std::vector<SumEntry>& entries, const std::filesystem::path& base,
                         const std::function<void(std::uint64_t)>& progress = {});

// The package manifest's default place, and the directories whose every file it must list
// (relative to the root): a file there that it does not list is reported kUnlisted.
inline constexpr std::string_view kManifestPath = "usr/lib/aion/manifest.sha256";
std::vector<std::string> manifest_owned_dirs();

// Verifies the installed package below `root` ("/" normally) against `manifest` (relative
// paths are taken below root); adds kUnlisted for files of the owned directories it lacks.
// kNotFound when there is no manifest (aion not installed from its package).
Result<VerifyReport> verify_package(const std::filesystem::path& root,
                                    const std::filesystem::path& manifest);

}  // namespace aion::guard
