#include "aion/telemetry/host_collector.h"

#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "aion/hw/memory.h"

namespace aion::telemetry {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// The PCI address a class device sits on ("/sys/class/net/eth0" -> "0000:c1:00.0"), read from
// its `device` link; empty for a virtual device (no link, or a link to no PCI function).
std::string pci_address_of(const HostFs& fs, const std::string& class_dir) {
  auto link = fs.read_link(class_dir + "/device");
  if (!link) return {};
  const std::string name = std::filesystem::path(*link).filename().string();
  // dddd:bb:dd.f in hex
  if (name.size() != 12 || name[4] != ':' || name[7] != ':' || name[10] != '.') return {};
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11}) {
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return {};
  }
  return name;
}

// A device's labels: its name and, on a PCI device, its address, so that an anomaly of the
// series joins the kernel's lines about that address in one incident.
Labels device_labels(const HostFs& fs, const std::string& class_dir, const std::string& dev) {
  Labels l = {{"device", dev}};
  if (std::string pci = pci_address_of(fs, class_dir); !pci.empty()) l.emplace_back("pci", pci);
  return l;
}

Labels with(Labels l, const char* key, const std::string& value) {
  l.emplace_back(key, value);
  return l;
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
  nvme(out);
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
  for (const auto& field : hw::parse_meminfo_fields(*info)) {
    const auto bytes = static_cast<double>(field.bytes());
    for (const auto& [k, kind] : kKinds) {
      if (field.key == k) mem.add({{"kind", kind}}, bytes);
    }
    for (const auto& [k, state] : kHuge) {
      if (field.key == k) huge.add({{"state", state}}, static_cast<double>(field.value));
    }
    if (field.key == "Hugepagesize") huge_size.add({}, bytes);
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
    const Labels l = device_labels(fs_, "/sys/class/net/" + dev, dev);
    rx.add(l, static_cast<double>(v[0]));
    rxp.add(l, static_cast<double>(v[1]));
    errs.add(with(l, "direction", "receive"), static_cast<double>(v[2]));
    drops.add(with(l, "direction", "receive"), static_cast<double>(v[3]));
    tx.add(l, static_cast<double>(v[8]));
    txp.add(l, static_cast<double>(v[9]));
    errs.add(with(l, "direction", "transmit"), static_cast<double>(v[10]));
    drops.add(with(l, "direction", "transmit"), static_cast<double>(v[11]));
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
    const std::string dir = "/sys/class/infiniband/" + dev;
    const Labels dl = device_labels(fs_, dir, dev);
    std::string base = dir + "/ports";
    auto ports = fs_.list(base);
    if (!ports) continue;
    for (const auto& port : *ports) {
      std::string c = base + "/" + port + "/counters/";
      const Labels l = with(dl, "port", port);
      if (auto v = fs_.read_int(c + "port_rcv_data")) rx.add(l, static_cast<double>(*v) * 4);
      if (auto v = fs_.read_int(c + "port_xmit_data")) tx.add(l, static_cast<double>(*v) * 4);
      for (const char* e : kErrors) {
        if (auto v = fs_.read_int(c + e)) errs.add(with(l, "counter", e), static_cast<double>(*v));
      }
    }
  }
  move_nonempty(out, {&rx, &tx, &errs});
}

std::optional<NvmeSmart> parse_nvme_smart_log(std::span<const std::uint8_t> log) {
  if (log.size() < 512) return std::nullopt;
  // Little-endian integers; the 128-bit counters are read as doubles (exact up to 2^53).
  auto le = [&](std::size_t off, std::size_t len) {
    double v = 0;
    for (std::size_t i = len; i-- > 0;) v = v * 256 + log[off + i];
    return v;
  };
  NvmeSmart s;
  s.critical_warning = log[0];
  s.temperature_c = le(1, 2) - 273.15;
  s.available_spare = log[3] / 100.0;
  s.percentage_used = log[5] / 100.0;
  s.data_read_bytes = le(32, 16) * 512000;
  s.data_written_bytes = le(48, 16) * 512000;
  s.power_on_hours = le(128, 16);
  s.unsafe_shutdowns = le(144, 16);
  s.media_errors = le(160, 16);
  s.error_log_entries = le(176, 16);
  return s;
}

