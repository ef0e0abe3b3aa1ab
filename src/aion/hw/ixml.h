// Iluvatar CoreX GPUs through IXML, the management library of the CoreX driver package
// (libixml.so), loaded at run time with dlopen so that aion builds and runs without it. IXML
// exports NVML's function names with NVML's structure layouts (plus a few ixml* functions),
// as Iluvatar's own bindings and device plugin (github.com/Deep-Spark/go-ixml and
// ix-device-plugin, Apache-2.0) call them. The library is the CoreX package's
// /usr/local/corex/lib64/libixml.so (then .../lib/libixml.so, then "libixml.so" on the loader's
// path) or the path in AION_IXML_LIBRARY (the tests point it at a fake). libupnp's XML parser
// is also called libixml.so: a library without nvmlInit_v2 is refused. Stateless functions;
// each call loads, queries and unloads the library. Not thread-safe: one call at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// One GPU as IXML reports it.
struct IxmlGpu {
  int index = 0;            // IXML's index: what CUDA_VISIBLE_DEVICES takes in jobs
  int minor = -1;           // names /dev/iluvatar<minor>; -1 when not reported
  std::string pci_address;  // "0000:41:00.0"
  std::string name;
  std::string uuid;
  std::uint64_t memory_bytes = 0;
  std::string driver_version;
  bool healthy = true;  // false when ixmlDeviceGetHealth reports any error bit
};

// The library to load: AION_IXML_LIBRARY when set, else the CoreX package's libixml.so.
std::string ixml_library_path();

// Every GPU IXML sees. kUnavailable when the library cannot be loaded or nvmlInit_v2 fails;
// kUnsupported when it lacks the functions aion needs (libupnp's libixml among others).
Result<std::vector<IxmlGpu>> ixml_query(const std::string& library_path);

// Fills in the Iluvatar accelerators of inv (model, memory, UUID, driver version, index,
// device node, state; depth "ixml") from IXML, matched by PCI address. Without the library
// nothing changes and nothing is said.
void read_iluvatar_ixml(Inventory& inv);

}  // namespace aion::hw
