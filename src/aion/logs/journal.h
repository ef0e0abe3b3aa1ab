// JournalReader: reads the systemd journal with sd-journal, resuming after a saved cursor.
//
// A cursor names one entry; opening with it continues with the entry after it, so nothing
// is read twice across restarts. Without a cursor reading starts at the journal's end (only
// new entries). Kernel entries (_TRANSPORT=kernel) can be left out when /dev/kmsg is read
// directly. Not thread-safe: sd-journal objects belong to one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aion/core/error.h"

typedef struct sd_journal sd_journal;

namespace aion::logs {

struct JournalEntry {
  std::string cursor;
  std::int64_t time_ms = 0;  // __REALTIME_TIMESTAMP
  int priority = 6;
  std::string identifier;  // SYSLOG_IDENTIFIER, else _COMM
  std::string unit;        // _SYSTEMD_UNIT
  std::string message;
  // Who logged it, from the journal's trusted fields (journald sets them, a client cannot):
  // _TRANSPORT ("kernel", "syslog", "journal", "stdout", "audit", "driver"), _UID and _PID
  // (-1 when absent, as for kernel entries).
  std::string transport;
  long uid = -1;
  long pid = -1;
};

class JournalReader {
 public:
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // Opens the local journal, or the journal files in `directory` (a recorded machine's
  // /var/log/journal). kUnavailable when no journal can be opened.
  static Result<std::unique_ptr<JournalReader>> open(
      const std::string& cursor, const std::optional<std::filesystem::path>& directory,
      bool skip_kernel);

  // The entries after the last one read, at most `max` (never blocks). Journal files created
  // since the last call (journald's rotations) are read too.
  Result<std::vector<JournalEntry>> read(std::size_t max = 4096);
  // The last entry read ("" before any).
  const std::string& cursor() const { return cursor_; }

 private:
  JournalReader() = default;
  sd_journal* j_ = nullptr;
  std::string cursor_;
  bool skip_kernel_ = false;
  bool watching_ = false;  // inotify on the journal directories is set up
};

}  // namespace aion::logs
