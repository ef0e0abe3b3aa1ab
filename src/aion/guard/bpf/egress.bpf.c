/* The egress programs of aion's guard, attached to one job's cgroup v2 directory.
 *
 * connect4/connect6/sendmsg4/sendmsg6 check every connect() and every sendmsg()/sendto()
 * that names a destination against the policy map (allow all, or an allow list) and put an
 * event in the ring buffer; the kernel answers EPERM when a program returns 0. The
 * cgroup_skb programs count transport payload bytes per remote endpoint and copy the head
 * of a socket's first TLS ClientHello to the ring buffer; they always return 1 (they never
 * drop a packet).
 *
 * Only UAPI context structs (struct bpf_sock_addr, struct __sk_buff) and packet bytes read
 * with bpf_skb_load_bytes are used, so no vmlinux.h and no CO-RE relocation is needed: the
 * object loads on any kernel with these program types whatever its internal layout.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

/* After <linux/bpf.h>: libbpf's helper declarations use its types. */
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "egress_abi.h"

/* A UDP destination is recorded at most once per this interval (a resolver asked a
 * thousand times a second gives one event per second). */
#define UDP_RECORD_INTERVAL_NS 1000000000ULL
#define UDP_SLOTS 4096 /* a power of two */
/* The fragment offset bits of the IPv4 frag_off field: non-zero past the first fragment,
 * which alone carries the transport header. */
#define IP_FRAG_OFFSET 0x1fff

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct egress_policy);
} policy SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Per remote endpoint, per CPU (no cache line shared between CPUs on the packet path).
 * LRU: a job that talks to more endpoints than this loses the counters of the ones it has
 * not used for longest, rather than stopping being counted. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct egress_endpoint);
  __type(value, struct egress_counters);
} flows SEC(".maps");

/* When each UDP destination was last recorded: a direct-mapped cache per CPU, indexed by a
 * hash of the endpoint (an array lookup is a few instructions; two destinations sharing a
 * slot are recorded more often, never less). */
struct udp_slot {
  struct egress_endpoint ep;
  __u64 time_ns;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, UDP_SLOTS);
  __type(key, __u32);
  __type(value, struct udp_slot);
} udp_seen SEC(".maps");

/* Sockets whose ClientHello was already copied, by socket cookie. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, __u8);
} hello_seen SEC(".maps");

/* Records lost because the ring buffer was full (user space did not drain it in time). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(void) {
  __u32 key = 0;
  __u64* n = bpf_map_lookup_elem(&lost, &key);
  if (n) *n += 1;
}

static __always_inline int rule_matches(const struct egress_rule* r,
                                        const struct egress_endpoint* ep, const __u32* words) {
  if (r->family != ep->family) return 0;
  if (r->protocol && r->protocol != ep->protocol) return 0;
  if (r->port && r->port != ep->port) return 0;
  return (words[0] & r->mask[0]) == r->addr[0] && (words[1] & r->mask[1]) == r->addr[1] &&
         (words[2] & r->mask[2]) == r->addr[2] && (words[3] & r->mask[3]) == r->addr[3];
}

static __always_inline int allowed(const struct egress_endpoint* ep, const __u32* words) {
  __u32 key = 0;
  const struct egress_policy* p = bpf_map_lookup_elem(&policy, &key);
  if (!p) return 0; /* cannot happen for an array map; fail closed all the same */
  if (p->mode != EGRESS_MODE_ALLOW_LIST) return 1;
  __u32 n = p->rule_count;
  for (__u32 i = 0; i < EGRESS_MAX_RULES; i++) {
    if (i >= n) break;
    if (rule_matches(&p->rules[i], ep, words)) return 1;
  }
  return 0;
}

static __always_inline __u32 endpoint_hash(const struct egress_endpoint* ep) {
  const __u32* w = (const __u32*)ep->addr;
  __u32 h = w[0] ^ (w[1] * 31) ^ (w[2] * 961) ^ (w[3] * 29791);
  h ^= ((__u32)ep->port << 8) ^ ep->protocol;
  h *= 0x9e3779b1; /* Fibonacci hashing: the high bits mix every input bit */
  return h >> 20;  /* 12 bits: UDP_SLOTS */
}

