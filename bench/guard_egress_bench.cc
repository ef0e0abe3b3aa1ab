// guard_egress_bench: what the egress monitor (cgroup BPF programs) costs a connect-heavy job.
//
// A worker process in a fresh cgroup2 directory opens --connections short TCP connections to
// a loopback server of this process, each sending and receiving --bytes bytes, then sends
// --datagrams UDP datagrams of 512 bytes to a loopback sink. The same work runs with no
// monitor, with a kRecord monitor, and with a kAllowList monitor of 20 rules (the two that
// match last, so every connect and send scans them all); while a monitor is attached a thread
// drains its events every 50 ms, as aiond would. Setups alternate within each of --rounds
// rounds (rotating which goes first). Each figure is given as the median round and the best
// round, with its overhead against no monitor (target: under 5% on connections): wall-clock
// rates, and CPU time per connection or datagram (worker plus peer thread, so both ends of
// loopback), which other processes on the machine disturb far less than wall time. The worker
// closes with SO_LINGER 0 (a reset), so hundreds of thousands of connections leave no
// TIME_WAIT behind. Needs root and a cgroup2 mount; on a shared machine run it under
// `nice -n -20` so other work does not land in the figures (the JSON records the niceness and
// the load average around the run).
//   guard_egress_bench [--connections N] [--bytes K] [--datagrams M] [--rounds R] [--out FILE]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/strings.h"
#include "aion/core/version.h"
#include "aion/guard/egress.h"
#include "bench_info.h"

namespace {

namespace fs = std::filesystem;
using aion::guard::EgressMonitor;
using aion::guard::EgressPolicy;
using aion::guard::NetMode;

constexpr std::size_t kDatagramBytes = 512;

struct Options {
  int connections = 10000;
  std::size_t bytes = 4096;
  int datagrams = 50000;
  int rounds = 11;
  fs::path out_file = fs::path(AION_BENCH_RESULTS_DIR) / "guard_egress.json";
};

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--connections" && has_value) {
      o.connections = std::stoi(argv[++i]);
    } else if (a == "--bytes" && has_value) {
      o.bytes = static_cast<std::size_t>(std::stoul(argv[++i]));
    } else if (a == "--datagrams" && has_value) {
      o.datagrams = std::stoi(argv[++i]);
    } else if (a == "--rounds" && has_value) {
      o.rounds = std::stoi(argv[++i]);
    } else if (a == "--out" && has_value) {
      o.out_file = argv[++i];
    } else {
      return std::nullopt;
    }
  }
  if (o.connections < 1 || o.rounds < 1 || o.datagrams < 0 || o.bytes < 1) return std::nullopt;
  return o;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A socket of `type` bound to 127.0.0.1 on a port the kernel picks; -1 on failure.
int bound_socket(int type, std::uint16_t& port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

bool send_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t k = ::send(fd, data, n, MSG_NOSIGNAL);
    if (k <= 0) return false;
    data += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

bool recv_exactly(int fd, char* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t k = ::recv(fd, buf + got, n - got, 0);
    if (k <= 0) return false;
    got += static_cast<std::size_t>(k);
  }
  return true;
}

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The loopback peers, outside the cgroup: a TCP server that reads `bytes`, answers `bytes`
// and closes, and a UDP sink that reads and drops.
class Peers {
 public:
  explicit Peers(std::size_t bytes) : bytes_(bytes) {
    tcp_fd_ = bound_socket(SOCK_STREAM, tcp_port_);
    udp_fd_ = bound_socket(SOCK_DGRAM, udp_port_);
    if (tcp_fd_ < 0 || udp_fd_ < 0 || ::listen(tcp_fd_, 128) != 0) return;
    tcp_ = std::thread([this] { serve_tcp(); });
    udp_ = std::thread([this] { serve_udp(); });
  }
  ~Peers() {
    stop_ = true;
    if (tcp_.joinable()) tcp_.join();
    if (udp_.joinable()) udp_.join();
    if (tcp_fd_ >= 0) ::close(tcp_fd_);
    if (udp_fd_ >= 0) ::close(udp_fd_);
  }
  bool ok() const { return tcp_.joinable() && udp_.joinable(); }
  // CPU seconds the TCP server and the UDP sink have used so far.
  double tcp_cpu() { return thread_cpu(tcp_); }
  double udp_cpu() { return thread_cpu(udp_); }
  std::uint16_t tcp_port() const { return tcp_port_; }
  std::uint16_t udp_port() const { return udp_port_; }

