// The privacy gate's exit and its audit log. Everything that leaves the node through aion
// (a support bundle, a copilot request, any exporter) is redacted by one Gate, which keeps
// one placeholder map for all the parts of one exit, and the exit is recorded in the audit
// log: when, who (the caller), where to, how many bytes, their SHA-256, and how many values
// of each category were replaced (never the values). `aion audit` lists the log.
//
// The log is a JSON-lines file (the state directory's audit.jsonl) created with mode
// 0600, appended with O_APPEND and synced per record, so that concurrent writers interleave
// whole lines and a crash loses at most the record being written. Reading is bounded: a line
// over 64 KiB or one that is not a record is skipped and counted, never fatal.
// A Gate is not thread-safe (its placeholder map grows per request); use one per exit.
// The audit functions are thread-safe (each call opens the file).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/privacy/redactor.h"

namespace aion::privacy {

struct AuditRecord {
  std::int64_t time_ms = 0;  // Unix time, milliseconds
  std::string caller;        // "support-bundle", "copilot", ...
  std::string destination;   // a file path, a URL
  std::uint64_t bytes = 0;
  std::string sha256;                          // hex, of the bytes that left
  std::array<int, kCategoryCount> replaced{};  // values replaced, by Category
};

// The log of a state directory (daemon.state_dir): its audit.jsonl.
std::filesystem::path audit_log_path(const std::filesystem::path& state_dir);

// A record, stamped now, of `bytes` (their size and SHA-256, never the bytes) that `caller`
// sent or handled at `destination`; the counts of replaced values are left at zero.
AuditRecord audit_record(std::string caller, std::string destination, std::string_view bytes);

// Appends one record (creating the file, mode 0600, and its directory). kIo naming the file.
Status append_audit(const std::filesystem::path& log, const AuditRecord& r);

struct AuditRead {
  std::vector<AuditRecord> records;  // oldest first; the last `limit` of the file
  std::size_t skipped = 0;           // lines that were not records
};
// The last `limit` records. A missing file is an empty log; kIo when it cannot be read.
Result<AuditRead> read_audit(const std::filesystem::path& log, std::size_t limit);

// A record as the log's line holds it (one JSON object, no newline).
std::string audit_record_json(const AuditRecord& r);

// SHA-256 of `data`, as 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

class Gate {
 public:
  Gate(const Redactor& redactor, std::string caller)
      : redactor_(redactor), caller_(std::move(caller)) {}

  // Redacts one part of what is about to leave. Placeholders are shared by all parts: a
  // value is the same placeholder in every part of this exit.
  std::string pass(std::string_view text);
  // Values replaced so far, by Category.
  const std::array<int, kCategoryCount>& replaced() const { return map_.counts(); }
  // What comes back (a model's answer, the arguments of its tool calls) with this exit's
  // placeholders replaced by their values again, for local use only.
  std::string restore(std::string_view text) const { return map_.restore(text); }
  // Records in `log` that `bytes` (everything that left, after pass()) went to `destination`.
  Status record(const std::filesystem::path& log, const std::string& destination,
                std::string_view bytes) const;

 private:
  const Redactor& redactor_;
  std::string caller_;
  PlaceholderMap map_;
};

}  // namespace aion::privacy
