#include "aion/logs/journal.h"

#include <systemd/sd-journal.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace aion::logs {
namespace {

std::string field(sd_journal* j, const char* name) {
  const void* data = nullptr;
  std::size_t len = 0;
  if (sd_journal_get_data(j, name, &data, &len) < 0) return {};
  std::string_view s(static_cast<const char*>(data), len);
  std::size_t eq = s.find('=');
  return eq == std::string_view::npos ? std::string() : std::string(s.substr(eq + 1));
}

long number_field(sd_journal* j, const char* name) {
  std::string v = field(j, name);
  long n = -1;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc() && p == v.data() + v.size() && n >= 0 ? n : -1;
}

}  // namespace

JournalReader::~JournalReader() {
  if (j_) sd_journal_close(j_);
}

Result<std::unique_ptr<JournalReader>> JournalReader::open(
    const std::string& cursor, const std::optional<std::filesystem::path>& directory,
    bool skip_kernel) {
  std::unique_ptr<JournalReader> r(new JournalReader());
  r->skip_kernel_ = skip_kernel;
  int rc = directory ? sd_journal_open_directory(&r->j_, directory->c_str(), 0)
                     : sd_journal_open(&r->j_, SD_JOURNAL_LOCAL_ONLY);
  if (rc < 0) {
    return fail(ErrorCode::kUnavailable,
                "cannot open the systemd journal" +
                    (directory ? " in " + directory->string() : std::string()) + ": " +
                    std::strerror(-rc));
  }
  // Sets up the inotify watches that sd_journal_process() reads: without them, a file
  // journald creates later (after a rotation, at SystemMaxFileSize or a vacuum) is never
  // opened and reading stops at the end of the files there were at open time.
  r->watching_ = sd_journal_get_fd(r->j_) >= 0;
  bool resumed = false;
  if (!cursor.empty() && sd_journal_seek_cursor(r->j_, cursor.c_str()) >= 0) {
    // Step onto the saved entry; when it still exists, the next read starts after it.
    if (sd_journal_next(r->j_) > 0 && sd_journal_test_cursor(r->j_, cursor.c_str()) > 0) {
      r->cursor_ = cursor;
    } else {
      sd_journal_previous(r->j_);
    }
    resumed = true;
  }
  if (!resumed) {
    sd_journal_seek_tail(r->j_);
    // The tail is after the last entry; step back so that next() yields new entries only.
    sd_journal_previous(r->j_);
    char* c = nullptr;
    if (sd_journal_get_cursor(r->j_, &c) >= 0) {
      r->cursor_ = c;
      std::free(c);
    }
  }
  return r;
}

Result<std::vector<JournalEntry>> JournalReader::read(std::size_t max) {
  std::vector<JournalEntry> out;
  // Non-blocking: takes in the files added and removed since the last call.
  if (watching_) (void)sd_journal_process(j_);
  while (out.size() < max) {
    int rc = sd_journal_next(j_);
    if (rc < 0) {
      return fail(ErrorCode::kIo, std::string("reading the journal: ") + std::strerror(-rc));
    }
    if (rc == 0) break;
    char* c = nullptr;
    if (sd_journal_get_cursor(j_, &c) >= 0) {
      cursor_ = c;
      std::free(c);
    }
    std::string transport = field(j_, "_TRANSPORT");
    if (skip_kernel_ && transport == "kernel") continue;
    JournalEntry e;
    e.transport = std::move(transport);
    e.uid = number_field(j_, "_UID");
    e.pid = number_field(j_, "_PID");
    e.cursor = cursor_;
    std::uint64_t usec = 0;
    if (sd_journal_get_realtime_usec(j_, &usec) >= 0)
      e.time_ms = static_cast<std::int64_t>(usec / 1000);
    std::string pri = field(j_, "PRIORITY");
    if (!pri.empty() && pri[0] >= '0' && pri[0] <= '7') e.priority = pri[0] - '0';
    e.identifier = field(j_, "SYSLOG_IDENTIFIER");
    if (e.identifier.empty()) e.identifier = field(j_, "_COMM");
    e.unit = field(j_, "_SYSTEMD_UNIT");
    e.message = field(j_, "MESSAGE");
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace aion::logs