static __always_inline int same_endpoint(const struct egress_endpoint* a,
                                         const struct egress_endpoint* b) {
  const __u32* x = (const __u32*)a;
  const __u32* y = (const __u32*)b;
  return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

/* UDP destinations are recorded once per interval; everything else every time. */
static __always_inline int should_record(const struct egress_endpoint* ep, __u64 now) {
  if (ep->protocol != IPPROTO_UDP) return 1;
  __u32 key = endpoint_hash(ep) & (UDP_SLOTS - 1);
  struct udp_slot* slot = bpf_map_lookup_elem(&udp_seen, &key);
  if (!slot) return 1;
  if (slot->time_ns && now - slot->time_ns < UDP_RECORD_INTERVAL_NS && same_endpoint(&slot->ep, ep))
    return 0;
  slot->ep = *ep;
  slot->time_ns = now;
  return 1;
}

static __always_inline void record(struct bpf_sock_addr* ctx, const struct egress_endpoint* ep,
                                   __u8 kind, __u8 denied, __u64 now) {
  struct egress_event* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_lost();
    return;
  }
  e->time_ns = now;
  e->cookie = bpf_get_socket_cookie(ctx);
  e->pid = bpf_get_current_pid_tgid() >> 32;
  e->kind = kind;
  e->denied = denied;
  e->family = ep->family;
  e->protocol = ep->protocol;
  __builtin_memcpy(e->addr, ep->addr, sizeof(e->addr));
  e->port = ep->port;
  e->hello_len = 0;
  if (bpf_get_current_comm(e->comm, sizeof(e->comm))) e->comm[0] = 0;
  bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP); /* user space polls; no epoll wakeups */
}

/* The destination of a connect() or sendmsg(). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is taken as the IPv4 address it carries, so IPv4 rules and records see
 * it whichever socket family reached it. */
static __always_inline void destination(struct bpf_sock_addr* ctx, int v6,
                                        struct egress_endpoint* ep, __u32* words) {
  if (v6) {
    words[0] = ctx->user_ip6[0];
    words[1] = ctx->user_ip6[1];
    words[2] = ctx->user_ip6[2];
    words[3] = ctx->user_ip6[3];
  } else {
    words[0] = ctx->user_ip4;
    words[1] = words[2] = words[3] = 0;
  }
  ep->family = v6 ? EGRESS_FAMILY_INET6 : EGRESS_FAMILY_INET;
  if (v6 && words[0] == 0 && words[1] == 0 && words[2] == bpf_htonl(0xffff)) {
    words[0] = words[3];
    words[1] = words[2] = words[3] = 0;
    ep->family = EGRESS_FAMILY_INET;
  }
  __builtin_memcpy(ep->addr, words, sizeof(ep->addr));
  ep->port = bpf_ntohs((__u16)ctx->user_port);
  ep->protocol = (__u8)ctx->protocol;
}

/* 1 lets the call go on, 0 makes it fail with EPERM. */
static __always_inline int check(struct bpf_sock_addr* ctx, int v6, __u8 kind) {
  struct egress_endpoint ep = {};
  __u32 words[4];
  destination(ctx, v6, &ep, words);
  int ok = allowed(&ep, words);
  __u64 now = bpf_ktime_get_coarse_ns();
  if (should_record(&ep, now)) record(ctx, &ep, kind, !ok, now);
  return ok;
}

SEC("cgroup/connect4")
int egress_connect4(struct bpf_sock_addr* ctx) {
  return check(ctx, 0, EGRESS_KIND_CONNECT);
}

SEC("cgroup/connect6")
int egress_connect6(struct bpf_sock_addr* ctx) {
  return check(ctx, 1, EGRESS_KIND_CONNECT);
}

SEC("cgroup/sendmsg4")
int egress_sendmsg4(struct bpf_sock_addr* ctx) {
  return check(ctx, 0, EGRESS_KIND_SEND);
}

SEC("cgroup/sendmsg6")
int egress_sendmsg6(struct bpf_sock_addr* ctx) {
  return check(ctx, 1, EGRESS_KIND_SEND);
}

/* What a packet says about its remote endpoint and where its payload lies. */
struct packet {
  struct egress_endpoint ep;
  __u32 payload_off;
  __u32 payload_len;
};

/* Copies `len` bytes at offset `off` of the packet, which starts at its network header in
 * cgroup skb programs; 0 on success. The helper reads linear data and page fragments alike
 * (reading the linear part directly saves a few nanoseconds, not worth a second path). */
static __always_inline int read_at(struct __sk_buff* skb, __u32 off, void* dst, __u32 len) {
  return bpf_skb_load_bytes(skb, off, dst, len);
}

