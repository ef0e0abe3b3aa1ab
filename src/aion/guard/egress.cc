#include "aion/guard/egress.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statfs.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <span>
#include <tuple>
#include <unordered_map>

#include "aion/core/clock.h"
#include "aion/core/fd.h"
#include "aion/core/host_fs.h"
#include "aion/guard/bpf/egress_abi.h"
#include "aion/guard/egress_load.h"
#include "aion/guard/egress_tls.h"

namespace aion::guard {
namespace {

using detail::BpfObject;

// Events held for drain() at most; beyond, they are counted as lost.
constexpr std::size_t kMaxPending = 65536;
// Sockets remembered for tying a ClientHello to the process that connected it.
constexpr std::size_t kMaxOwners = 4096;
// Endpoints whose server name is remembered (as many as the kernel's flow map holds).
constexpr std::size_t kMaxServerNames = 16384;

// The programs of bpf/egress.bpf.c, attached in this order: counting first, so the
// policy is never in force on a connection whose bytes go uncounted.
constexpr const char* kPrograms[] = {"egress_skb_out",  "egress_skb_in",   "egress_connect4",
                                     "egress_connect6", "egress_sendmsg4", "egress_sendmsg6"};

struct LinkCloser {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using BpfLink = std::unique_ptr<bpf_link, LinkCloser>;

struct RingCloser {
  void operator()(ring_buffer* ring) const { ring_buffer__free(ring); }
};
using RingBuffer = std::unique_ptr<ring_buffer, RingCloser>;

// (family, protocol, address, port): one remote endpoint.
using EndpointKey = std::tuple<int, int, std::array<std::uint8_t, 16>, std::uint16_t>;

EndpointKey endpoint_key(int family, int protocol, const std::uint8_t* addr, std::uint16_t port) {
  std::array<std::uint8_t, 16> a{};
  std::memcpy(a.data(), addr, a.size());
  return {family, protocol, a, port};
}

std::string address_text(int family, const std::uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == EGRESS_FAMILY_INET6 ? AF_INET6 : AF_INET;
  if (::inet_ntop(af, addr, buf, sizeof buf) == nullptr) return "?";
  return buf;
}

// A comm as the kernel gives it: up to 16 bytes, NUL-terminated when shorter. A process
// names itself (prctl PR_SET_NAME), so bytes outside printable ASCII become '?' before the
// name reaches a log line or a table.
std::string comm_text(const char (&comm)[16]) {
  std::string out(comm, strnlen(comm, sizeof comm));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

// Nanoseconds to add to a bpf_ktime_get_coarse_ns() value (CLOCK_MONOTONIC at a clock
// tick's resolution; std::chrono::steady_clock is CLOCK_MONOTONIC on Linux) to get Unix
// time.
std::int64_t monotonic_to_unix_ns() {
  using std::chrono::nanoseconds;
  const Clock& clock = Clock::system();
  const auto wall = std::chrono::duration_cast<nanoseconds>(clock.wall().time_since_epoch());
  const auto mono = std::chrono::duration_cast<nanoseconds>(clock.monotonic().time_since_epoch());
  return wall.count() - mono.count();
}

egress_policy kernel_policy(const EgressPolicy& policy) {
  egress_policy p{};
  p.mode = policy.mode == NetMode::kAllowList ? EGRESS_MODE_ALLOW_LIST : EGRESS_MODE_RECORD;
  p.rule_count = static_cast<__u32>(policy.allow.size());
  for (std::size_t i = 0; i < policy.allow.size(); ++i) {
    const NetRule& rule = policy.allow[i];
    egress_rule& r = p.rules[i];
    r.family = rule.family == AF_INET6 ? EGRESS_FAMILY_INET6 : EGRESS_FAMILY_INET;
    r.protocol = static_cast<__u8>(rule.protocol);
    r.port = rule.port;
    std::array<std::uint8_t, 16> mask{};
    for (int bit = 0; bit < rule.prefix; ++bit) {
      mask[static_cast<std::size_t>(bit / 8)] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
    }
    std::array<std::uint8_t, 16> addr = rule.addr;
    for (std::size_t b = 0; b < addr.size(); ++b) addr[b] &= mask[b];
    std::memcpy(r.addr, addr.data(), sizeof r.addr);
    std::memcpy(r.mask, mask.data(), sizeof r.mask);
  }
  return p;
}

Status validate_policy(const EgressPolicy& policy) {
  if (policy.allow.size() > kMaxNetRules) {
    return fail(ErrorCode::kInvalidArgument,
                "the network policy has " + std::to_string(policy.allow.size()) +
                    " allow rules; at most " + std::to_string(kMaxNetRules) +
                    " fit: merge neighbouring addresses into wider prefixes");
  }
  for (const NetRule& rule : policy.allow) {
    if (auto st = validate_net_rule(rule); !st) return st;
  }
  return {};
}

// Opens `dir` and checks it is a directory of the cgroup2 file system.
Result<Fd> open_cgroup(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    Error e = errno_error(err, "opening the cgroup directory " + dir);
    if (err == ENOENT) e.context("the job's cgroup must exist before its policy is attached");
    return std::unexpected(e);
  }
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0) return std::unexpected(errno_error(errno, "statfs " + dir));
  if (fs.f_type != CGROUP2_SUPER_MAGIC) {
    auto mount = detail::cgroup2_mount(HostFs("/"));
    return fail(ErrorCode::kInvalidArgument,
                dir +
                    " is not a directory of the cgroup2 file system (BPF programs attach only "
                    "to cgroup v2); use the job's directory below " +
                    (mount ? *mount : std::string("a cgroup2 mount")));
  }
  return fd;
}

}  // namespace

struct EgressMonitor::Impl {
  std::string dir;
  BpfObject object;
  std::vector<BpfLink> links;  // destroyed before `object`: detach, then unload
  RingBuffer ring;
  int flows_fd = -1;
  int lost_fd = -1;

