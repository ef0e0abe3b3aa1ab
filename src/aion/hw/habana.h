// Intel Gaudi (Habana Labs) accelerators, from the habanalabs driver's sysfs attributes. Since
// Linux 6.3 the driver is an accel-subsystem driver: /sys/class/accel/accel<N> per card, its
// attributes on the PCI function (accel<N>/device/...); before, /sys/class/habanalabs/hl<N>
// held them itself, with the PCI address in pci_addr. N numbers the card's device nodes
// (/dev/accel/accel<N>, /dev/hl<N>); module_id (newer drivers) is the card's place on the
// board, the number HABANA_VISIBLE_MODULES takes. Thin reader over HostFs; stateless and
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// Fills in the Gaudi cards of inv.accelerators (index, module id, model, driver version,
// serial number, state) from whichever of the two classes the driver made. Cards without a
// PCI function among the accelerators are skipped.
void read_habana(const HostFs& fs, Inventory& inv);

// A model name from the driver's device_type: "GAUDI2" -> "Gaudi2", "GOYA" -> "Goya".
std::string habana_model(std::string_view device_type);

// The driver's status text as an accelerator state: "operational" is "ok", "in reset" and
// "in device creation" are "ok" (passing states), anything else ("malfunction", "needs
// reset", ...) is "error". Case does not matter.
std::string habana_state(std::string_view status);

}  // namespace aion::hw