 private:
  static double thread_cpu(std::thread& t) {
    clockid_t clock{};
    if (::pthread_getcpuclockid(t.native_handle(), &clock) != 0) return 0;
    return cpu_seconds(clock);
  }
  void serve_tcp() {
    std::vector<char> buf(bytes_, 'r');
    while (!stop_) {
      pollfd p{tcp_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(tcp_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (recv_exactly(c, buf.data(), bytes_)) send_all(c, buf.data(), bytes_);
      ::close(c);
    }
  }
  void serve_udp() {
    char buf[2048];
    while (!stop_) {
      pollfd p{udp_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      while (::recv(udp_fd_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
      }
    }
  }

  std::size_t bytes_;
  int tcp_fd_ = -1, udp_fd_ = -1;
  std::uint16_t tcp_port_ = 0, udp_port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread tcp_, udp_;
};

// What the parent asks the worker, and what it answers.
struct Job {
  std::uint16_t tcp_port = 0, udp_port = 0;
  int connections = 0, datagrams = 0;
  std::size_t bytes = 0;
};
// Wall and CPU seconds of each phase. CPU time is the worker's plus the peer thread's, so
// it holds the kernel's work on both ends of loopback (the ingress programs run in the
// sender's context) and, unlike wall time, hardly moves when other processes compete.
struct Timing {
  double tcp_seconds = 0, udp_seconds = 0;
  double tcp_cpu = 0, udp_cpu = 0;
  int failures = 0;
};

Timing run_job(const Job& job) {
  Timing t;
  std::vector<char> buf(job.bytes, 's');
  const sockaddr_in tcp_to = loopback(job.tcp_port);
  const linger reset{1, 0};
  auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  for (int i = 0; i < job.connections; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool ok = fd >= 0 &&
                    ::connect(fd, reinterpret_cast<const sockaddr*>(&tcp_to), sizeof tcp_to) == 0 &&
                    send_all(fd, buf.data(), job.bytes) && recv_exactly(fd, buf.data(), job.bytes);
    if (!ok) ++t.failures;
    if (fd >= 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      ::close(fd);
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  const double c1 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  t.tcp_seconds = std::chrono::duration<double>(t1 - t0).count();
  t.tcp_cpu = c1 - c0;
  const sockaddr_in udp_to = loopback(job.udp_port);
  const int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  for (int i = 0; i < job.datagrams; ++i) {
    if (::sendto(u, buf.data(), std::min(kDatagramBytes, buf.size()), 0,
                 reinterpret_cast<const sockaddr*>(&udp_to), sizeof udp_to) < 0) {
      ++t.failures;
    }
  }
  if (u >= 0) ::close(u);
  t.udp_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  t.udp_cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c1;
  return t;
}

// The worker: forked before any thread starts, joins the cgroup, then runs each Job it
// reads and writes back its Timing, until the pipe closes.
class Worker {
 public:
  explicit Worker(const std::string& cgroup_dir) {
    int jobs[2], timings[2];
    if (::pipe(jobs) != 0 || ::pipe(timings) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(jobs[1]);
      ::close(timings[0]);
      // Failure shows as an empty cgroup, which the parent checks after the warm-up run.
      aion::ignore(
          aion::HostFs("/").write(cgroup_dir + "/cgroup.procs", std::to_string(::getpid())),
          "the parent checks that the worker joined");
      Job job;
      while (::read(jobs[0], &job, sizeof job) == sizeof job) {
        const Timing t = run_job(job);
        if (::write(timings[1], &t, sizeof t) != sizeof t) break;
      }
      ::_exit(0);
    }
    ::close(jobs[0]);
    ::close(timings[1]);
    jobs_ = jobs[1];
    timings_ = timings[0];
  }
  ~Worker() {
    if (jobs_ >= 0) ::close(jobs_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    if (timings_ >= 0) ::close(timings_);
  }
  std::optional<Timing> run(const Job& job) {
    Timing t;
    if (::write(jobs_, &job, sizeof job) != sizeof job) return std::nullopt;
    if (::read(timings_, &t, sizeof t) != sizeof t) return std::nullopt;
    return t;
  }

 private:
  pid_t pid_ = -1;
  int jobs_ = -1, timings_ = -1;
};

struct Setup {
  std::string name;
  std::optional<EgressPolicy> policy;  // nullopt: no monitor
  std::vector<double> conn_per_s, datagrams_per_s;
  std::vector<double> cpu_us_per_conn, cpu_us_per_datagram;
  std::uint64_t events = 0, lost = 0;
  int failures = 0;
};

// 18 rules that match nothing here, then the server's two.
EgressPolicy allow_list(std::uint16_t tcp_port, std::uint16_t udp_port) {
  EgressPolicy p{NetMode::kAllowList, {}};
  for (int i = 0; i < 18; ++i) {
    const std::string text = "10." + std::to_string(i) + ".0.0/16:443/tcp";
    p.allow.push_back(*aion::guard::parse_net_rule(text));
  }
  p.allow.push_back(*aion::guard::parse_net_rule("127.0.0.1:" + std::to_string(tcp_port) + "/tcp"));
  p.allow.push_back(*aion::guard::parse_net_rule("127.0.0.1:" + std::to_string(udp_port) + "/udp"));
  return p;
}

// Runs `job` once under `setup`, draining events meanwhile; false on a failure to attach.
bool run_once(Setup& setup, Worker& worker, Peers& peers, const Job& job,
              const std::string& cgroup) {
  std::unique_ptr<EgressMonitor> monitor;
  if (setup.policy) {
    auto m = EgressMonitor::attach(cgroup, *setup.policy);
    if (!m) {
      std::fprintf(stderr, "guard_egress_bench: %s\n", m.error().message().c_str());
      return false;
    }
    monitor = std::move(*m);
  }
  std::atomic<bool> done{false};
  std::uint64_t events = 0;
  std::thread drainer([&] {
    while (monitor && !done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      events += monitor->drain().size();
    }
  });
  const double tcp0 = peers.tcp_cpu(), udp0 = peers.udp_cpu();
  const std::optional<Timing> t = worker.run(job);
  const double tcp_peer = peers.tcp_cpu() - tcp0, udp_peer = peers.udp_cpu() - udp0;
  done = true;
  drainer.join();
  if (!t) return false;
  if (monitor) {
    events += monitor->drain().size();
    setup.events += events;
    setup.lost += monitor->lost_events();
  }
  setup.conn_per_s.push_back(job.connections / t->tcp_seconds);
  setup.datagrams_per_s.push_back(job.datagrams / std::max(t->udp_seconds, 1e-9));
  setup.cpu_us_per_conn.push_back((t->tcp_cpu + tcp_peer) * 1e6 / job.connections);
  setup.cpu_us_per_datagram.push_back((t->udp_cpu + udp_peer) * 1e6 / std::max(job.datagrams, 1));
  setup.failures += t->failures;
  return true;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string kernel_release() {
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "unknown";
}

std::string cgroup2_root() {
  auto mounts = aion::HostFs("/").read("/proc/self/mounts");
  std::string found;
  for (const std::string& line : aion::split(mounts.value_or(""), '\n', {.skip_empty = true})) {
    const std::vector<std::string> f = aion::split_words(line);
    if (f.size() >= 3 && f[2] == "cgroup2" && (found.empty() || f[1] == "/sys/fs/cgroup")) {
      found = f[1];
    }
  }
  return found;
}

// The 1-minute load average: how busy the machine was around the figures.
double load_average() {
  auto text = aion::HostFs("/").read("/proc/loadavg");
  const std::vector<std::string> f = aion::split_words(text.value_or(""));
  return f.empty() ? -1 : std::strtod(f[0].c_str(), nullptr);
}

double best(const std::vector<double>& v, bool highest) {
  if (v.empty()) return 0;
  return highest ? *std::max_element(v.begin(), v.end()) : *std::min_element(v.begin(), v.end());
}

// Overhead in percent of `with` against `base`, for a rate (higher is better) or a cost.
double overhead_pct(double base, double with, bool rate) {
  if (base <= 0 || with <= 0) return 0;
  return (rate ? base / with - 1 : with / base - 1) * 100;
}

// One figure of every setup, with its median, best and overhead against the first setup.
aion::Json figure(const std::vector<Setup>& setups, std::vector<double> Setup::*values, bool rate,
                  const char* label, const char* format) {
  aion::Json out = aion::Json::object();
  const double base_median = median(setups[0].*values), base_best = best(setups[0].*values, rate);
  std::printf("%s\n", label);
  for (const Setup& s : setups) {
    const double m = median(s.*values), b = best(s.*values, rate);
    const double om = overhead_pct(base_median, m, rate), ob = overhead_pct(base_best, b, rate);
    std::printf("  %-11s median ", s.name.c_str());
    std::printf(format, m);
    std::printf(" (%+5.1f%%)   best ", om);
    std::printf(format, b);
    std::printf(" (%+5.1f%%)\n", ob);
    out[s.name] = {{"median", m},
                   {"best", b},
                   {"overhead_pct_median", om},
                   {"overhead_pct_best", ob},
                   {"rounds", s.*values}};
  }
  return out;
}

void report(const Options& o, const std::vector<Setup>& setups, aion::Json& results) {
  results["workload"] = {
      {"connections", o.connections}, {"bytes_each_way", o.bytes},
      {"datagrams", o.datagrams},     {"datagram_bytes", kDatagramBytes},
      {"rounds", o.rounds},           {"allow_list_rules", setups.back().policy->allow.size()}};
  results["connections_per_s"] =
      figure(setups, &Setup::conn_per_s, true, "TCP connections/s (wall clock)", "%9.0f");
  results["cpu_us_per_connection"] =
      figure(setups, &Setup::cpu_us_per_conn, false, "CPU us per connection", "%9.2f");
  results["datagrams_per_s"] =
      figure(setups, &Setup::datagrams_per_s, true, "UDP datagrams/s (wall clock)", "%9.0f");
  results["cpu_us_per_datagram"] =
      figure(setups, &Setup::cpu_us_per_datagram, false, "CPU us per datagram", "%9.3f");
  aion::Json records = aion::Json::object();
  for (const Setup& s : setups) {
    std::printf("  %-11s %llu events, %llu lost, %d failed calls\n", s.name.c_str(),
                static_cast<unsigned long long>(s.events), static_cast<unsigned long long>(s.lost),
                s.failures);
    records[s.name] = {{"events", s.events}, {"lost_events", s.lost}, {"failures", s.failures}};
  }
  results["records"] = records;
  results["target_overhead_pct"] = 5;
}

int run(const Options& o, const std::string& cgroup, aion::Json& results) {
  Worker worker(cgroup);  // before any thread exists
  Peers peers(o.bytes);
  if (!peers.ok()) {
    std::fprintf(stderr, "guard_egress_bench: cannot open the loopback peers\n");
    return 1;
  }
  std::vector<Setup> setups;
  setups.push_back({"none", std::nullopt});
  setups.push_back({"record", EgressPolicy{NetMode::kRecord, {}}});
  setups.push_back({"allow-list", allow_list(peers.tcp_port(), peers.udp_port())});
  const Job job{peers.tcp_port(), peers.udp_port(), o.connections, o.datagrams, o.bytes};
  Setup warmup{"warmup", std::nullopt};
  if (!run_once(warmup, worker, peers, job, cgroup)) return 1;
  const std::string members =
      aion::trim(aion::HostFs("/").read(cgroup + "/cgroup.procs").value_or(""));
  if (members.empty()) {
    std::fprintf(stderr, "guard_egress_bench: the worker did not join %s\n", cgroup.c_str());
    return 1;
  }
  for (int r = 0; r < o.rounds; ++r) {
    for (std::size_t i = 0; i < setups.size(); ++i) {
      Setup& s = setups[(i + static_cast<std::size_t>(r)) % setups.size()];
      if (!run_once(s, worker, peers, job, cgroup)) return 1;
    }
    std::printf("round %d/%d done\n", r + 1, o.rounds);
    std::fflush(stdout);
  }
  report(o, setups, results);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> o = parse_options(argc, argv);
  if (!o) {
    std::fprintf(stderr,
                 "usage: guard_egress_bench [--connections N] [--bytes K] [--datagrams M] "
                 "[--rounds R] [--out FILE]\n");
    return 2;
  }
  const char* build = aion::bench::build_kind();
  std::printf("aion %s (%s), cpu: %s, kernel %s\n", aion::kVersion, build,
              aion::bench::cpu_model().c_str(), kernel_release().c_str());
  std::printf(
      "workload: %d TCP connections x %zu B each way, %d UDP datagrams x %zu B; %d rounds\n",
      o->connections, o->bytes, o->datagrams, kDatagramBytes, o->rounds);
  if (auto st = EgressMonitor::probe(); !st) {
    std::fprintf(stderr, "guard_egress_bench: %s\n", st.error().message().c_str());
    return 1;
  }
  const std::string cgroup = cgroup2_root() + "/aion-egress-bench-" + std::to_string(::getpid());
  std::error_code ec;
  if (!fs::create_directory(cgroup, ec)) {
    std::fprintf(stderr, "guard_egress_bench: cannot create %s: %s\n", cgroup.c_str(),
                 ec.message().c_str());
    return 1;
  }
  aion::Json results = {{"aion_version", aion::kVersion},
                        {"build", build},
                        {"cpu", aion::bench::cpu_model()},
                        {"cpus", std::thread::hardware_concurrency()},
                        {"kernel", kernel_release()}};
  results["nice"] = ::getpriority(PRIO_PROCESS, 0);  // -20 keeps other work off the figures
  results["load_average_before"] = load_average();
  int rc = run(*o, cgroup, results);
  results["load_average_after"] = load_average();
  fs::remove(cgroup, ec);
  if (rc == 0 && !aion::bench::write_results(results, o->out_file, "guard_egress_bench")) rc = 1;
  return rc;
}
