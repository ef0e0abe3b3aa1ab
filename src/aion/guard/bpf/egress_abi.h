// The records shared by the egress BPF programs (egress.bpf.c) and the user-space monitor
// (egress.cc): policy maps, ring buffer events and flow counters. Plain C with fixed-width
// UAPI types, included by both sides; a layout change needs both rebuilt together (they
// are: the object is embedded in the library). Addresses are 16 bytes in network order; an
// IPv4 address fills the first 4. Ports are in host order. Plain data, no state: thread-safe.
#ifndef AION_GUARD_BPF_EGRESS_ABI_H_
#define AION_GUARD_BPF_EGRESS_ABI_H_

#include <linux/types.h>

#define EGRESS_MAX_RULES 64
/* The ClientHello bytes copied to user space. A classic ClientHello fits in 512 bytes, but
 * one with a post-quantum key share (X25519MLKEM768: 1216 bytes of key) is about 1.8 KB,
 * and clients that shuffle their extensions may put server_name after it. */
#define EGRESS_HELLO_BYTES 2048

#define EGRESS_FAMILY_INET 2   /* AF_INET */
#define EGRESS_FAMILY_INET6 10 /* AF_INET6 */

enum egress_mode { EGRESS_MODE_RECORD = 0, EGRESS_MODE_ALLOW_LIST = 1 };

enum egress_kind { EGRESS_KIND_CONNECT = 0, EGRESS_KIND_SEND = 1, EGRESS_KIND_HELLO = 2 };

/* One allow rule. `addr` is already masked with `mask` (user space does it), so a match is
 * (dest & mask) == addr word by word. protocol 0 and port 0 match any. */
struct egress_rule {
  __u32 addr[4];
  __u32 mask[4];
  __u16 port;
  __u8 family;
  __u8 protocol;
};

/* The whole policy in one array slot, so a check is one map lookup. */
struct egress_policy {
  __u32 mode; /* enum egress_mode */
  __u32 rule_count;
  struct egress_rule rules[EGRESS_MAX_RULES];
};

/* A connect() or sendmsg() attempt (kind CONNECT or SEND), or the head of every record. */
struct egress_event {
  __u64 time_ns; /* bpf_ktime_get_coarse_ns: CLOCK_MONOTONIC, a clock tick's resolution */
  __u64 cookie;  /* the socket's cookie: ties a HELLO to the CONNECT of the same socket */
  __u32 pid;     /* thread group id (the process) */
  __u8 kind;     /* enum egress_kind */
  __u8 denied;
  __u8 family;
  __u8 protocol;
  __u8 addr[16];
  __u16 port;
  __u16 hello_len; /* HELLO only: bytes used in egress_hello.payload */
  char comm[16];
};

/* The first bytes of a TLS ClientHello a socket sent (kind HELLO). */
struct egress_hello {
  struct egress_event head;
  __u8 payload[EGRESS_HELLO_BYTES];
};

/* Key of the flow and UDP sampling maps: one remote endpoint. Aligned to 4 so the programs
 * may compare it word by word. */
struct egress_endpoint {
  __u8 addr[16];
  __u16 port;
  __u8 family;
  __u8 protocol;
} __attribute__((aligned(4)));

/* Counters of one remote endpoint on one CPU (user space adds the CPUs up). Bytes are
 * transport payload (TCP or UDP data, headers left out; the whole IP payload for other
 * protocols), retransmissions included; packets without payload are not counted. */
struct egress_counters {
  __u64 bytes_out;
  __u64 bytes_in;
  __u64 packets_out;
  __u64 packets_in;
  __u64 first_ns;
  __u64 last_ns;
};

#endif /* AION_GUARD_BPF_EGRESS_ABI_H_ */