/* The remote address and the transport protocol from the IP header. Returns the offset of
 * the transport header, or 0 when the packet is not IPv4 or IPv6. */
static __always_inline __u32 parse_ip(struct __sk_buff* skb, int out, struct packet* pk,
                                      int* first_fragment) {
  union {
    struct iphdr v4;
    struct ipv6hdr v6;
  } ip;
  if (read_at(skb, 0, &ip.v4, sizeof(ip.v4))) return 0; /* no IP packet is shorter */
  if (ip.v4.version == 4) {
    __u32 hdr = ip.v4.ihl * 4;
    if (hdr < sizeof(ip.v4)) return 0;
    pk->ep.family = EGRESS_FAMILY_INET;
    pk->ep.protocol = ip.v4.protocol;
    __u32 addr = out ? ip.v4.daddr : ip.v4.saddr;
    __builtin_memcpy(pk->ep.addr, &addr, sizeof(addr));
    *first_fragment = (bpf_ntohs(ip.v4.frag_off) & IP_FRAG_OFFSET) == 0;
    return hdr;
  }
  if (ip.v4.version == 6) {
    if (read_at(skb, 0, &ip.v6, sizeof(ip.v6))) return 0;
    pk->ep.family = EGRESS_FAMILY_INET6;
    pk->ep.protocol = ip.v6.nexthdr; /* extension headers are counted under their own number */
    __builtin_memcpy(pk->ep.addr, out ? &ip.v6.daddr : &ip.v6.saddr, sizeof(pk->ep.addr));
    *first_fragment = 1;
    return sizeof(ip.v6);
  }
  return 0;
}

/* The IPv4 header without options and the first 20 bytes after it, read at once. */
struct ipv4_head {
  struct iphdr ip;
  union {
    struct tcphdr tcp;
    struct udphdr udp;
  } l4;
};

/* The common packet, IPv4 without options carrying TCP or UDP (not a later fragment), with
 * one read instead of two: each helper call is a good part of a program that runs for
 * every packet. Returns 1 when it applied and filled `pk`. */
static __always_inline int parse_ipv4_fast(struct __sk_buff* skb, int out, struct packet* pk) {
  struct ipv4_head h;
  if (skb->len < sizeof(h) || read_at(skb, 0, &h, sizeof(h))) return 0;
  if (h.ip.version != 4 || h.ip.ihl != 5 || (bpf_ntohs(h.ip.frag_off) & IP_FRAG_OFFSET)) return 0;
  __be16 port;
  __u32 l4_hdr;
  if (h.ip.protocol == IPPROTO_TCP) {
    port = out ? h.l4.tcp.dest : h.l4.tcp.source;
    l4_hdr = h.l4.tcp.doff * 4;
  } else if (h.ip.protocol == IPPROTO_UDP) {
    port = out ? h.l4.udp.dest : h.l4.udp.source;
    l4_hdr = sizeof(struct udphdr);
  } else {
    return 0;
  }
  pk->ep.family = EGRESS_FAMILY_INET;
  pk->ep.protocol = h.ip.protocol;
  __u32 addr = out ? h.ip.daddr : h.ip.saddr;
  __builtin_memcpy(pk->ep.addr, &addr, sizeof(addr));
  pk->ep.port = bpf_ntohs(port);
  pk->payload_off = sizeof(h.ip) + l4_hdr;
  pk->payload_len = skb->len > pk->payload_off ? skb->len - pk->payload_off : 0;
  return 1;
}

/* Fills `pk` from the packet; 0 on success. */
static __always_inline int parse(struct __sk_buff* skb, int out, struct packet* pk) {
  if (parse_ipv4_fast(skb, out, pk)) return 0;
  int first_fragment = 1;
  __u32 l4 = parse_ip(skb, out, pk, &first_fragment);
  if (l4 == 0) return -1;
  __u32 l4_hdr = 0;
  __be16 ports[2] = {0, 0}; /* source, destination */
  if (first_fragment && pk->ep.protocol == IPPROTO_TCP) {
    struct tcphdr tcp;
    if (read_at(skb, l4, &tcp, sizeof(tcp))) return -1;
    ports[0] = tcp.source;
    ports[1] = tcp.dest;
    l4_hdr = tcp.doff * 4;
  } else if (first_fragment && pk->ep.protocol == IPPROTO_UDP) {
    struct udphdr udp;
    if (read_at(skb, l4, &udp, sizeof(udp))) return -1;
    ports[0] = udp.source;
    ports[1] = udp.dest;
    l4_hdr = sizeof(udp);
  }
  pk->ep.port = bpf_ntohs(out ? ports[1] : ports[0]);
  pk->payload_off = l4 + l4_hdr;
  pk->payload_len = skb->len > pk->payload_off ? skb->len - pk->payload_off : 0;
  return 0;
}

