// MetaX GPUs through MXSML, the management library of the MetaX driver package
// (libmxsml.so), loaded at run time with dlopen so that aion builds and runs without it. The
// library is the first of /opt/mxdriver/lib, /opt/maca/lib and /opt/mxn100/lib/libmxsml.so
// that loads (the directories MetaX's own exporter tries, then "libmxsml.so"), or the path in
// AION_MXSML_LIBRARY (the tests point it at a fake). The native MXSML API is read: devices by
// integer id, mxSmlGetDeviceInfo (name, PCI address, UUID), mxSmlGetMemoryInfo (KiB) and
// mxSmlGetDeviceVersion (the driver), with the layouts of MetaX's bindings in its exporter
// (github.com/MetaX-MACA/mxExporter) and the MetaX-written reader in nvtop. MXSML has no
// shutdown. Stateless functions; each call loads, queries and unloads the library. Not
// thread-safe: one call at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// One GPU as MXSML reports it.
struct MxsmlGpu {
  int id = 0;               // MXSML's device id: what MACA_VISIBLE_DEVICES takes
  std::string pci_address;  // "0000:41:00.0"
  std::string name;         // "C500"
  std::string uuid;
  std::uint64_t memory_bytes = 0;
  std::string driver_version;
  bool available = true;  // false when mxSmlGetDeviceState says "not available"
};

// The library to load: AION_MXSML_LIBRARY when set, else MetaX's driver package's.
std::string mxsml_library_path();

// Every GPU MXSML sees. kUnavailable when the library cannot be loaded or mxSmlInit fails;
// kUnsupported when it lacks the functions aion needs.
Result<std::vector<MxsmlGpu>> mxsml_query(const std::string& library_path);

// Fills in the MetaX accelerators of inv (model, memory, UUID, driver version, index, state;
// depth "mxsml") from MXSML, matched by PCI address; their device nodes stay the DRM nodes.
// Without the library nothing changes and nothing is said.
void read_metax_mxsml(Inventory& inv);

}  // namespace aion::hw
