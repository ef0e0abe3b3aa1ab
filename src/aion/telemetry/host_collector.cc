#include "aion/telemetry/host_collector.h"

#include <unistd.h>

#include <sstream>

namespace aion::telemetry {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

}  // namespace

std::vector<MetricFamily> HostCollector::collect() const {
  std::vector<MetricFamily> out;
  cpu(out);
  memory(out);
  pressure(out);
  disks(out);
  network(out);
  infiniband(out);
  return out;
}

void HostCollector::cpu(std::vector<MetricFamily>& out) const {
  auto stat = fs_.read("/proc/stat");
  if (!stat) return;
  static const char* kModes[] = {"user", "nice",    "system", "idle",  "iowait",
                                 "irq",  "softirq", "steal",  "guest", "guest_nice"};
  const double hz = static_cast<double>(std::max(1L, ::sysconf(_SC_CLK_TCK)));
  MetricFamily secs{"aion_cpu_seconds_total",
                    "CPU time per logical CPU and mode, from /proc/stat",
                    MetricType::kCounter,
                    {}};
  MetricFamily ctxt{
      "aion_context_switches_total", "Context switches since boot", MetricType::kCounter, {}};
  MetricFamily running{"aion_procs_running", "Runnable processes", MetricType::kGauge, {}};
  MetricFamily blocked{"aion_procs_blocked", "Processes blocked on I/O", MetricType::kGauge, {}};
  for (const auto& line : lines_of(*stat)) {
    std::istringstream in(line);
    std::string key;
    in >> key;
    if (key.size() > 3 && key.rfind("cpu", 0) == 0) {
      std::string cpu = key.substr(3);
      for (const char* mode : kModes) {
        unsigned long long ticks = 0;
        if (!(in >> ticks)) break;
        secs.add({{"cpu", cpu}, {"mode", mode}}, static_cast<double>(ticks) / hz);
      }
    } else if (key == "ctxt") {
      double v = 0;
      if (in >> v) ctxt.add({}, v);
    } else if (key == "procs_running") {
      double v = 0;
      if (in >> v) running.add({}, v);
    } else if (key == "procs_blocked") {
      double v = 0;
      if (in >> v) blocked.add({}, v);
    }
  }
  move_nonempty(out, {&secs, &ctxt, &running, &blocked});
  if (auto load = fs_.read("/proc/loadavg")) {
    std::istringstream in(*load);
    double l1 = 0, l5 = 0, l15 = 0;
    if (in >> l1 >> l5 >> l15) {
      out.push_back({"aion_load1", "Load average over 1 minute", MetricType::kGauge, {{{}, l1}}});
      out.push_back({"aion_load5", "Load average over 5 minutes", MetricType::kGauge, {{{}, l5}}});
      out.push_back(
          {"aion_load15", "Load average over 15 minutes", MetricType::kGauge, {{{}, l15}}});
    }
  }
}

void HostCollector::memory(std::vector<MetricFamily>& out) const {
  auto info = fs_.read("/proc/meminfo");
  if (!info) return;
  MetricFamily mem{"aion_memory_bytes",
                   "Memory by kind from /proc/meminfo (total, available, free, cached, buffers, "
                   "swap_total, swap_free, shmem, anon_hugepages)",
                   MetricType::kGauge,
                   {}};
  MetricFamily huge{"aion_hugepages",
                    "Hugepages of the default size by state (total, free, reserved, surplus)",
                    MetricType::kGauge,
                    {}};
  MetricFamily huge_size{
      "aion_hugepage_size_bytes", "Default hugepage size", MetricType::kGauge, {}};
  static const std::pair<const char*, const char*> kKinds[] = {{"MemTotal", "total"},
                                                               {"MemAvailable", "available"},
                                                               {"MemFree", "free"},
                                                               {"Cached", "cached"},
                                                               {"Buffers", "buffers"},
                                                               {"SwapTotal", "swap_total"},
                                                               {"SwapFree", "swap_free"},
                                                               {"Shmem", "shmem"},
                                                               {"AnonHugePages", "anon_hugepages"}};
  static const std::pair<const char*, const char*> kHuge[] = {{"HugePages_Total", "total"},
                                                              {"HugePages_Free", "free"},
                                                              {"HugePages_Rsvd", "reserved"},
                                                              {"HugePages_Surp", "surplus"}};
  for (const auto& line : lines_of(*info)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    std::istringstream in(line.substr(colon + 1));
    double v = 0;
    std::string unit;
    if (!(in >> v)) continue;
    in >> unit;
    const double bytes = unit == "kB" ? v * 1024 : v;
    for (const auto& [k, kind] : kKinds) {
      if (key == k) mem.add({{"kind", kind}}, bytes);
    }
    for (const auto& [k, state] : kHuge) {
      if (key == k) huge.add({{"state", state}}, v);
    }
    if (key == "Hugepagesize") huge_size.add({}, bytes);
  }
  move_nonempty(out, {&mem, &huge, &huge_size});
}

