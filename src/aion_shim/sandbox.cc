#include "sandbox.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace shim {

namespace {

// Landlock's UAPI (linux/landlock.h), as numbers: the build machine's header may predate the
// kernel the job runs on, and what the kernel takes is decided by its ABI version.
constexpr int kRuleRuleset = 1;  // LANDLOCK_RULE_PATH_BENEATH
constexpr std::uint64_t kExecute = 1ULL << 0, kWriteFile = 1ULL << 1, kReadFile = 1ULL << 2,
                        kReadDir = 1ULL << 3, kTruncate = 1ULL << 14, kIoctlDev = 1ULL << 15;
constexpr std::uint64_t kScopeAbstractUnix = 1ULL << 0, kScopeSignal = 1ULL << 1;
constexpr unsigned kLogNewExecOn = 1U << 1;  // LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON (ABI 7)

struct RulesetAttr {
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;
  std::uint64_t scoped;
};

struct __attribute__((packed)) PathBeneathAttr {
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
};

// Every file-system right the ABI knows.
std::uint64_t fs_rights(int abi) {
  std::uint64_t r = (1ULL << 13) - 1;  // ABI 1: execute .. make_sym
  if (abi >= 2) r |= 1ULL << 13;       // refer
  if (abi >= 3) r |= kTruncate;
  if (abi >= 5) r |= kIoctlDev;
  return r;
}

// The part of `rights` that applies to a file that is not a directory.
std::uint64_t file_rights(std::uint64_t rights) {
  return rights & (kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev);
}

// Adds a rule for `path` (missing paths are skipped: a profile lists /lib32 for every machine).
bool add_path(int ruleset, const std::string& path, std::uint64_t rights) {
  const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == EACCES || errno == ENOTDIR;
  struct stat st {};
  PathBeneathAttr attr{};
  attr.allowed_access =
      (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) ? file_rights(rights) : rights;
  attr.parent_fd = fd;
  const long rc = ::syscall(SYS_landlock_add_rule, ruleset, kRuleRuleset, &attr, 0);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return rc == 0;
}

const char* landlock(const Sandbox& s) {
  const std::uint64_t all = fs_rights(s.landlock_abi);
  RulesetAttr attr{};
  attr.handled_access_fs = all;
  if (s.landlock_abi >= 6) attr.scoped = kScopeAbstractUnix | kScopeSignal;
  // The attribute grew with the ABI: handled_access_net in 4, scoped in 6.
  const std::size_t size = s.landlock_abi >= 6   ? sizeof(RulesetAttr)
                           : s.landlock_abi >= 4 ? 2 * sizeof(std::uint64_t)
                                                 : sizeof(std::uint64_t);
  const long ruleset = ::syscall(SYS_landlock_create_ruleset, &attr, size, 0);
  if (ruleset < 0) return "sandbox: landlock_create_ruleset";
  const int rs = static_cast<int>(ruleset);
  const std::uint64_t rx = kExecute | kReadFile | kReadDir, ro = kReadFile | kReadDir;
  for (const auto& p : s.read_exec)
    if (!add_path(rs, p, rx & all)) return "sandbox: landlock rule (read and execute)";
  for (const auto& p : s.read_only)
    if (!add_path(rs, p, ro & all)) return "sandbox: landlock rule (read)";
  for (const auto& p : s.read_write)
    if (!add_path(rs, p, all)) return "sandbox: landlock rule (read and write)";
  const unsigned flags = s.landlock_abi >= 7 ? kLogNewExecOn : 0;
  if (::syscall(SYS_landlock_restrict_self, rs, flags) != 0)
    return "sandbox: landlock_restrict_self";
  ::close(rs);
  return nullptr;
}

// Makes `path` and its parents below the fresh tmpfs (root's, 0755), for a bind mount.
bool make_dirs(const std::string& path) {
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    const std::string part = path.substr(0, i);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

// Mounts a tmpfs on `where` and binds back the kept directories below it (opened before).
const char* private_dir(const char* where, const std::vector<std::string>& keep,
                        const std::vector<int>& fds) {
  if (::mount("tmpfs", where, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
    return "sandbox: private tmpfs";
  const std::string prefix = std::string(where) + "/";
  for (std::size_t i = 0; i < keep.size(); ++i) {
    if (fds[i] < 0 || !keep[i].starts_with(prefix)) continue;
    const std::string source = "/proc/self/fd/" + std::to_string(fds[i]);
    if (!make_dirs(keep[i]) ||
        ::mount(source.c_str(), keep[i].c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return "sandbox: keeping the job's directory in its private /tmp";
  }
  return nullptr;
}

constexpr unsigned long kMaxRecorded = 10000;

// A one-byte message with room for one descriptor (SCM_RIGHTS): the channel between the job's
// process and the shim.
struct FdMessage {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  FdMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

bool send_fd(int sock, int fd) {
  FdMessage m;
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return ::sendmsg(sock, &m.msg, MSG_NOSIGNAL) == 1;
}

// The descriptor the child sent, or -1 (it failed before, or never got that far).
int receive_fd(int sock) {
  FdMessage m;
  if (::recvmsg(sock, &m.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

bool loopback_up() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &req) == 0;
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP | IFF_RUNNING);
  ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &req) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

bool sandbox_record(Sandbox& s, const std::string& key, const std::string& value) {
  if (!key.starts_with("sb_")) return false;
  s.active = true;
  if (key == "sb_profile")
    s.profile = value;
  else if (key == "sb_nnp")
    s.no_new_privs = value == "1";
  else if (key == "sb_tmp")
    s.private_tmp = value == "1";
  else if (key == "sb_net")
    s.network = value;
  else if (key == "sb_landlock")
    s.landlock_abi = std::atoi(value.c_str());
  else if (key == "sb_rx")
    s.read_exec.push_back(value);
  else if (key == "sb_ro")
    s.read_only.push_back(value);
  else if (key == "sb_rw")
    s.read_write.push_back(value);
  else if (key == "sb_seccomp")
    s.seccomp_path = value;
  else if (key == "sb_keep")
    s.keep.push_back(value);
  return true;
}

std::string sandbox_prepare(Sandbox& s) {
  if (s.seccomp_path.empty()) return "";
  const int fd = ::open(s.seccomp_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return "cannot read the seccomp filter " + s.seccomp_path + ": " + std::strerror(errno);
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    s.seccomp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  if (s.seccomp.empty() || s.seccomp.size() % sizeof(sock_filter) != 0 ||
      s.seccomp.size() / sizeof(sock_filter) > BPF_MAXINSNS)
    return "the seccomp filter " + s.seccomp_path + " is malformed";
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, s.channel) != 0)
    return std::string("socketpair: ") + std::strerror(errno);
  return "";
}

const char* sandbox_enter_namespaces(const Sandbox& s) {
  int flags = 0;
  if (s.private_tmp) flags |= CLONE_NEWNS;
  if (s.network == "none" || s.network == "loopback") flags |= CLONE_NEWNET;
  if (flags == 0) return nullptr;
  if (::unshare(flags) != 0) return "sandbox: unshare";
  if (s.private_tmp) {
    // Mounts made here stay here: nothing propagates back to the host's namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      return "sandbox: making mounts private";
    std::vector<int> fds;  // the kept directories, opened while they are still visible
    for (const auto& k : s.keep) fds.push_back(::open(k.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    const char* step = private_dir("/tmp", s.keep, fds);
    struct stat st {};
    if (!step && ::stat("/dev/shm", &st) == 0) step = private_dir("/dev/shm", s.keep, fds);
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
    if (step) return step;
  }
  if (s.network == "loopback" && !loopback_up()) return "sandbox: bringing up loopback";
  return nullptr;
}

const char* sandbox_restrict(const Sandbox& s) {
  if (!s.active) return nullptr;
  // A seccomp filter or Landlock set by a process without CAP_SYS_ADMIN needs no_new_privs.
  if ((s.no_new_privs || !s.seccomp.empty() || s.landlock_abi > 0) &&
      ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return "sandbox: no_new_privs";
  if (s.landlock_abi > 0) {
    if (const char* step = landlock(s)) return step;
  }
  if (!s.seccomp.empty()) {
    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(s.seccomp.size() / sizeof(sock_filter));
    prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(s.seccomp.data()));
    const long fd =
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd < 0) return "sandbox: seccomp filter";
    if (!send_fd(s.channel[1], static_cast<int>(fd)))
      return "sandbox: handing over the seccomp listener";
    ::close(static_cast<int>(fd));
  }
  return nullptr;
}

void sandbox_take_listener(Sandbox& s, const std::string& guard_log) {
  if (s.channel[0] < 0) return;
  ::close(s.channel[1]);
  s.channel[1] = -1;
  s.listener = receive_fd(s.channel[0]);
  ::close(s.channel[0]);
  s.channel[0] = -1;
  if (s.listener >= 0)
    s.guard_log = ::open(guard_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

void sandbox_answer(Sandbox& s) {
  seccomp_notif req{};
  if (::ioctl(s.listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return;  // gone meanwhile
  seccomp_notif_resp resp{};
  resp.id = req.id;
  resp.error = -EPERM;
  (void)::ioctl(s.listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  if (s.recorded >= kMaxRecorded || s.guard_log < 0) {
    ++s.unrecorded;
    return;
  }
  ++s.recorded;
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  // The caller waited for the answer, so it was alive a moment ago: its name, when still there.
  char comm[32] = "";
  const std::string comm_path = "/proc/" + std::to_string(req.pid) + "/comm";
  if (const int fd = ::open(comm_path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    const ssize_t got = ::read(fd, comm, sizeof comm - 1);
    comm[got > 0 ? got : 0] = '\0';
    for (char* c = comm; *c; ++c)
      if (*c == '\n' || *c == ' ') *c = '\0';
    ::close(fd);
  }
  char line[128];
  const int n = std::snprintf(line, sizeof line, "%lld %d %d %s\n",
                              static_cast<long long>(tv.tv_sec) * 1000 + tv.tv_usec / 1000,
                              static_cast<int>(req.pid), req.data.nr, comm);
  if (n > 0) (void)!::write(s.guard_log, line, static_cast<std::size_t>(n));
}

void sandbox_close_listener(Sandbox& s) {
  if (s.listener >= 0) ::close(s.listener);
  s.listener = -1;
  if (s.guard_log >= 0) {
    if (s.unrecorded > 0) {
      char line[64];
      const int n = std::snprintf(line, sizeof line, "unrecorded %lu\n", s.unrecorded);
      if (n > 0) (void)!::write(s.guard_log, line, static_cast<std::size_t>(n));
    }
    ::close(s.guard_log);
    s.guard_log = -1;
  }
}

}  // namespace shim
