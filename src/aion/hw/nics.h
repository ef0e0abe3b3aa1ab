// Network interfaces with a device behind them (/sys/class/net) and RDMA devices
// (/sys/class/infiniband), joined by PCI address; InfiniBand-only ports are NICs of their
// own, and so is a PCI function of a network class (data/hw/accelerators.toml) with neither,
// named by its address. Parsing a text is a pure function; read_nics() is a thin wrapper over
// HostFs. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// An InfiniBand port's rate file ("200 Gb/sec (4X HDR)") in Mb/s.
std::int64_t parse_ib_rate_mbps(std::string_view text);

// Adds the NICs to inv.nics, sorted by PCI address, then name. Reads inv.pci (fill it first).
void read_nics(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
