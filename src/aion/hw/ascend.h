// Huawei Ascend NPUs: the driver shows one /dev/davinci<index> node per NPU once it is
// loaded. Thin checks over HostFs; stateless and thread-safe.
#pragma once

#include <string>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// Warns when Ascend NPUs are on PCI but the driver shows no /dev/davinci* node.
void check_ascend_driver(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
