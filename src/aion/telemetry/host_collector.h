// Host metrics read from /proc and /sys through HostFs (so a recorded tree works as well as
// the live machine): CPU time per core and mode (incl. iowait and steal), load, memory incl.
// hugepages, PSI pressure, disk I/O from diskstats, network per interface, and RDMA port
// counters under /sys/class/infiniband. A source that is missing or unreadable is skipped;
// the rest is still collected.
#pragma once

#include <string>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/telemetry/metric.h"

namespace aion::telemetry {

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

  HostFs fs_;
};

}  // namespace aion::telemetry
