#include "aion/guard/audit.h"

#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "aion/core/fd.h"
#include "aion/guard/seccomp_filter.h"

namespace aion::guard {

namespace {

constexpr int kLandlockAccess = 1423;
constexpr int kLandlockDomain = 1424;
constexpr int kSeccomp = 1326;
constexpr int kSyscall = 1300;
constexpr int kEndOfEvent = 1320;
// The largest audit record the kernel sends (its MAX_AUDIT_MESSAGE_LENGTH).
constexpr std::size_t kMaxAuditMessage = 8970;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The kernel writes a string it does not trust (a path or a process name holding a space, a
// quote or a control character) as bare hex instead of quoting it: such a value is decoded,
// its control characters shown as '?'.
std::string untrusted_string(const std::string& hex) {
  auto nibble = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'A' + 10;
  };
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    const char c = static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return out;
}

bool upper_hex(const std::string& v) {
  return !v.empty() && v.size() % 2 == 0 && std::all_of(v.begin(), v.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'A' && c <= 'F');
  });
}

// One key=value pair at `pos`; values may be "quoted" (no escapes inside) or bare.
bool next_field(std::string_view text, std::size_t& pos, std::string& key, std::string& value,
                bool& quoted) {
  while (pos < text.size() && text[pos] == ' ') ++pos;
  const std::size_t eq = text.find('=', pos);
  if (eq == std::string_view::npos) return false;
  key.assign(text.substr(pos, eq - pos));
  pos = eq + 1;
  quoted = pos < text.size() && text[pos] == '"';
  if (quoted) {
    const std::size_t close = text.find('"', pos + 1);
    const std::size_t end = close == std::string_view::npos ? text.size() : close;
    value.assign(text.substr(pos + 1, end - pos - 1));
    pos = end == text.size() ? end : end + 1;
  } else {
    const std::size_t sp = text.find(' ', pos);
    const std::size_t end = sp == std::string_view::npos ? text.size() : sp;
    value.assign(text.substr(pos, end - pos));
    pos = end;
  }
  return !key.empty();
}

pid_t pid_of(const AuditRecord& r, std::string_view key) {
  auto it = r.fields.find(key);
  return it == r.fields.end() ? 0 : static_cast<pid_t>(std::atoi(it->second.c_str()));
}

std::string field(const AuditRecord& r, std::string_view key) {
  auto it = r.fields.find(key);
  return it == r.fields.end() ? "" : it->second;
}

// What a Landlock denial was about, from its blockers ("fs.read_file", "net.connect_tcp",
// "scope.signal", "ptrace").
void describe_landlock(const AuditRecord& r, Denial& d) {
  const std::string blockers = field(r, "blockers");
  d.domain = field(r, "domain");
  if (blockers.starts_with("fs.")) {
    d.kind = "file";
    d.what = blockers + " " + field(r, "path");
  } else if (blockers.starts_with("net.")) {
    d.kind = "network";
    std::string port = field(r, "dest");
    if (port.empty()) port = field(r, "src");
    d.what = blockers + " " + field(r, "daddr") + (port.empty() ? "" : ":" + port);
  } else if (blockers == "ptrace") {
    d.kind = "ptrace";
    d.what = "ptrace pid " + field(r, "opid") + " (" + field(r, "ocomm") + ")";
  } else if (blockers == "scope.signal") {
    d.kind = "signal";
    d.what = "signal to pid " + field(r, "opid") + " (" + field(r, "ocomm") + ")";
  } else {
    d.kind = blockers.starts_with("scope.") ? "socket" : "other";
    d.what = blockers;
  }
}

}  // namespace

