// Huawei Ascend NPUs through DCMI, the device management library the NPU driver installs
// (libdcmi.so, usually in /usr/local/dcmi), loaded at run time with dlopen so that aion builds
// and runs without it. The library is "libdcmi.so" (then /usr/local/dcmi/libdcmi.so), or the
// path in AION_DCMI_LIBRARY (the tests point it at a fake that speaks the same C ABI).
// Stateless functions; each call loads, queries and unloads the library. Not thread-safe:
// call from one thread at a time (DCMI itself makes no promise).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// One NPU chip as DCMI reports it.
struct DcmiChip {
  int card_id = 0;
  int device_id = 0;
  std::string pci_address;  // "0000:c1:00.0"
  std::string chip_type;    // "Ascend"
  std::string chip_name;    // "910B3"
  std::string chip_version;
  int aicore_count = 0;
  int logic_id = -1;  // what ASCEND_RT_VISIBLE_DEVICES takes; -1 when DCMI does not say
  int phy_id = -1;    // N of /dev/davinci<N>; -1 when DCMI does not say
  std::uint64_t memory_bytes = 0;  // HBM, else DDR; 0 when unknown
  // 0 normal, 1 minor alarm, 2 major alarm, 3 critical alarm; 0xffffffff device not found.
  std::uint32_t health = 0;
};

// The library to load: AION_DCMI_LIBRARY when set, else `configured`, else "libdcmi.so".
std::string dcmi_library_path(const std::string& configured = {});

// Every NPU chip of every card. kUnavailable when the library cannot be loaded or dcmi_init
// fails; kUnsupported when it lacks the functions aion needs.
Result<std::vector<DcmiChip>> dcmi_query(const std::string& library_path);

// Fills in the Huawei accelerators of inv (model, AI cores, memory, index, device node,
// state; depth "dcmi") from DCMI, matched by PCI address. Without the library nothing changes
// and nothing is said: the accelerators keep what PCI told.
void read_ascend_dcmi(Inventory& inv);

// The accelerator state for a DCMI health value: "ok" for normal and minor alarms, "error"
// for major and critical alarms and an absent device.
std::string dcmi_health_state(std::uint32_t health);

}  // namespace aion::hw
