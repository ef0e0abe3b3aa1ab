// The kernel's audit records of what a sandbox refused: Landlock's (type 1423, the access
// and its object: a file, a TCP port, a signal or ptrace target; 1424 names the domain's
// creator) and seccomp's (type 1326: the system call), read from the audit multicast group
// (AUDIT_NLGRP_READLOG), which does not disturb auditd. Records of one event share a serial
// number and are joined into one Denial; the SYSCALL record (1300) adds the process's comm
// and exe. Seccomp records come whenever the filter asked for logging; Landlock's only while
// kernel auditing is on (enable_kernel_audit()).
//
// parse_audit_record() and AuditAssembler are pure (tested on recorded records); AuditWatch
// owns one thread that reads the socket and calls the sink from that thread. Thread-safety:
// an AuditAssembler is not thread-safe; AuditWatch's constructor and destructor run on one
// thread, its sink on its own thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::guard {

struct AuditRecord {
  int type = 0;
  std::int64_t time_ms = 0;
  std::uint64_t serial = 0;
  std::map<std::string, std::string, std::less<>> fields;  // quotes removed
};

// "audit(1796686298.707:11): domain=14c757c32 blockers=fs.read_file path=\"/etc/x\" ..."
std::optional<AuditRecord> parse_audit_record(int type, std::string_view text);

struct Denial {
  std::int64_t time_ms = 0;
  pid_t pid = 0;             // the process refused
  pid_t domain_creator = 0;  // Landlock: the process that made the sandbox (the job's command)
  std::string domain;        // Landlock domain id
  std::string kind;          // "file", "network", "syscall", "signal", "ptrace", "socket"
  std::string what;          // "fs.read_file /home/bob/.ssh/id_ed25519", "syscall ptrace"
  std::string comm, exe;
};

// Joins the records of one event into a Denial; feed() returns the denials whose events
// ended (the end-of-event record, or no record for `linger_ms`).
class AuditAssembler {
 public:
  explicit AuditAssembler(std::int64_t linger_ms = 300) : linger_ms_(linger_ms) {}
  std::vector<Denial> feed(const AuditRecord& r, std::int64_t now_ms);
  std::vector<Denial> flush(std::int64_t now_ms);  // events quiet for linger_ms

 private:
  struct Pending {
    std::vector<AuditRecord> records;
    std::int64_t last_ms = 0;
  };
  std::vector<Denial> finish(std::uint64_t serial);
  std::int64_t linger_ms_;
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::string, pid_t> creators_;  // Landlock domain -> creator pid, once seen
};

class AuditWatch {
 public:
  using Sink = std::function<void(const Denial&)>;
  // kPermissionDenied when this process may not read audit records (not root).
  static Result<std::unique_ptr<AuditWatch>> start(Sink sink);
  ~AuditWatch();
  AuditWatch(const AuditWatch&) = delete;
  AuditWatch& operator=(const AuditWatch&) = delete;

 private:
  struct Impl;
  explicit AuditWatch(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether the kernel emits audit records, and the pid of the audit daemon registered (0: none):
// AUDIT_GET. kUnsupported without an audit subsystem.
struct KernelAudit {
  bool enabled = false;
  int daemon_pid = 0;
};
Result<KernelAudit> kernel_audit_state();

// Turns kernel auditing on (AUDIT_SET enabled=1) so that Landlock reports its denials. Without
// auditd, the kernel then also prints audit records to its log. kPermissionDenied when not
// allowed.
Status enable_kernel_audit();

}  // namespace aion::guard
