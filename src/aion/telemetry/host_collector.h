// Host metrics read from /proc and /sys through HostFs (so a recorded tree works as well as
// the live machine): CPU time per core and mode (incl. iowait and steal), load, memory incl.
// hugepages, PSI pressure, disk I/O from diskstats, network per interface, and RDMA port
// counters under /sys/class/infiniband, and NVMe controllers: the composite temperature from
// their hwmon, and with root on the live machine the SMART / health log (log page 02h, read
// with an admin command on /dev/nvmeN). A source that is missing or unreadable is skipped;
// the rest is still collected. Thread-safe: HostCollector is immutable after construction
// and collect() keeps no state; parse_nvme_smart_log() is a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/telemetry/metric.h"

namespace aion::telemetry {

// The fields of the NVMe SMART / Health Information log page (NVM Express base spec, log
// identifier 02h, 512 bytes) that aion reports.
struct NvmeSmart {
  std::uint8_t critical_warning = 0;  // bit mask: spare, temperature, reliability, read-only...
  double temperature_c = 0;           // composite, from Kelvin
  double available_spare = 0;         // 0..1
  double percentage_used = 0;         // 0..2.55 (vendors may exceed 100%)
  double data_read_bytes = 0;         // data units of 1000 x 512 bytes
  double data_written_bytes = 0;
  double power_on_hours = 0;
  double unsafe_shutdowns = 0;
  double media_errors = 0;
  double error_log_entries = 0;
};
// nullopt unless `log` holds a whole 512-byte page.
std::optional<NvmeSmart> parse_nvme_smart_log(std::span<const std::uint8_t> log);

class HostCollector {
 public:
  explicit HostCollector(HostFs fs) : fs_(std::move(fs)) {}
  std::vector<MetricFamily> collect() const;

 private:
  void cpu(std::vector<MetricFamily>& out) const;
  void memory(std::vector<MetricFamily>& out) const;
  void pressure(std::vector<MetricFamily>& out) const;
  void disks(std::vector<MetricFamily>& out) const;
  void network(std::vector<MetricFamily>& out) const;
  void infiniband(std::vector<MetricFamily>& out) const;
  void nvme(std::vector<MetricFamily>& out) const;

  HostFs fs_;
};

}  // namespace aion::telemetry
