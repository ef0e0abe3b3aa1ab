// LogService: aiond's log pipeline. Reads the kernel log (/dev/kmsg), the systemd journal
// and configured files, mines every line's template (TemplateMiner) and hands each parsed
// line to the subscribers registered with on_line() — the diagnosis engine subscribes there.
// A template seen for the first time becomes a `log_template` event; kmsg records lost to
// the ring buffer become a `log_gap` event.
//
// State lives in <state_dir>/logs: templates.json (the miner) and cursors.json (kmsg SEQ
// with the boot it belongs to, so that after a reboot the new ring buffer is read from its
// start; journal cursor; file inode+offset), written together every save interval and at stop(),
// so that after a restart reading resumes where the saved templates end: a line is neither
// counted twice nor skipped (a crash re-reads at most one save interval, with the templates
// of that same moment).
//
// Thread-safety: one reader thread calls the hooks in log order; ingest(), templates(),
// recent() and stats() may be called from any thread (hooks then also run on the thread that
// calls ingest()). Hooks must be added before start(); start() and stop() belong to the
// daemon's controlling thread. The readers (kmsg, journal, files) are the reader thread's.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/clock.h"
#include "aion/core/config.h"
#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/logs/miner.h"

namespace aion::logs {

// Where a line came from, as far as the reader can prove it: what the diagnosis may trust
// (only the kernel raises hardware faults) and who may read the line (the kernel's lines
// and files aiond tails are the node's; a journal entry belongs to the uid that logged it).
enum class LineOrigin {
  kKernel,   // kmsg records of facility 0, journal entries with _TRANSPORT=kernel
  kJournal,  // any other journal entry (syslog, journal, stdout, audit): a process wrote it
  kFile,     // a file aiond tails: whoever can write it
  kUser,     // a user-space writer of /dev/kmsg (facility != 0), or ingest() by a module
};
std::string_view to_string(LineOrigin origin);  // "kernel", "journal", "file", "user"

// One parsed log line, as subscribers see it.
struct LogLine {
  std::string source;        // "kmsg", "journal", or the file's host path
  std::int64_t time_ms = 0;  // when it was logged (Unix ms)
  int priority = 6;          // syslog level 0..7 (6 when the source has none)
  std::string unit;          // journal: _SYSTEMD_UNIT or SYSLOG_IDENTIFIER; else empty
  std::string content;       // the message
  LineOrigin origin = LineOrigin::kUser;
  std::string transport;  // journal: _TRANSPORT; kmsg: "kernel"; files: ""
  long uid = -1;          // journal: _UID (-1: none, as for kernel entries)
  long pid = -1;          // journal: _PID
  std::uint64_t template_id = 0;
  std::string template_text;
  std::vector<std::string> params;
  bool new_template = false;
};

struct LogOptions {
  bool enabled = true;
  bool kmsg = true;
  bool journal = true;
  std::vector<std::string> files;   // host paths
  std::filesystem::path state_dir;  // <daemon state>/logs
  std::filesystem::path masks_file;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::seconds save_interval{60};
  std::size_t recent_lines = 1000;
  int max_template_events_per_min = 30;
  std::optional<std::filesystem::path> journal_dir;  // set for a recorded machine
  MinerOptions miner;
};

ConfigSchema logs_config_schema();
Result<LogOptions> logs_options(const Config& c, const std::filesystem::path& state_dir,
                                const HostFs& fs);

struct LogStats {
  std::uint64_t lines = 0;
  std::uint64_t templates = 0;
  std::uint64_t kmsg_missed = 0;
  std::uint64_t file_rotations = 0;
  std::uint64_t file_truncations = 0;
  std::uint64_t kmsg_malformed = 0;  // records skipped: not "PRI,SEQ,TS,FLAGS;MSG", or too long
  std::uint64_t file_oversized = 0;  // file lines skipped: longer than kMaxLineBytes
  std::uint64_t blank_lines = 0;     // delivered but not mined: nothing but blanks
  std::vector<std::string> sources;  // the ones open
};

class LogService {
 public:
  using LineHook = std::function<void(const LogLine&)>;
  // kind, severity, message, data (JSON), as telemetry's EventSink.
  using EventSink = std::function<void(const std::string&, const std::string&, const std::string&,
                                       const std::string&)>;

  LogService(LogOptions options, HostFs fs, EventSink events, const Clock& clock = Clock::system());
  ~LogService();

  // Subscribes to every parsed line. Call before start(); hooks run on the reader thread,
  // in log order, and must return quickly (queue heavy work).
  void on_line(LineHook hook);
  // Loads masks, templates and cursors, opens the sources (a source that cannot be opened is
  // reported and left out) and starts the reader thread. Errors: a bad masks file (kConfig),
  // a corrupt templates file (kCorrupt).
  Status start();
  // Stops the thread and saves templates and cursors.
  void stop();

  // Parses one line from `source` as if a reader had read it (tests; other modules' logs).
  // The line's origin, transport, uid and pid are those of `who` (content and the rest are
  // taken from the arguments); by default a user-space line of unknown uid.
  LogLine ingest(std::string_view source, std::string_view content, std::int64_t time_ms,
                 int priority = 6, std::string_view unit = {}, const LogLine& who = {});
  std::vector<Template> templates() const;
  std::vector<LogLine> recent(std::size_t limit) const;
  LogStats stats() const;

 private:
  // Writes templates and cursors; called by the reader thread between batches and by
  // stop() after it ended, so both describe the same moment.
  Status save() const;
  void loop();
  bool poll_once();
  void emit(LogLine line);

  LogOptions options_;
  HostFs fs_;
  EventSink events_;
  const Clock& clock_;
  std::vector<LineHook> hooks_;

  // mu_ guards miner_, recent_, the template event window and blank_lines_ below, and in
  // *sources_ the cursors, the source handles and the reader counters that stats() reads.
  mutable std::mutex mu_;
  std::unique_ptr<TemplateMiner> miner_;
  std::deque<LogLine> recent_;
  struct Sources;
  std::unique_ptr<Sources> sources_;
  std::int64_t boot_wall_ms_ = 0;
  std::int64_t event_window_start_ms_ = 0;
  int events_in_window_ = 0;
  std::uint64_t blank_lines_ = 0;
  std::uint64_t suppressed_events_ = 0;

  std::mutex wake_mu_;  // guards stopping_; wake_ waits on it
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aion::logs