void HostCollector::pressure(std::vector<MetricFamily>& out) const {
  MetricFamily stalled{"aion_pressure_stalled_seconds_total",
                       "Time some or all tasks were stalled on a resource (PSI, /proc/pressure)",
                       MetricType::kCounter,
                       {}};
  MetricFamily avg10{"aion_pressure_avg10_ratio",
                     "Share of the last 10 s that tasks were stalled (PSI avg10 / 100)",
                     MetricType::kGauge,
                     {}};
  for (const char* resource : {"cpu", "memory", "io"}) {
    auto text = fs_.read(std::string("/proc/pressure/") + resource);
    if (!text) continue;
    for (const auto& line : lines_of(*text)) {
      std::istringstream in(line);
      std::string kind, field;
      in >> kind;
      if (kind != "some" && kind != "full") continue;
      while (in >> field) {
        auto eq = field.find('=');
        if (eq == std::string::npos) continue;
        double v = std::strtod(field.c_str() + eq + 1, nullptr);
        std::string name = field.substr(0, eq);
        if (name == "total") stalled.add({{"resource", resource}, {"kind", kind}}, v / 1e6);
        if (name == "avg10") avg10.add({{"resource", resource}, {"kind", kind}}, v / 100);
      }
    }
  }
  move_nonempty(out, {&stalled, &avg10});
}

void HostCollector::disks(std::vector<MetricFamily>& out) const {
  auto text = fs_.read("/proc/diskstats");
  if (!text) return;
  MetricFamily read_bytes{"aion_disk_read_bytes_total", "Bytes read", MetricType::kCounter, {}};
  MetricFamily written{"aion_disk_written_bytes_total", "Bytes written", MetricType::kCounter, {}};
  MetricFamily reads{
      "aion_disk_reads_completed_total", "Reads completed", MetricType::kCounter, {}};
  MetricFamily writes{
      "aion_disk_writes_completed_total", "Writes completed", MetricType::kCounter, {}};
  MetricFamily busy{"aion_disk_io_time_seconds_total",
                    "Time the device had I/O in flight",
                    MetricType::kCounter,
                    {}};
  for (const auto& line : lines_of(*text)) {
    std::istringstream in(line);
    unsigned major = 0, minor = 0;
    std::string name;
    unsigned long long f[11] = {};
    if (!(in >> major >> minor >> name)) continue;
    int n = 0;
    while (n < 11 && (in >> f[n])) ++n;
    if (n < 10) continue;
    // Whole devices only (they have /sys/block/<name>), and no loop or RAM disks.
    if (!fs_.exists("/sys/block/" + name) || name.rfind("loop", 0) == 0 ||
        name.rfind("ram", 0) == 0) {
      continue;
    }
    Labels l = {{"device", name}};
    reads.add(l, static_cast<double>(f[0]));
    read_bytes.add(l, static_cast<double>(f[2]) * 512);
    writes.add(l, static_cast<double>(f[4]));
    written.add(l, static_cast<double>(f[6]) * 512);
    busy.add(l, static_cast<double>(f[9]) / 1000);
  }
  move_nonempty(out, {&read_bytes, &written, &reads, &writes, &busy});
}

