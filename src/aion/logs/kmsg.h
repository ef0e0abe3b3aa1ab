// Kmsg: reads the kernel log from /dev/kmsg (through HostFs, so a test can put a regular
// file or a FIFO with the same record format at <root>/dev/kmsg).
//
// A record is "PRI,SEQ,TS_USEC,FLAGS[,...];MESSAGE\n" followed by optional " KEY=value"
// continuation lines. SEQ numbers every record the kernel logged, so a reader that saved the
// last SEQ it handled resumes after it without reading anything twice, and knows how many
// records the ring buffer overwrote before it could read them (gaps in SEQ; EPIPE from the
// kernel). A line longer than kMaxKmsgRecord (no kernel record is: garbage in a recorded
// stream) is skipped to its '\n' and counted as malformed. Not thread-safe: one reader per
// thread. The record parser is a pure function; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/logs/line_splitter.h"

namespace aion::logs {

inline constexpr std::size_t kMaxKmsgRecord = 64 << 10;

struct KmsgRecord {
  int priority = 6;  // syslog level 0 (emerg) .. 7 (debug)
  int facility = 0;  // 0: the kernel itself; any other: a user-space writer of /dev/kmsg
  std::uint64_t seq = 0;
  std::uint64_t ts_usec = 0;  // since boot (CLOCK_MONOTONIC)
  std::string message;
};

// Parses one record's first line (continuation lines are not part of it). kParse with the
// reason when it is not "PRI,SEQ,TS,FLAGS;MESSAGE".
Result<KmsgRecord> parse_kmsg_record(std::string_view line);

class KmsgReader {
 public:
  explicit KmsgReader(HostFs fs, std::string host_path = "/dev/kmsg");
  ~KmsgReader();
  KmsgReader(const KmsgReader&) = delete;
  KmsgReader& operator=(const KmsgReader&) = delete;

  // Opens the device (non-blocking). Records with SEQ <= `after_seq` are skipped; a first
  // record beyond after_seq + 1 counts the difference as missed.
  Status open(std::optional<std::uint64_t> after_seq);
  // The records available now, at most `max` (never blocks). Malformed records are counted
  // in malformed() and skipped.
  Result<std::vector<KmsgRecord>> read(std::size_t max = 4096);

  std::uint64_t missed() const { return missed_; }
  std::uint64_t malformed() const { return malformed_; }

 private:
  void take(std::string_view line, std::vector<KmsgRecord>& out);

  HostFs fs_;
  std::string path_;
  int fd_ = -1;
  std::optional<std::uint64_t> last_seq_;
  std::uint64_t missed_ = 0;
  std::uint64_t malformed_ = 0;
  LineSplitter lines_{kMaxKmsgRecord};  // records of regular files and pipes
};

}  // namespace aion::logs
