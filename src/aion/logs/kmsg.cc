#include "aion/logs/kmsg.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace aion::logs {
namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

Result<KmsgRecord> parse_kmsg_record(std::string_view line) {
  auto semi = line.find(';');
  if (semi == std::string_view::npos) {
    return fail(ErrorCode::kParse, "kmsg record without ';' between prefix and message");
  }
  std::string_view prefix = line.substr(0, semi);
  std::string_view fields[3];
  for (int i = 0; i < 3; ++i) {
    auto comma = prefix.find(',');
    if (comma == std::string_view::npos && i < 2) {
      return fail(ErrorCode::kParse,
                  "kmsg record prefix '" + std::string(prefix) + "' is not PRI,SEQ,TS_USEC,FLAGS");
    }
    fields[i] = prefix.substr(0, comma);
    prefix = comma == std::string_view::npos ? std::string_view() : prefix.substr(comma + 1);
  }
  KmsgRecord r;
  unsigned pri = 0;
  if (!parse_number(fields[0], pri) || !parse_number(fields[1], r.seq) ||
      !parse_number(fields[2], r.ts_usec)) {
    return fail(ErrorCode::kParse, "kmsg record prefix '" + std::string(line.substr(0, semi)) +
                                       "' has a field that is not a number");
  }
  r.priority = static_cast<int>(pri & 7);
  r.facility = static_cast<int>(pri >> 3);
  r.message = std::string(line.substr(semi + 1));
  while (!r.message.empty() && (r.message.back() == '\n' || r.message.back() == '\r')) {
    r.message.pop_back();
  }
  return r;
}

KmsgReader::KmsgReader(HostFs fs, std::string host_path)
    : fs_(std::move(fs)), path_(std::move(host_path)) {}

KmsgReader::~KmsgReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status KmsgReader::open(std::optional<std::uint64_t> after_seq) {
  if (fd_ >= 0) ::close(fd_);
  std::string real = fs_.resolve(path_).string();
  fd_ = ::open(real.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) return std::unexpected(errno_error(errno, "opening " + real));
  last_seq_ = after_seq;
  lines_.reset();
  return {};
}

void KmsgReader::take(std::string_view line, std::vector<KmsgRecord>& out) {
  if (line.empty() || line.front() == ' ') return;  // a " KEY=value" continuation line
  auto r = parse_kmsg_record(line);
  if (!r) {
    ++malformed_;
    return;
  }
  if (last_seq_) {
    if (r->seq <= *last_seq_) return;  // read before the restart
    missed_ += r->seq - *last_seq_ - 1;
  }
  last_seq_ = r->seq;
  out.push_back(std::move(*r));
}

Result<std::vector<KmsgRecord>> KmsgReader::read(std::size_t max) {
  std::vector<KmsgRecord> out;
  if (fd_ < 0) return fail(ErrorCode::kInternal, "kmsg reader is not open");
  // /dev/kmsg returns one record per read() and needs a buffer larger than any record.
  char buf[16384];
  while (out.size() < max) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // The kernel overwrote records we had not read; the next read() goes on with the
      // oldest one left, and the gap in SEQ counts what was lost.
      if (errno == EPIPE) continue;
      return std::unexpected(errno_error(errno, "reading " + fs_.resolve(path_).string()));
    }
    if (n == 0) break;  // end of a regular file, or a FIFO without writer
    lines_.feed(
        std::string_view(buf, static_cast<std::size_t>(n)),
        [&](std::string_view line) { take(line, out); }, [&] { ++malformed_; });
  }
  return out;
}

}  // namespace aion::logs
