// Simulated GPUs from the config ([[simulate.gpu]]), added after the real accelerators and
// marked simulated, for machines without accelerators. A pure function of the options and
// the inventory read so far; thread-safe.
#pragma once

#include "aion/hw/discovery.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// Appends options.simulated to inv.accelerators: made-up PCI addresses in domain fffe unless
// given, NVIDIA indexes after the real NVIDIA GPUs, link peers named by simulated index.
void add_simulated(const DiscoveryOptions& options, Inventory& inv);

}  // namespace aion::hw
