#include "aion/hw/ascend.h"

#include <algorithm>

namespace aion::hw {

void check_ascend_driver(const HostFs& fs, Inventory& inv) {
  bool have_huawei = std::any_of(inv.accelerators.begin(), inv.accelerators.end(),
                                 [](auto& a) { return a.vendor == "huawei"; });
  if (have_huawei && !fs.exists("/dev/davinci0")) {
    inv.warnings.push_back(
        {"huawei", "Ascend devices on PCI but no /dev/davinci* (driver not loaded)"});
  }
}

}  // namespace aion::hw