std::optional<AuditRecord> parse_audit_record(int type, std::string_view text) {
  // "audit(SECONDS.MILLIS:SERIAL): fields"
  if (!text.starts_with("audit(")) return std::nullopt;
  const std::size_t dot = text.find('.'), colon = text.find(':'), close = text.find("):");
  if (dot == std::string_view::npos || colon == std::string_view::npos ||
      close == std::string_view::npos || !(dot < colon && colon < close))
    return std::nullopt;
  AuditRecord r;
  r.type = type;
  const std::string secs(text.substr(6, dot - 6)), millis(text.substr(dot + 1, colon - dot - 1)),
      serial(text.substr(colon + 1, close - colon - 1));
  // Seconds since the epoch and three digits of milliseconds, as the kernel prints them;
  // anything else (a number that would overflow included) is no record.
  auto digits = [](const std::string& t, std::size_t max) {
    return !t.empty() && t.size() <= max &&
           std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  if (!digits(secs, 12) || !digits(millis, 3)) return std::nullopt;
  char* end = nullptr;
  r.time_ms = std::stoll(secs) * 1000 + std::stoll(millis);
  r.serial = std::strtoull(serial.c_str(), &end, 10);
  if (end == serial.c_str() || *end) return std::nullopt;
  std::size_t pos = close + 2;
  std::string key, value;
  bool quoted = false;
  static const std::set<std::string, std::less<>> kStrings = {"path", "comm", "exe", "ocomm",
                                                              "name"};
  while (pos < text.size() && next_field(text, pos, key, value, quoted)) {
    if (!quoted && kStrings.contains(key) && upper_hex(value)) value = untrusted_string(value);
    r.fields[key] = value;
  }
  return r;
}

std::vector<Denial> AuditAssembler::feed(const AuditRecord& r, std::int64_t now) {
  if (r.type == kLandlockDomain && r.fields.contains("pid"))
    creators_[field(r, "domain")] = pid_of(r, "pid");
  Pending& p = pending_[r.serial];
  p.records.push_back(r);
  p.last_ms = now;
  std::vector<Denial> out;
  if (r.type == kEndOfEvent) out = finish(r.serial);
  auto more = flush(now);
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::vector<Denial> AuditAssembler::flush(std::int64_t now) {
  std::vector<std::uint64_t> quiet;
  for (const auto& [serial, p] : pending_)
    if (now - p.last_ms >= linger_ms_) quiet.push_back(serial);
  std::vector<Denial> out;
  for (auto serial : quiet) {
    auto d = finish(serial);
    out.insert(out.end(), d.begin(), d.end());
  }
  // A domain's creator is named once; keep a bounded memory of them.
  if (creators_.size() > 4096) creators_.clear();
  return out;
}

std::vector<Denial> AuditAssembler::finish(std::uint64_t serial) {
  auto node = pending_.extract(serial);
  std::vector<Denial> out;
  if (node.empty()) return out;
  const auto& records = node.mapped().records;
  const AuditRecord* sys = nullptr;
  for (const auto& r : records)
    if (r.type == kSyscall) sys = &r;
  for (const auto& r : records) {
    if (r.type != kLandlockAccess && r.type != kSeccomp) continue;
    Denial d;
    d.time_ms = r.time_ms;
    d.pid = pid_of(r, "pid");
    if (r.type == kSeccomp) {
      d.kind = "syscall";
      const int nr = std::atoi(field(r, "syscall").c_str());
      const std::string name = syscall_name(nr);
      d.what = "syscall " + (name.empty() ? std::to_string(nr) : name);
      d.comm = field(r, "comm");
      d.exe = field(r, "exe");
    } else {
      describe_landlock(r, d);
      if (auto c = creators_.find(d.domain); c != creators_.end()) d.domain_creator = c->second;
    }
    if (sys) {
      if (d.pid == 0) d.pid = pid_of(*sys, "pid");
      if (d.comm.empty()) d.comm = field(*sys, "comm");
      if (d.exe.empty()) d.exe = field(*sys, "exe");
    }
    out.push_back(std::move(d));
  }
  return out;
}

struct AuditWatch::Impl {
  Fd fd;
  Sink sink;
  std::atomic<bool> stop{false};
  std::thread thread;

  void run() {
    AuditAssembler assembler;
    std::vector<char> space(kMaxAuditMessage + NLMSG_HDRLEN);  // operator new aligns it
    char* buf = space.data();
    while (!stop) {
      pollfd p{fd.get(), POLLIN, 0};
      const int ready = ::poll(&p, 1, 100);
      const std::int64_t now = now_ms();
      if (ready > 0) {
        const ssize_t n = ::recv(fd.get(), buf, space.size(), MSG_DONTWAIT);
        if (n >= static_cast<ssize_t>(sizeof(nlmsghdr))) {
          const auto* h = reinterpret_cast<const nlmsghdr*>(buf);
          const std::size_t len = std::min<std::size_t>(h->nlmsg_len, static_cast<std::size_t>(n));
          if (len >= NLMSG_HDRLEN) {
            std::string_view text(static_cast<const char*>(NLMSG_DATA(h)), len - NLMSG_HDRLEN);
            while (!text.empty() && (text.back() == '\0' || text.back() == '\n'))
              text.remove_suffix(1);
            if (auto r = parse_audit_record(h->nlmsg_type, text)) {
              for (const auto& d : assembler.feed(*r, now)) sink(d);
            }
          }
        }
      }
      for (const auto& d : assembler.flush(now)) sink(d);
    }
  }
};

AuditWatch::AuditWatch(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuditWatch::~AuditWatch() {
  impl_->stop = true;
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::unique_ptr<AuditWatch>> AuditWatch::start(Sink sink) {
  auto impl = std::make_unique<Impl>();
  impl->fd = Fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
  if (!impl->fd.valid())
    return fail(ErrorCode::kUnsupported,
                std::string("no audit netlink socket (kernel without CONFIG_AUDIT?): ") +
                    std::strerror(errno));
  sockaddr_nl a{};
  a.nl_family = AF_NETLINK;
  a.nl_groups = AUDIT_NLGRP_READLOG;
  if (::bind(impl->fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return fail(errno == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kIo,
                std::string("cannot read the kernel's audit records: ") + std::strerror(errno) +
                    " (needs root or CAP_AUDIT_READ)");
  }
  impl->sink = std::move(sink);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<AuditWatch>(new AuditWatch(std::move(impl)));
}

namespace {

// One audit_status request to the kernel (AUDIT_GET, or AUDIT_SET with `set`), waiting up to a
// second for its answer: the status for AUDIT_GET, the acknowledgement for AUDIT_SET.
Result<struct audit_status> audit_exchange(std::uint16_t type, const struct audit_status& set) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
  if (!fd.valid())
    return fail(ErrorCode::kUnsupported,
                std::string("no audit netlink socket (a kernel without CONFIG_AUDIT?): ") +
                    std::strerror(errno));
  struct {
    nlmsghdr h;
    struct audit_status s;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | (type == AUDIT_SET ? NLM_F_ACK : 0);
  req.s = set;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) <
      0)
    return fail(ErrorCode::kIo,
                std::string("cannot ask the audit subsystem: ") + std::strerror(errno));
  std::vector<char> space(8192);  // operator new aligns it for nlmsghdr
  pollfd p{fd.get(), POLLIN, 0};
  while (::poll(&p, 1, 1000) > 0) {
    const ssize_t n = ::recv(fd.get(), space.data(), space.size(), 0);
    if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) break;
    const auto* h = reinterpret_cast<const nlmsghdr*>(space.data());
    if (h->nlmsg_type == NLMSG_ERROR && n >= static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr)))) {
      const int error = static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      if (error != 0)
        return fail(error == -EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kIo,
                    std::string("the audit subsystem refused: ") + std::strerror(-error));
      if (type == AUDIT_SET) return set;  // acknowledged
      continue;
    }
    if (h->nlmsg_type == AUDIT_GET && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct audit_status)))
      return *static_cast<const struct audit_status*>(NLMSG_DATA(h));
  }
  return fail(ErrorCode::kUnavailable, "no answer from the audit subsystem");
}

}  // namespace

Result<KernelAudit> kernel_audit_state() {
  auto s = audit_exchange(AUDIT_GET, {});
  if (!s) return std::unexpected(s.error());
  return KernelAudit{s->enabled != 0, static_cast<int>(s->pid)};
}

Status enable_kernel_audit() {
  struct audit_status set {};
  set.mask = AUDIT_STATUS_ENABLED;
  set.enabled = 1;
  if (auto r = audit_exchange(AUDIT_SET, set); !r) {
    const bool denied = r.error().code() == ErrorCode::kPermissionDenied;
    return fail(r.error().code(),
                "cannot turn kernel auditing on: " + r.error().message() +
                    (denied ? " (needs root or CAP_AUDIT_CONTROL; or the audit configuration is "
                              "locked: auditctl -e 2)"
                            : ""));
  }
  return {};
}

}  // namespace aion::guard
