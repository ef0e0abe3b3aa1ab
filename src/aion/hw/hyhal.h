// Hygon DCUs (HCUs) through the ROCm SMI library of Hygon's driver package
// (/opt/hyhal/lib/librocm_smi64.so: AMD's ROCm SMI with Hygon's additions), loaded at run time
// with dlopen so that aion builds and runs without it, or the path in AION_HYGON_SMI_LIBRARY
// (the tests point it at a fake). The functions and their arguments are those of the
// rocm_smi.h Hygon ships with its driver and calls in its own monitoring code
// (github.com/HYGON-AI/hcu-dcgm, Apache-2.0): name, PCI id, unique id, VRAM total, driver
// version. Stateless functions; each call loads, queries and unloads the library. Not
// thread-safe: one call at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// One DCU as Hygon's ROCm SMI reports it.
struct HygonDcu {
  int index = 0;            // the SMI's index: what HIP_VISIBLE_DEVICES takes
  std::string pci_address;  // "0000:41:00.0"
  std::string name;
  std::string unique_id;  // hexadecimal, "0x..."; "" when not reported
  std::uint64_t memory_bytes = 0;
  std::string driver_version;
};

// The library to load: AION_HYGON_SMI_LIBRARY when set, else /opt/hyhal/lib/librocm_smi64.so.
std::string hygon_smi_library_path();

// Every DCU the library sees. kUnavailable when it cannot be loaded or rsmi_init fails;
// kUnsupported when it lacks the functions aion needs.
Result<std::vector<HygonDcu>> hygon_smi_query(const std::string& library_path);

// Fills in the Hygon accelerators of inv (model, memory, unique id as UUID, driver version,
// index; depth "hyhal-smi") from the library, matched by PCI address. Without the library
// nothing changes and nothing is said.
void read_hygon_smi(Inventory& inv);

}  // namespace aion::hw