  std::mutex mu;  // guards everything below
  std::deque<EgressEvent> pending;
  std::uint64_t dropped = 0;  // events not queued: more than kMaxPending waited
  std::int64_t clock_offset_ns = 0;
  struct Owner {
    pid_t pid;
    std::string comm;
  };
  std::unordered_map<std::uint64_t, Owner> owners;  // socket cookie -> who connected it
  std::deque<std::uint64_t> owner_order;
  std::map<EndpointKey, std::string> server_names;
  std::deque<EndpointKey> server_name_order;

  ~Impl() {
    links.clear();
    ring.reset();
    object.reset();
  }

  std::int64_t unix_ms(std::uint64_t mono_ns) const {
    return (static_cast<std::int64_t>(mono_ns) + clock_offset_ns) / 1'000'000;
  }

  void queue(EgressEvent e) {
    if (pending.size() >= kMaxPending) {
      ++dropped;
      return;
    }
    pending.push_back(std::move(e));
  }

  void remember_owner(std::uint64_t cookie, pid_t pid, std::string comm) {
    if (cookie == 0) return;
    if (owners.emplace(cookie, Owner{pid, std::move(comm)}).second) {
      owner_order.push_back(cookie);
      if (owner_order.size() > kMaxOwners) {
        owners.erase(owner_order.front());
        owner_order.pop_front();
      }
    }
  }

  void remember_server_name(const EndpointKey& key, const std::string& name) {
    auto [it, fresh] = server_names.insert_or_assign(key, name);
    if (!fresh) return;
    server_name_order.push_back(key);
    if (server_name_order.size() > kMaxServerNames) {
      server_names.erase(server_name_order.front());
      server_name_order.pop_front();
    }
  }

  void on_attempt(const egress_event& r) {
    EgressEvent e;
    e.time_ms = unix_ms(r.time_ns);
    e.pid = static_cast<pid_t>(r.pid);
    e.comm = comm_text(r.comm);
    e.denied = r.denied != 0;
    e.protocol = r.protocol;
    e.address = address_text(r.family, r.addr);
    e.port = r.port;
    e.kind = r.kind == EGRESS_KIND_SEND ? EgressEvent::kSend : EgressEvent::kConnect;
    if (!e.denied && e.kind == EgressEvent::kConnect) remember_owner(r.cookie, e.pid, e.comm);
    queue(std::move(e));
  }

