// What changed between two views of the machine: a GPU that fell off the bus, memory that
// shrank, a new driver version, a NIC whose link slowed down. The daemon stores a snapshot
// at start and raises one event per change; `aion hw diff` shows the changes since the
// stored snapshot. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "aion/hw/inventory.h"

namespace aion::hw {

struct HwChange {
  std::string severity;  // info | warning | critical
  std::string device;    // "0000:07:00.0", "memory", "eth0"
  std::string message;   // one line a person can read
};

std::vector<HwChange> diff(const Inventory& before, const Inventory& after);

}  // namespace aion::hw
