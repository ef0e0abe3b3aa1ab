// Enflame GCUs through EFML, the Enflame Management Library of the GCU driver package
// (libefml.so), loaded at run time with dlopen so that aion builds and runs without it. The
// library is "libefml.so" (then "libefml.so.1") on the loader's path, or the path in
// AION_EFML_LIBRARY (the tests point it at a fake that speaks the same C ABI). Functions and
// structure layouts are those of efml.h as Enflame publishes it (Apache-2.0) with its GCU
// exporter. Stateless functions; each call loads, queries and unloads the library. Not
// thread-safe: call from one thread at a time (EFML itself makes no promise).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// One GCU as EFML reports it.
struct EfmlGcu {
  int logic_id = 0;         // the driver's number for it: /dev/gcu<N>, what jobs are given
  std::string pci_address;  // "0000:41:00.0"
  std::string name;         // "S60"; "" when EFML does not say
  std::string uuid;
  std::uint64_t memory_bytes = 0;
  std::string driver_version;
  bool healthy = true;
};

// The library to load: AION_EFML_LIBRARY when set, else "libefml.so".
std::string efml_library_path();

// Every GCU EFML sees. kUnavailable when the library cannot be loaded or EfmlInit fails;
// kUnsupported when it lacks the functions aion needs.
Result<std::vector<EfmlGcu>> efml_query(const std::string& library_path);

// Fills in the Enflame accelerators of inv (model, memory, UUID, driver version, index,
// device node, state; depth "efml") from EFML, matched by PCI address. Without the library
// nothing changes and nothing is said.
void read_enflame_efml(Inventory& inv);

}  // namespace aion::hw
