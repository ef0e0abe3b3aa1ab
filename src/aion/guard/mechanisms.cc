#include "aion/guard/mechanisms.h"

#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "aion/core/fd.h"
#include "aion/guard/audit.h"

namespace aion::guard {

namespace {

constexpr unsigned kLandlockCreateRulesetVersion = 1U << 0;

int landlock_abi() {
  const long v = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kLandlockCreateRulesetVersion);
  return v > 0 ? static_cast<int>(v) : 0;
}

std::string landlock_why() {
  ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kLandlockCreateRulesetVersion);
  if (errno == ENOSYS) return "the kernel has no Landlock (CONFIG_SECURITY_LANDLOCK, 5.13+)";
  if (errno == EOPNOTSUPP)
    return "Landlock is built in but not enabled (add landlock to the lsm= boot parameter)";
  return std::strerror(errno);
}

// Tries unshare(flags) in a child, so that this process keeps its namespaces. 0 or errno.
int try_unshare(int flags) {
  const pid_t pid = ::fork();
  if (pid < 0) return errno;
  if (pid == 0) ::_exit(::unshare(flags) == 0 ? 0 : (errno & 0x7f));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : EINVAL;
}

// The cgroup2 mount point from /proc/self/mounts ("" when none).
std::string cgroup2_root() {
  std::ifstream f("/proc/self/mounts");
  std::string dev, point, type;
  for (std::string line; std::getline(f, line);) {
    std::istringstream in(line);
    if (in >> dev >> point >> type && type == "cgroup2") return point;
  }
  return "";
}

// Loads a program of the kind the network policy attaches (cgroup/connect4 that allows all)
// and closes it. 0 or errno.
int try_sock_addr_program() {
  bpf_insn prog[2] = {};
  prog[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  prog[0].dst_reg = BPF_REG_0;
  prog[0].imm = 1;
  prog[1].code = BPF_JMP | BPF_EXIT;
  static const char kLicense[] = "GPL";
  union bpf_attr attr {};
  attr.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
  attr.expected_attach_type = BPF_CGROUP_INET4_CONNECT;
  attr.insns = reinterpret_cast<std::uintptr_t>(prog);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<std::uintptr_t>(kLicense);
  const long fd = ::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd < 0) return errno;
  ::close(static_cast<int>(fd));
  return 0;
}

bool audit_readable() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
  if (!fd.valid()) return false;
  sockaddr_nl a{};
  a.nl_family = AF_NETLINK;
  a.nl_groups = AUDIT_NLGRP_READLOG;
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

void add_rows(Mechanisms& m, const std::string& ns_why, const std::string& bpf_why,
              const Result<KernelAudit>& audit) {
  auto row = [&](std::string name, bool ok, std::string detail) {
    m.rows.push_back({std::move(name), ok, std::move(detail)});
  };
  row("landlock", m.landlock_abi > 0,
      m.landlock_abi > 0 ? "ABI " + std::to_string(m.landlock_abi) + " (" +
                               landlock_abi_features(m.landlock_abi) + ")"
                         : landlock_why());
  row("seccomp", m.seccomp,
      m.seccomp ? "filters with user notification (refused calls answered EPERM and recorded)"
                : "the kernel has no seccomp filters with user notification "
                  "(CONFIG_SECCOMP_FILTER, Linux 5.0+)");
  row("no_new_privs", m.no_new_privs, m.no_new_privs ? "prctl(PR_SET_NO_NEW_PRIVS)" : "missing");
  row("namespaces", m.mount_ns && m.net_ns,
      m.mount_ns && m.net_ns ? "mount and network (private /tmp, no or own-loopback network)"
                             : ns_why);
  row("cgroup2", !m.cgroup2_root.empty(),
      m.cgroup2_root.empty() ? "no cgroup2 hierarchy mounted (mount -t cgroup2 none "
                               "/sys/fs/cgroup/unified)"
                             : "mounted at " + m.cgroup2_root);
  row("cgroup_bpf", m.cgroup_bpf,
      m.cgroup_bpf ? "connect/sendmsg hooks and traffic counters per job" : bpf_why);
  std::string audit_detail;
  if (!audit)
    audit_detail = audit.error().message();
  else if (!m.audit_enabled)
    audit_detail =
        "kernel auditing is off: seccomp denials are still recorded, Landlock's are "
        "not (guard.kernel_audit = \"enable\", or auditctl -e 1)";
  else
    audit_detail = std::string("on") +
                   (m.audit_daemon_pid > 0 ? ", auditd pid " + std::to_string(m.audit_daemon_pid)
                                           : ", no auditd") +
                   (m.audit_readable ? "; denials readable" : "; this process cannot read them");
  row("audit", audit && m.audit_enabled && m.audit_readable, audit_detail);
}

}  // namespace

