// Snapshots: the value of everything an apply is about to touch, kept as one JSON file per
// apply in <state_dir>/tune/snapshots/<id>.json, so that `aion tune rollback` can put the
// machine back exactly, even after a crash in the middle of an apply.
//
// A snapshot is written durably (temporary file, fsync, rename) before the first change,
// with state "applying"; it becomes "applied" once the apply succeeded, "rolled-back" once
// restored (automatically after a failure, or by rollback). Entries are kernel attributes
// (restored by writing `restore` back, or the exact original bytes when the path is a regular
// file, as in a recorded tree), files aion created or replaced (drop-ins: rewritten or
// removed) and directories it created (removed when empty). SnapshotStore is not
// thread-safe; one CLI process uses it at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aion/core/error.h"

namespace aion::tune {

struct SnapshotEntry {
  std::string setting;     // the profile key that touched it ("" for drop-in files)
  std::string path;        // host path
  std::string kind;        // "attr" | "file" | "dir"
  bool existed = true;     // files and dirs: was it there before
  std::string original;    // the bytes as read before the change
  std::string restore;     // attrs: the value to write back
  std::string value_kind;  // attrs: how to compare ("int", "ints", "word", "choice", "cpulist")
};

struct Snapshot {
  std::string id;
  std::string profile;
  std::string host_root;
  std::string created;  // RFC 3339
  std::int64_t created_ms = 0;
  std::string state;  // "applying" | "applied" | "rolled-back"
  std::string note;   // why it was rolled back
  std::vector<SnapshotEntry> entries;
};

class SnapshotStore {
 public:
  explicit SnapshotStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  // A new id for a profile at a time: "20261130-105528-ai-training", made unique.
  std::string new_id(const std::string& profile, std::int64_t unix_ms) const;
  // Writes durably; creates the directory (0700) when missing.
  Status save(const Snapshot& s) const;
  Result<Snapshot> load(const std::string& id) const;
  // Deletes a snapshot (one whose apply turned out to change nothing).
  Status remove(const std::string& id) const;
  // Every snapshot, oldest first. Unreadable files are an error naming them.
  Result<std::vector<Snapshot>> list() const;
  // The newest snapshot of a host root ("/" for the live machine) not rolled back yet.
  Result<std::optional<Snapshot>> latest_active(const std::string& host_root = "/") const;

 private:
  std::filesystem::path dir_;
};

// <state_dir>/tune/snapshots
std::filesystem::path snapshot_dir(const std::filesystem::path& state_dir);

}  // namespace aion::tune
