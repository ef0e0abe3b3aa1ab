// What this kernel and this process offer the guard: Landlock (and its ABI version), seccomp
// filters, no_new_privs, mount and network namespaces, a cgroup2 hierarchy with BPF programs
// attachable to it (the network policy and egress record), and the kernel audit stream that
// carries the denials of Landlock and seccomp. `aion guard status` prints it; plan_sandbox()
// decides from it what a profile can have here.
//
// probe_mechanisms() runs real system calls: it forks a child to try unshare() (so the
// caller's own namespaces never change), loads and unloads a trivial BPF program, and asks the
// audit subsystem its status over netlink. Safe to call from a multi-threaded process (the
// child only calls unshare and _exit). Thread-safe; the result is a plain value.
#pragma once

#include <string>
#include <vector>

#include "aion/core/json.h"

namespace aion::guard {

struct Mechanism {
  std::string name;  // "landlock", "seccomp", ...
  bool available = false;
  std::string detail;  // the version or what was found; when unavailable, why
};

struct Mechanisms {
  bool root = false;
  int landlock_abi = 0;  // 0: no Landlock
  bool seccomp = false;
  bool no_new_privs = false;
  bool mount_ns = false, net_ns = false;
  std::string cgroup2_root;     // the cgroup2 mount ("" when none): BPF programs attach below it
  bool cgroup_bpf = false;      // cgroup sock_addr/skb programs can be loaded and attached
  bool audit_enabled = false;   // the kernel emits audit records (Landlock's need it)
  bool audit_readable = false;  // this process may read them (AUDIT_NLGRP_READLOG)
  int audit_daemon_pid = 0;     // auditd, when one is registered
  std::vector<Mechanism> rows;  // one per mechanism, in the order status shows them
};

Mechanisms probe_mechanisms();
Json mechanisms_json(const Mechanisms& m);

// What each Landlock ABI version added, for messages ("ABI 4: TCP bind/connect rules").
std::string landlock_abi_features(int abi);

}  // namespace aion::guard
