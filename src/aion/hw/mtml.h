// Moore Threads GPUs through MTML, the management library of the MUSA driver (libmtml.so),
// loaded at run time with dlopen so that aion builds and runs without it. The library is
// "libmtml.so" on the loader's path, or the path in AION_MTML_LIBRARY (the tests point it at
// a fake that speaks the same C ABI). Functions, opaque handles, buffer sizes and the PCI
// structure are those of Moore Threads' own bindings (mthreads-ml-py, MIT). Stateless
// functions; each call loads, queries and unloads the library. Not thread-safe: call from one
// thread at a time (MTML itself makes no promise).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// One GPU as MTML reports it.
struct MtmlGpu {
  int index = 0;            // MTML's device index: what MUSA_VISIBLE_DEVICES takes
  std::string pci_address;  // "0000:1b:00.0", from the PCI SBDF text
  std::string name;         // "MTT S4000"; "" when MTML does not say
  std::string uuid;
  std::uint64_t memory_bytes = 0;
  std::string driver_version;             // the system's MUSA driver; "" when unknown
  std::vector<std::string> device_nodes;  // /dev/mtgpu.N, /dev/dri/cardN, /dev/dri/renderDN
};

// The library to load: AION_MTML_LIBRARY when set, else "libmtml.so".
std::string mtml_library_path();

// Every GPU MTML sees. kUnavailable when the library cannot be loaded or does not
// initialise; kUnsupported when it lacks the functions aion needs.
Result<std::vector<MtmlGpu>> mtml_query(const std::string& library_path);

// Fills in the Moore Threads GPUs of inv (model, memory, UUID, driver version, index, device
// nodes; depth "mtml") from MTML, matched by PCI address. Without the library nothing changes
// and nothing is said.
void read_moore_threads_mtml(Inventory& inv);

}  // namespace aion::hw
