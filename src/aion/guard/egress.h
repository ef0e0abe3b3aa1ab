// EgressMonitor: a job's network egress policy and egress record, enforced and kept by cgroup
// BPF programs attached to the job's cgroup v2 directory. It refuses connect() and
// destination-naming sendmsg()/sendto() that the policy does not allow (EPERM), records
// every attempt with its verdict, counts payload bytes each way per remote endpoint, and
// reads the TLS server name (SNI) off the first ClientHello of each TCP connection.
//
// Scope, as the kernel hooks give it: the policy governs TCP and UDP over IPv4 and IPv6
// (IPv4-mapped IPv6 destinations count as IPv4) of every process in the cgroup and its
// descendants. A socket belongs to the cgroup its creator was in when it made it, so a job
// joins its cgroup before it opens sockets (the launcher does, before exec). ICMP ping
// sockets and raw sockets are not seen by these hooks (a profile refuses them otherwise:
// raw sockets need CAP_NET_RAW). Loopback is not special.
//
// Each monitor loads its own copy of the programs and maps (two jobs share nothing) and
// detaches them when destroyed; if the process dies, the kernel detaches them as their
// links close. Thread-safe: every member function may be called from any thread (one mutex
// guards the ring buffer, the pending events and the server names seen); only destruction
// must not race with other calls.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/guard/egress_rule.h"

namespace aion::guard {

enum class NetMode {
  kRecord,     // allow everything, record it
  kAllowList,  // allow only destinations an `allow` rule matches; EPERM for the rest
};

struct EgressPolicy {
  NetMode mode = NetMode::kRecord;
  std::vector<NetRule> allow;  // at most kMaxNetRules; used in kAllowList mode
};

inline constexpr std::size_t kMaxNetRules = 64;

struct EgressEvent {
  enum Kind {
    kConnect,     // connect() (TCP, or UDP setting its peer)
    kSend,        // sendmsg()/sendto() naming a UDP destination
    kServerName,  // a TLS ClientHello on a TCP connection: server_name is set
  };
  std::int64_t time_ms = 0;  // Unix epoch milliseconds
  pid_t pid = 0;             // the process (thread group); 0 when not known
  std::string comm;          // its command name (up to 15 characters); "" when not known
  bool denied = false;       // the call failed with EPERM
  int protocol = 0;          // IPPROTO_TCP, IPPROTO_UDP
  std::string address;       // remote address, "10.0.0.1" or "2001:db8::1"
  std::uint16_t port = 0;    // remote port
  std::string server_name;   // kServerName only
  Kind kind = kConnect;
};

// One remote endpoint's traffic since the monitor was attached. Bytes are transport payload
// (TCP or UDP data, no headers; retransmissions included); packets are those that carried
// payload, as the stack handed them to IP (a segmentation-offload packet counts as the
// segments it becomes). Packets without payload (handshakes, pure ACKs) are not counted, so
// an endpoint appears once data went either way; connect attempts are in the events.
struct EgressFlow {
  int protocol = 0;  // IPPROTO_TCP, IPPROTO_UDP, or another IP protocol number
  std::string address;
  std::uint16_t port = 0;  // 0 for protocols without ports
  std::uint64_t bytes_out = 0, bytes_in = 0, packets_out = 0, packets_in = 0;
  std::int64_t first_ms = 0, last_ms = 0;  // Unix epoch milliseconds
  std::string server_name;                 // the latest SNI seen for this endpoint, or ""
};

class EgressMonitor {
 public:
  // Whether this process can load and attach the egress programs on this machine: a cgroup2
  // file system is mounted, bpf() is allowed (root: CAP_BPF and CAP_NET_ADMIN, or
  // CAP_SYS_ADMIN), the kernel has cgroup BPF, BPF ring buffers and coarse BPF clocks (Linux
  // 5.11 or later) and its verifier accepts the programs. Loads them once and unloads them;
  // attaches nothing. The error says which of these failed and what to do: kUnsupported
  // (this kernel or machine), kPermissionDenied (this process).
  static Status probe();

  // Loads a fresh copy of the programs, writes the policy into it, and attaches it to
  // `cgroup_v2_dir`, a directory of the cgroup2 hierarchy (made by the caller). Errors:
  // kInvalidArgument (more than kMaxNetRules rules, a malformed rule, a directory that is
  // not a cgroup2 one), kNotFound (no such directory), and probe()'s.
  static Result<std::unique_ptr<EgressMonitor>> attach(const std::string& cgroup_v2_dir,
                                                       const EgressPolicy& policy);

  // The events recorded since the last call, oldest first. TCP connects are recorded each
  // time, UDP destinations (proto, address, port) about once a second per CPU at most. When
  // the caller drains too seldom the kernel's 1 MiB ring buffer fills and records are lost
  // (counted by lost_events()).
  std::vector<EgressEvent> drain();

  // The byte counters now, one per remote endpoint, in the order first seen; server_name
  // from the ClientHellos seen so far (read from the ring buffer; their events stay
  // queued for drain()).
  std::vector<EgressFlow> flows() const;

  // Records lost so far: the ring buffer was full, or more than 65536 events waited for
  // drain().
  std::uint64_t lost_events() const;

  // The directory it is attached to.
  const std::string& cgroup_dir() const;

  // The descriptors of its attachments (BPF links). Another process that holds duplicates of
  // them keeps the programs attached, and the policy enforced, after this monitor is gone:
  // the job's supervisor does, so that the policy outlives a restart of the daemon.
  std::vector<int> link_fds() const;

  ~EgressMonitor();  // detaches everything it attached
  EgressMonitor(const EgressMonitor&) = delete;
  EgressMonitor& operator=(const EgressMonitor&) = delete;

 private:
  struct Impl;
  explicit EgressMonitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aion::guard