void HostCollector::network(std::vector<MetricFamily>& out) const {
  auto text = fs_.read("/proc/net/dev");
  if (!text) return;
  MetricFamily rx{"aion_network_receive_bytes_total", "Bytes received", MetricType::kCounter, {}};
  MetricFamily tx{"aion_network_transmit_bytes_total", "Bytes sent", MetricType::kCounter, {}};
  MetricFamily rxp{
      "aion_network_receive_packets_total", "Packets received", MetricType::kCounter, {}};
  MetricFamily txp{"aion_network_transmit_packets_total", "Packets sent", MetricType::kCounter, {}};
  MetricFamily errs{"aion_network_errors_total",
                    "Receive and transmit errors by direction",
                    MetricType::kCounter,
                    {}};
  MetricFamily drops{
      "aion_network_drops_total", "Dropped packets by direction", MetricType::kCounter, {}};
  for (const auto& line : lines_of(*text)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string dev = line.substr(0, colon);
    dev.erase(0, dev.find_first_not_of(' '));
    if (dev.empty() || dev == "lo") continue;
    std::istringstream in(line.substr(colon + 1));
    unsigned long long v[16] = {};
    int n = 0;
    while (n < 16 && (in >> v[n])) ++n;
    if (n < 16) continue;
    Labels l = {{"device", dev}};
    rx.add(l, static_cast<double>(v[0]));
    rxp.add(l, static_cast<double>(v[1]));
    errs.add({{"device", dev}, {"direction", "receive"}}, static_cast<double>(v[2]));
    drops.add({{"device", dev}, {"direction", "receive"}}, static_cast<double>(v[3]));
    tx.add(l, static_cast<double>(v[8]));
    txp.add(l, static_cast<double>(v[9]));
    errs.add({{"device", dev}, {"direction", "transmit"}}, static_cast<double>(v[10]));
    drops.add({{"device", dev}, {"direction", "transmit"}}, static_cast<double>(v[11]));
  }
  move_nonempty(out, {&rx, &tx, &rxp, &txp, &errs, &drops});
}

void HostCollector::infiniband(std::vector<MetricFamily>& out) const {
  auto devs = fs_.list("/sys/class/infiniband");
  if (!devs) return;
  MetricFamily rx{"aion_infiniband_receive_bytes_total",
                  "Bytes received on an RDMA port (port_rcv_data x 4)",
                  MetricType::kCounter,
                  {}};
  MetricFamily tx{"aion_infiniband_transmit_bytes_total",
                  "Bytes sent on an RDMA port (port_xmit_data x 4)",
                  MetricType::kCounter,
                  {}};
  MetricFamily errs{"aion_infiniband_errors_total",
                    "RDMA port error counters (symbol, link_downed, rcv_errors, ...)",
                    MetricType::kCounter,
                    {}};
  static const char* kErrors[] = {"symbol_error",        "link_downed",
                                  "link_error_recovery", "port_rcv_errors",
                                  "port_xmit_discards",  "excessive_buffer_overrun_errors"};
  for (const auto& dev : *devs) {
    std::string base = "/sys/class/infiniband/" + dev + "/ports";
    auto ports = fs_.list(base);
    if (!ports) continue;
    for (const auto& port : *ports) {
      std::string c = base + "/" + port + "/counters/";
      Labels l = {{"device", dev}, {"port", port}};
      if (auto v = fs_.read_int(c + "port_rcv_data")) rx.add(l, static_cast<double>(*v) * 4);
      if (auto v = fs_.read_int(c + "port_xmit_data")) tx.add(l, static_cast<double>(*v) * 4);
      for (const char* e : kErrors) {
        if (auto v = fs_.read_int(c + e))
          errs.add({{"device", dev}, {"port", port}, {"counter", e}}, static_cast<double>(*v));
      }
    }
  }
  move_nonempty(out, {&rx, &tx, &errs});
}

}  // namespace aion::telemetry