  void on_hello(const egress_hello& h) {
    const std::size_t n = std::min<std::size_t>(h.head.hello_len, sizeof h.payload);
    auto name = client_hello_server_name(std::span<const std::uint8_t>(h.payload, n));
    if (!name) return;
    EgressEvent e;
    e.time_ms = unix_ms(h.head.time_ns);
    if (auto it = owners.find(h.head.cookie); it != owners.end()) {
      e.pid = it->second.pid;
      e.comm = it->second.comm;
    }
    e.protocol = h.head.protocol;
    e.address = address_text(h.head.family, h.head.addr);
    e.port = h.head.port;
    e.server_name = *name;
    e.kind = EgressEvent::kServerName;
    remember_server_name(endpoint_key(h.head.family, h.head.protocol, h.head.addr, h.head.port),
                         *name);
    queue(std::move(e));
  }

  // A record from the ring buffer. The kernel wrote it, but its size is checked all the
  // same before any field is read.
  static int on_record(void* ctx, void* data, std::size_t size) {
    auto* self = static_cast<Impl*>(ctx);
    if (size < sizeof(egress_event)) return 0;
    egress_event head;
    std::memcpy(&head, data, sizeof head);
    if (head.kind == EGRESS_KIND_HELLO) {
      if (size < sizeof(egress_hello)) return 0;
      auto hello = std::make_unique<egress_hello>();
      std::memcpy(hello.get(), data, sizeof *hello);
      self->on_hello(*hello);
    } else {
      self->on_attempt(head);
    }
    return 0;
  }

  // Moves what the ring buffer holds into `pending`. Caller holds mu.
  void pump() {
    clock_offset_ns = monotonic_to_unix_ns();
    // A negative count is an epoll or map error of a ring buffer that was set up fine; the
    // records stay in the kernel and the next call tries again.
    (void)ring_buffer__consume(ring.get());
  }

  // One endpoint's counters, the CPUs added up. Caller holds mu.
  EgressFlow flow(const egress_endpoint& key, const std::vector<egress_counters>& per_cpu) const {
    EgressFlow f;
    f.protocol = key.protocol;
    f.address = address_text(key.family, key.addr);
    f.port = key.port;
    std::uint64_t first_ns = 0, last_ns = 0;
    for (const egress_counters& c : per_cpu) {
      f.bytes_out += c.bytes_out;
      f.bytes_in += c.bytes_in;
      f.packets_out += c.packets_out;
      f.packets_in += c.packets_in;
      if (c.first_ns != 0 && (first_ns == 0 || c.first_ns < first_ns)) first_ns = c.first_ns;
      last_ns = std::max<std::uint64_t>(last_ns, c.last_ns);
    }
    f.first_ms = unix_ms(first_ns);
    f.last_ms = unix_ms(last_ns);
    auto name = server_names.find(endpoint_key(key.family, key.protocol, key.addr, key.port));
    if (name != server_names.end()) f.server_name = name->second;
    return f;
  }

