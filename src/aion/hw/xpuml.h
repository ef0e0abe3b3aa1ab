// Kunlunxin (Baidu Kunlun) XPUs through XPUML, the management library of the Kunlun driver
// package (libxpuml.so), loaded at run time with dlopen so that aion builds and runs without
// it. The library is "libxpuml.so" (then "libxpuml.so.1" and the driver package's
// /usr/local/xpu/lib64/libxpuml.so.1) or the path in AION_XPUML_LIBRARY (the tests point it at
// a fake that speaks the same C ABI). Functions, enums and structure layouts are those of
// xpuml.h as Kunlunxin publishes it with its Go bindings (github.com/kunlunxin/go-xpuml,
// Apache-2.0); xpumlDeviceGetName and xpumlDeviceGetId, which only a later copy of the header
// declares, are used when the library has them. Stateless functions; each call loads, queries
// and unloads the library. Not thread-safe: call from one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// One XPU as XPUML reports it.
struct XpumlXpu {
  int index = 0;            // XPUML's index: what XPU_VISIBLE_DEVICES takes
  int id = -1;              // the physical id that names /dev/xpu<id>; -1 when not reported
  std::string pci_address;  // "0000:41:00.0"
  std::string name;         // "R300"; from xpumlDeviceGetName, else the model id
  std::string serial;       // the driver's unique id for the card (XPUML has no UUID)
  std::uint64_t memory_bytes = 0;
  std::string driver_version;
  bool healthy = true;  // false in XPUML's error state
};

// The library to load: AION_XPUML_LIBRARY when set, else "libxpuml.so".
std::string xpuml_library_path();

// Every XPU XPUML sees. kUnavailable when the library cannot be loaded or xpumlInit fails;
// kUnsupported when it lacks the functions aion needs.
Result<std::vector<XpumlXpu>> xpuml_query(const std::string& library_path);

// Fills in the Kunlunxin accelerators of inv (model, memory, serial as UUID, driver version,
// index, device node, state; depth "xpuml") from XPUML, matched by PCI address. Without the
// library nothing changes and nothing is said.
void read_kunlunxin_xpuml(Inventory& inv);

}  // namespace aion::hw