std::string landlock_abi_features(int abi) {
  std::string out = "files";
  if (abi >= 2) out += ", cross-directory rename";
  if (abi >= 3) out += ", truncate";
  if (abi >= 4) out += ", TCP bind/connect";
  if (abi >= 5) out += ", device ioctl";
  if (abi >= 6) out += ", signal and abstract socket scoping";
  if (abi >= 7) out += ", audit of denials";
  return out;
}

Mechanisms probe_mechanisms() {
  Mechanisms m;
  m.root = ::geteuid() == 0;
  m.landlock_abi = landlock_abi();
  // The filter hands refusals to aion-shim (user notification, Linux 5.0+).
  {
    std::ifstream f("/proc/sys/kernel/seccomp/actions_avail");
    std::string actions;
    std::getline(f, actions);
    m.seccomp = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 &&
                (" " + actions + " ").find(" user_notif ") != std::string::npos;
  }
  m.no_new_privs = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) >= 0;
  std::string ns_why;
  if (const int e = try_unshare(CLONE_NEWNS | CLONE_NEWNET); e == 0) {
    m.mount_ns = m.net_ns = true;
  } else {
    ns_why = std::string("unshare(CLONE_NEWNS|CLONE_NEWNET): ") + std::strerror(e) +
             (m.root ? "" : " (aiond runs jobs as root; run this as root to see what it gets)");
  }
  m.cgroup2_root = cgroup2_root();
  std::string bpf_why;
  if (const int e = try_sock_addr_program(); e == 0) {
    m.cgroup_bpf = !m.cgroup2_root.empty();
    if (!m.cgroup_bpf) bpf_why = "BPF loads, but there is no cgroup2 hierarchy to attach it to";
  } else {
    bpf_why = std::string("bpf(BPF_PROG_LOAD) of a cgroup/connect4 program: ") + std::strerror(e) +
              (m.root ? "" : " (needs root or CAP_BPF+CAP_NET_ADMIN)");
  }
  const auto audit = kernel_audit_state();
  m.audit_enabled = audit && audit->enabled;
  m.audit_daemon_pid = audit ? audit->daemon_pid : 0;
  m.audit_readable = audit_readable();
  add_rows(m, ns_why, bpf_why, audit);
  return m;
}

Json mechanisms_json(const Mechanisms& m) {
  Json rows = Json::array();
  for (const auto& r : m.rows)
    rows.push_back({{"name", r.name}, {"available", r.available}, {"detail", r.detail}});
  return {{"root", m.root},
          {"landlock_abi", m.landlock_abi},
          {"seccomp", m.seccomp},
          {"no_new_privs", m.no_new_privs},
          {"mount_namespace", m.mount_ns},
          {"network_namespace", m.net_ns},
          {"cgroup2_root", m.cgroup2_root},
          {"cgroup_bpf", m.cgroup_bpf},
          {"audit_enabled", m.audit_enabled},
          {"audit_readable", m.audit_readable},
          {"audit_daemon_pid", m.audit_daemon_pid},
          {"mechanisms", rows}};
}

}  // namespace aion::guard
