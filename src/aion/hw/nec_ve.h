// NEC SX-Aurora TSUBASA Vector Engines. The ve driver makes /sys/class/ve/ve<N> for each
// card, N being the VE node number that VE_NODE_NUMBER and /dev/veslot<N> use; its device
// link leads to the card's PCI function, and its attributes give the cores (num_of_core) and
// the memory in GiB (memory_size). Thin reader over HostFs; stateless and thread-safe.
#pragma once

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// Fills in the VEs of inv.accelerators from /sys/class/ve (index, cores, memory) and adds any
// VE whose PCI function was not classed as computing. Nothing happens without the class.
void read_nec_ve(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