static __always_inline void count(struct __sk_buff* skb, int out, const struct packet* pk,
                                  __u64 now) {
  struct egress_counters* c = bpf_map_lookup_elem(&flows, &pk->ep);
  if (!c) {
    struct egress_counters fresh = {};
    fresh.first_ns = now;
    fresh.last_ns = now;
    bpf_map_update_elem(&flows, &pk->ep, &fresh, BPF_NOEXIST);
    c = bpf_map_lookup_elem(&flows, &pk->ep);
    if (!c) return;
  }
  __u64 segments = skb->gso_segs ? skb->gso_segs : 1;
  if (out) {
    __sync_fetch_and_add(&c->bytes_out, pk->payload_len);
    __sync_fetch_and_add(&c->packets_out, segments);
  } else {
    __sync_fetch_and_add(&c->bytes_in, pk->payload_len);
    __sync_fetch_and_add(&c->packets_in, segments);
  }
  c->last_ns = now;
}

/* A TLS record of type handshake (0x16), version 3.x, whose handshake message is a
 * ClientHello (type 1): bytes 0, 1 and 5 of the payload. */
static __always_inline int looks_like_client_hello(struct __sk_buff* skb, const struct packet* pk) {
  if (pk->ep.protocol != IPPROTO_TCP || pk->payload_len < 6) return 0;
  __u8 head[6];
  if (read_at(skb, pk->payload_off, head, sizeof(head))) return 0;
  return head[0] == 0x16 && head[1] == 0x03 && head[5] == 0x01;
}

/* Copies the head of the first ClientHello of a socket to the ring buffer. */
static __always_inline void copy_client_hello(struct __sk_buff* skb, const struct packet* pk,
                                              __u64 now) {
  __u64 cookie = bpf_get_socket_cookie(skb);
  __u8 one = 1;
  if (bpf_map_update_elem(&hello_seen, &cookie, &one, BPF_NOEXIST)) return; /* seen */
  struct egress_hello* h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
  if (!h) {
    count_lost();
    return;
  }
  /* The verifier must see 1 <= n <= EGRESS_HELLO_BYTES on the very register passed to the
   * helper: a 64-bit n, so the compiler checks and passes the same register rather than
   * a zero-extended copy, and barrier_var so it cannot pass payload_len instead. */
  __u64 n = pk->payload_len;
  if (n > EGRESS_HELLO_BYTES) n = EGRESS_HELLO_BYTES;
  barrier_var(n);
  if (n < 1 || n > EGRESS_HELLO_BYTES || bpf_skb_load_bytes(skb, pk->payload_off, h->payload, n)) {
    bpf_ringbuf_discard(h, 0);
    return;
  }
  h->head.time_ns = now;
  h->head.cookie = cookie;
  h->head.pid = 0; /* not known here; user space takes it from the socket's connect */
  h->head.kind = EGRESS_KIND_HELLO;
  h->head.denied = 0;
  h->head.family = pk->ep.family;
  h->head.protocol = pk->ep.protocol;
  __builtin_memcpy(h->head.addr, pk->ep.addr, sizeof(h->head.addr));
  h->head.port = pk->ep.port;
  h->head.hello_len = (__u16)n;
  h->head.comm[0] = 0;
  bpf_ringbuf_submit(h, BPF_RB_NO_WAKEUP);
}

/* Packets without payload (handshakes, pure ACKs: half the packets of a bulk transfer, most
 * of a short connection's) are not counted: they would cost a map update each and say
 * nothing the connect events do not. */
static __always_inline int account(struct __sk_buff* skb, int out) {
  struct packet pk = {};
  if (parse(skb, out, &pk) || pk.payload_len == 0) return 1;
  __u64 now = bpf_ktime_get_coarse_ns();
  count(skb, out, &pk, now);
  if (out && looks_like_client_hello(skb, &pk)) copy_client_hello(skb, &pk, now);
  return 1;
}

SEC("cgroup_skb/egress")
int egress_skb_out(struct __sk_buff* skb) {
  return account(skb, 1);
}

SEC("cgroup_skb/ingress")
int egress_skb_in(struct __sk_buff* skb) {
  return account(skb, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
