#include "aion/guard/egress_load.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "aion/core/strings.h"
#include "aion/guard/egress_bpf_object.h"

namespace aion::guard::detail {
namespace {

// libbpf's messages while a function of this file runs on this thread; null otherwise.
thread_local std::string* t_libbpf_log = nullptr;
constexpr std::size_t kMaxLog = 64 << 10;  // the tail is what explains a refusal

int capture_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (t_libbpf_log == nullptr || level == LIBBPF_DEBUG) return 0;
  va_list copy;
  va_copy(copy, args);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string text(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
#pragma GCC diagnostic pop
  text.resize(static_cast<std::size_t>(n));
  t_libbpf_log->append(text);
  if (t_libbpf_log->size() > kMaxLog) t_libbpf_log->erase(0, t_libbpf_log->size() - kMaxLog);
  return 0;
}

// Routes libbpf's messages to `log` for the life of this object.
class LibbpfLog {
 public:
  explicit LibbpfLog(std::string& log) {
    static std::once_flag once;
    std::call_once(once, [] { libbpf_set_print(capture_libbpf); });
    t_libbpf_log = &log;
  }
  ~LibbpfLog() { t_libbpf_log = nullptr; }
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;
};

// The last `lines` non-empty lines of `log`, joined with " | " (errors are one line).
std::string log_tail(const std::string& log, std::size_t lines) {
  std::vector<std::string> all = split(log, '\n', {.trim_pieces = true, .skip_empty = true});
  if (all.size() > lines) all.erase(all.begin(), all.end() - static_cast<long>(lines));
  return join(all, " | ");
}

std::string kernel_release() {
  utsname u{};
  return ::uname(&u) == 0 ? std::string(u.release) : std::string("unknown");
}

Error bpf_refused(int err, std::string_view what) {
  if (err == ENOSYS) {
    return Error(ErrorCode::kUnsupported,
                 "this kernel has no bpf() system call (built without CONFIG_BPF_SYSCALL); the "
                 "network egress policy needs it");
  }
  if (err == EPERM || err == EACCES) {
    if (::geteuid() != 0) {
      return Error(ErrorCode::kPermissionDenied,
                   "loading BPF programs needs root (CAP_BPF and CAP_NET_ADMIN, or "
                   "CAP_SYS_ADMIN); this process runs as uid " +
                       std::to_string(::geteuid()) +
                       ": run aiond as root to enforce network egress policies");
    }
    return Error(ErrorCode::kPermissionDenied,
                 "the kernel refused bpf() to root: this process lacks CAP_BPF or CAP_SYS_ADMIN "
                 "(a container that drops them) or a security policy (lockdown, SELinux, a "
                 "seccomp filter) forbids bpf(); run aiond on the host with its capabilities");
  }
  if (err == EINVAL || err == E2BIG || err == EOPNOTSUPP) {
    return Error(ErrorCode::kUnsupported,
                 "this kernel (Linux " + kernel_release() + ") does not support " +
                     std::string(what) +
                     ": the egress policy needs Linux 5.11 or later built with CONFIG_CGROUP_BPF");
  }
  return errno_error(err, "bpf(): " + std::string(what));
}

// Loads a program that returns 1 as `type` for `attach`; 0 or the errno of the refusal.
int try_program(bpf_prog_type type, bpf_attach_type attach) {
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
      {.code = BPF_JMP | BPF_EXIT},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach);
  const int fd = bpf_prog_load(type, "aion_probe", "GPL", insns, 2, &opts);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

int try_ring_buffer() {
  const int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "aion_probe", 0, 0, 4096, nullptr);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

// Undoes the octal escapes of a /proc/self/mounts field ("\040" is a space).
std::string unescape_mount_field(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string_view digits = s.substr(i + 1, 3);
      int v = 0;
      bool octal = true;
      for (char c : digits) {
        octal = octal && c >= '0' && c <= '7';
        v = v * 8 + (c - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

void BpfObjectCloser::operator()(bpf_object* object) const {
  bpf_object__close(object);
}

Status check_kernel_support() {
  struct Need {
    bpf_prog_type type;
    bpf_attach_type attach;
    const char* what;
  };
  const Need needs[] = {
      {BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, "cgroup socket buffer programs"},
      {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, "cgroup connect4 programs"},
      {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT, "cgroup connect6 programs"},
      {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG, "cgroup sendmsg4 programs"},
      {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG, "cgroup sendmsg6 programs"},
  };
  for (const Need& need : needs) {
    if (const int err = try_program(need.type, need.attach); err != 0) {
      return std::unexpected(bpf_refused(err, need.what));
    }
  }
  if (const int err = try_ring_buffer(); err != 0) {
    return std::unexpected(bpf_refused(err, "BPF ring buffers"));
  }
  return {};
}

Result<BpfObject> load_egress_object() {
  std::string log;
  LibbpfLog capture(log);
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "aion_egress");
  BpfObject object(bpf_object__open_mem(kEgressBpfObject, kEgressBpfObjectSize, &opts));
  if (!object) {
    return fail(ErrorCode::kInternal, "the embedded egress BPF object does not open (" +
                                          std::string(std::strerror(errno)) +
                                          "): " + log_tail(log, 4));
  }
  if (const int err = bpf_object__load(object.get()); err != 0) {
    if (auto support = check_kernel_support(); !support) return std::unexpected(support.error());
    return fail(ErrorCode::kUnsupported,
                "the kernel (Linux " + kernel_release() + ") refused the egress BPF programs (" +
                    std::string(std::strerror(-err)) + "): " + log_tail(log, 12));
  }
  return object;
}

Result<std::string> cgroup2_mount(const HostFs& fs) {
  auto mounts = fs.read("/proc/self/mounts");
  if (!mounts) {
    return fail(ErrorCode::kUnsupported, "cannot tell whether a cgroup2 file system is mounted: " +
                                             mounts.error().message());
  }
  std::string found;
  for (const std::string& line : split(*mounts, '\n', {.skip_empty = true})) {
    const std::vector<std::string> f = split_words(line);
    if (f.size() < 3 || f[2] != "cgroup2") continue;
    const std::string point = unescape_mount_field(f[1]);
    if (found.empty() || point == "/sys/fs/cgroup") found = point;
  }
  if (found.empty()) {
    return fail(ErrorCode::kUnsupported,
                "no cgroup2 file system is mounted: the egress policy attaches to a job's cgroup "
                "v2 directory; mount one (mount -t cgroup2 none /sys/fs/cgroup/unified) or boot "
                "with systemd.unified_cgroup_hierarchy=1");
  }
  return found;
}

Error cgroup_bpf_error(int err, std::string_view what, std::string_view dir) {
  if (err == EPERM || err == EACCES) {
    Error e = bpf_refused(err, what);
    return e.context(std::string(what) + " on " + std::string(dir));
  }
  if (err == EINVAL || err == EOPNOTSUPP) {
    return Error(ErrorCode::kUnsupported,
                 "this kernel (Linux " + kernel_release() + ") cannot " + std::string(what) +
                     " on the cgroup " + std::string(dir) +
                     ": BPF links on cgroups need Linux 5.7 or later with CONFIG_CGROUP_BPF");
  }
  return errno_error(err, std::string(what) + " on the cgroup " + std::string(dir));
}

}  // namespace aion::guard::detail
