// Shared by the k8s tests: discovery of the generated machines in tests/fixtures/hw, NVIDIA
// ones through the fake NVML library.
#pragma once

#include <cstdlib>
#include <string>

#include "aion/core/host_fs.h"
#include "aion/hw/discovery.h"
#include "support/fixtures.h"

namespace aion::k8s::testing {

inline std::string fixture(const std::string& name) {
  return ::aion::testing::fixture_path("hw/" + name).string();
}

// `nvml_json`: the fake NVML's description ("" = the machine has no NVML).
inline hw::Inventory discover_fixture(const std::string& root, const std::string& nvml_json) {
  ::unsetenv("AION_NVML_LIBRARY");
  hw::DiscoveryOptions o;
  if (nvml_json.empty()) {
    o.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  } else {
    o.nvml_library = FAKE_NVML_PATH;
    ::setenv("AION_FAKE_NVML", nvml_json.c_str(), 1);
  }
  return hw::discover(HostFs(root), o);
}

inline hw::Inventory discover_fixture(const std::string& name) {
  const std::string dir = fixture(name);
  const bool nvml = name == "dgx-a100" || name == "workstation";
  return discover_fixture(dir + "/root", nvml ? dir + "/nvml.json" : "");
}

}  // namespace aion::k8s::testing