  Status attach_programs(int cgroup_fd) {
    for (const char* name : kPrograms) {
      bpf_program* prog = bpf_object__find_program_by_name(object.get(), name);
      if (prog == nullptr) {
        return fail(ErrorCode::kInternal,
                    std::string("the egress BPF object has no program ") + name);
      }
      BpfLink link(bpf_program__attach_cgroup(prog, cgroup_fd));
      if (!link) {
        return std::unexpected(
            detail::cgroup_bpf_error(errno, std::string("attaching the BPF program ") + name, dir));
      }
      links.push_back(std::move(link));
    }
    return {};
  }
};

Status EgressMonitor::probe() {
  const HostFs fs("/");
  auto mount = detail::cgroup2_mount(fs);
  if (!mount) return std::unexpected(mount.error());
  if (auto st = detail::check_kernel_support(); !st) return st;
  auto object = detail::load_egress_object();
  if (!object) return std::unexpected(object.error());
  Fd root(::open(mount->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return std::unexpected(errno_error(errno, "opening " + *mount));
  for (bpf_attach_type type :
       {BPF_CGROUP_INET_EGRESS, BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_UDP6_SENDMSG}) {
    __u32 count = 0;
    if (bpf_prog_query(root.get(), type, 0, nullptr, nullptr, &count) != 0) {
      return std::unexpected(
          detail::cgroup_bpf_error(errno, "querying the attached BPF programs", *mount));
    }
  }
  return {};
}

Result<std::unique_ptr<EgressMonitor>> EgressMonitor::attach(const std::string& cgroup_v2_dir,
                                                             const EgressPolicy& policy) {
  if (auto st = validate_policy(policy); !st) return std::unexpected(st.error());
  auto cgroup = open_cgroup(cgroup_v2_dir);
  if (!cgroup) return std::unexpected(cgroup.error());
  auto object = detail::load_egress_object();
  if (!object) return std::unexpected(object.error());

  auto impl = std::make_unique<Impl>();
  impl->dir = cgroup_v2_dir;
  impl->object = std::move(*object);
  const int policy_fd = bpf_object__find_map_fd_by_name(impl->object.get(), "policy");
  const int events_fd = bpf_object__find_map_fd_by_name(impl->object.get(), "events");
  impl->flows_fd = bpf_object__find_map_fd_by_name(impl->object.get(), "flows");
  impl->lost_fd = bpf_object__find_map_fd_by_name(impl->object.get(), "lost");
  if (policy_fd < 0 || events_fd < 0 || impl->flows_fd < 0 || impl->lost_fd < 0) {
    return fail(ErrorCode::kInternal, "the egress BPF object lacks one of its maps");
  }
  const std::uint32_t key = 0;
  const egress_policy kp = kernel_policy(policy);
  if (bpf_map_update_elem(policy_fd, &key, &kp, BPF_ANY) != 0) {
    return std::unexpected(errno_error(errno, "writing the network policy into its BPF map"));
  }
  impl->ring.reset(ring_buffer__new(events_fd, &Impl::on_record, impl.get(), nullptr));
  if (!impl->ring) {
    return std::unexpected(errno_error(errno, "opening the egress BPF ring buffer"));
  }
  if (auto st = impl->attach_programs(cgroup->get()); !st) return std::unexpected(st.error());
  return std::unique_ptr<EgressMonitor>(new EgressMonitor(std::move(impl)));
}

EgressMonitor::EgressMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EgressMonitor::~EgressMonitor() = default;

std::vector<int> EgressMonitor::link_fds() const {
  std::vector<int> out;
  for (const auto& link : impl_->links) out.push_back(bpf_link__fd(link.get()));
  return out;
}

const std::string& EgressMonitor::cgroup_dir() const {
  return impl_->dir;
}

std::vector<EgressEvent> EgressMonitor::drain() {
  std::lock_guard lock(impl_->mu);
  impl_->pump();
  std::vector<EgressEvent> out(std::make_move_iterator(impl_->pending.begin()),
                               std::make_move_iterator(impl_->pending.end()));
  impl_->pending.clear();
  return out;
}

std::vector<EgressFlow> EgressMonitor::flows() const {
  std::lock_guard lock(impl_->mu);
  impl_->pump();
  std::vector<EgressFlow> out;
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return out;
  std::vector<egress_counters> per_cpu(static_cast<std::size_t>(cpus));
  egress_endpoint key{};
  egress_endpoint next{};
  const egress_endpoint* prev = nullptr;
  while (bpf_map_get_next_key(impl_->flows_fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (bpf_map_lookup_elem(impl_->flows_fd, &key, per_cpu.data()) != 0) continue;  // evicted
    out.push_back(impl_->flow(key, per_cpu));
  }
  std::sort(out.begin(), out.end(), [](const EgressFlow& a, const EgressFlow& b) {
    return std::tie(a.first_ms, a.address, a.port, a.protocol) <
           std::tie(b.first_ms, b.address, b.port, b.protocol);
  });
  return out;
}

std::uint64_t EgressMonitor::lost_events() const {
  std::lock_guard lock(impl_->mu);
  const int cpus = libbpf_num_possible_cpus();
  std::uint64_t lost = impl_->dropped;
  if (cpus <= 0) return lost;
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  const std::uint32_t key = 0;
  if (bpf_map_lookup_elem(impl_->lost_fd, &key, per_cpu.data()) == 0) {
    for (std::uint64_t n : per_cpu) lost += n;
  }
  return lost;
}

}  // namespace aion::guard