namespace {

// Get Log Page (opcode 02h) for the SMART / health page of all namespaces; needs
// CAP_SYS_ADMIN. nullopt when the device cannot be opened or the command fails.
std::optional<NvmeSmart> read_smart(const std::string& dev) {
  int fd = ::open(dev.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::array<std::uint8_t, 512> buf{};
  nvme_admin_cmd cmd{};
  cmd.opcode = 0x02;
  cmd.nsid = 0xffffffff;
  cmd.addr = reinterpret_cast<std::uintptr_t>(buf.data());
  cmd.data_len = buf.size();
  cmd.cdw10 = ((buf.size() / 4 - 1) << 16) | 0x02;  // NUMDL, log identifier 02h
  const int rc = ::ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd);
  ::close(fd);
  if (rc != 0) return std::nullopt;
  return parse_nvme_smart_log(buf);
}

}  // namespace

void HostCollector::nvme(std::vector<MetricFamily>& out) const {
  auto ctrls = fs_.list("/sys/class/nvme");
  if (!ctrls) return;
  using T = MetricType;
  MetricFamily temp{"aion_nvme_temperature_celsius", "NVMe composite temperature", T::kGauge, {}};
  MetricFamily warn{"aion_nvme_critical_warning",
                    "NVMe SMART critical warning bits (0: none; 1 spare, 2 temperature, 4 "
                    "reliability, 8 read-only, 16 volatile backup)",
                    T::kGauge,
                    {}};
  MetricFamily spare{
      "aion_nvme_available_spare_ratio", "NVMe spare capacity left (0-1)", T::kGauge, {}};
  MetricFamily used{"aion_nvme_percentage_used_ratio",
                    "NVMe endurance used as the vendor estimates it (1 = rated life)",
                    T::kGauge,
                    {}};
  MetricFamily rd{
      "aion_nvme_read_bytes_total", "Bytes read (NVMe SMART data units)", T::kCounter, {}};
  MetricFamily wr{
      "aion_nvme_written_bytes_total", "Bytes written (NVMe SMART data units)", T::kCounter, {}};
  MetricFamily hours{"aion_nvme_power_on_seconds_total", "NVMe power-on time", T::kCounter, {}};
  MetricFamily unsafe{
      "aion_nvme_unsafe_shutdowns_total", "NVMe shutdowns without notice", T::kCounter, {}};
  MetricFamily media{
      "aion_nvme_media_errors_total", "NVMe unrecovered data integrity errors", T::kCounter, {}};
  MetricFamily errlog{
      "aion_nvme_error_log_entries_total", "NVMe error log entries", T::kCounter, {}};
  for (const auto& c : *ctrls) {
    if (c.rfind("nvme", 0) != 0) continue;
    const std::string dir = "/sys/class/nvme/" + c;
    Labels l = {{"device", c}};
    if (auto model = fs_.read_attr(dir + "/model")) l.emplace_back("model", *model);
    std::optional<double> composite;
    if (auto entries = fs_.list(dir)) {
      for (const auto& e : *entries) {
        if (e.rfind("hwmon", 0) != 0) continue;
        if (auto v = fs_.read_int(dir + "/" + e + "/temp1_input")) composite = *v / 1000.0;
      }
    }
    std::optional<NvmeSmart> smart;
    if (fs_.is_live() && ::geteuid() == 0) smart = read_smart("/dev/" + c);
    if (smart && !composite) composite = smart->temperature_c;
    if (composite) temp.add(l, *composite);
    if (!smart) continue;
    warn.add(l, smart->critical_warning);
    spare.add(l, smart->available_spare);
    used.add(l, smart->percentage_used);
    rd.add(l, smart->data_read_bytes);
    wr.add(l, smart->data_written_bytes);
    hours.add(l, smart->power_on_hours * 3600);
    unsafe.add(l, smart->unsafe_shutdowns);
    media.add(l, smart->media_errors);
    errlog.add(l, smart->error_log_entries);
  }
  move_nonempty(out, {&temp, &warn, &spare, &used, &rd, &wr, &hours, &unsafe, &media, &errlog});
}

}  // namespace aion::telemetry
