// JSON form of the hardware model (`aion hw --json`, the daemon's snapshots) and of the
// topology matrix (`aion hw topo --json`). from_json() reads back what to_json() wrote, so
// stored snapshots can be compared with the live machine. Pure functions; thread-safe.
#pragma once

#include <string>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"
#include "aion/hw/topology.h"

namespace aion::hw {

std::string to_json(const Inventory& inv, int indent = 2);
Result<Inventory> inventory_from_json(std::string_view text);
std::string to_json(const Topology& topo, int indent = 2);

}  // namespace aion::hw
