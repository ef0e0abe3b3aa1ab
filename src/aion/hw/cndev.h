// Cambricon MLUs through CNDev, the device management library of Cambricon's driver package
// (libcndev.so), loaded at run time with dlopen so that aion builds and runs without it. The
// library is "libcndev.so" on the loader's path, or the path in AION_CNDEV_LIBRARY (the tests
// point it at a fake that speaks the same C ABI). Functions, structure layouts and the API
// version (6) are those of cndev.h as Cambricon publishes it with its Kubernetes device
// plugin. Stateless functions; each call loads, queries and unloads the library. Not
// thread-safe: call from one thread at a time (CNDev itself makes no promise).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// One MLU as CNDev reports it.
struct CndevDevice {
  int index = 0;                   // CNDev's device index: what MLU_VISIBLE_DEVICES takes
  std::string pci_address;         // "0000:83:00.0"
  std::string name;                // "MLU370-X8"; "" when CNDev does not say
  std::string uuid;                // "" when CNDev does not say
  int cores = 0;                   // MLU cores; 0 when unknown
  std::uint64_t memory_bytes = 0;  // physical memory; 0 when unknown
  std::string driver_version;      // "5.10.22"; "" when unknown
  bool healthy = true;             // CNDev's health flag (1 good, 0 in problem)
};

// The library to load: AION_CNDEV_LIBRARY when set, else "libcndev.so".
std::string cndev_library_path();

// Every MLU CNDev sees. kUnavailable when the library cannot be loaded or cndevInit fails;
// kUnsupported when it lacks the functions aion needs (a driver package before handles).
Result<std::vector<CndevDevice>> cndev_query(const std::string& library_path);

// Fills in the Cambricon accelerators of inv (model, cores, memory, UUID, driver version,
// index, device node, state; depth "cndev") from CNDev, matched by PCI address. Without the
// library nothing changes and nothing is said: the accelerators keep what PCI told.
void read_cambricon_cndev(Inventory& inv);

}  // namespace aion::hw
