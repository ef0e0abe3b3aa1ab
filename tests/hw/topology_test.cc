// Discovery and the topology matrix on the generated machines in tests/fixtures/hw, checked
// against the hand-written expected_topo.json of each.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/core/process.h"
#include "aion/hw/discovery.h"
#include "aion/hw/inventory_json.h"
#include "aion/hw/topology.h"
#include "support/fixtures.h"

namespace aion::hw {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return ::aion::testing::fixture_path("hw/" + name).string();
}

Json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

// Points NVML at the fake library and the fixture's description (or at nothing).
void use_fake_nvml(const std::string& name) {
  std::string json = fixture(name) + "/nvml.json";
  if (fs::exists(json)) {
    ::setenv("AION_NVML_LIBRARY", FAKE_NVML_PATH, 1);
    ::setenv("AION_FAKE_NVML", json.c_str(), 1);
  } else {
    ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    ::unsetenv("AION_FAKE_NVML");
  }
}

class FixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTest, TopologyMatchesHandWrittenMatrix) {
  use_fake_nvml(GetParam());
  Inventory inv = discover(HostFs(fixture(GetParam()) + "/root"), {});
  for (const auto& w : inv.warnings)
    ADD_FAILURE() << "unexpected warning: " << w.device << ": " << w.message;
  Topology t = build_topology(inv);
  Json expected = read_json(fixture(GetParam()) + "/expected_topo.json");
  ASSERT_EQ(t.devices.size(), expected["devices"].size());
  for (std::size_t i = 0; i < t.devices.size(); ++i) {
    const Json& e = expected["devices"][i];
    EXPECT_EQ(t.devices[i].name, e["name"]);
    EXPECT_EQ(t.devices[i].pci_address, e["pci_address"]) << t.devices[i].name;
    EXPECT_EQ(t.devices[i].numa_node, e["numa_node"].get<int>()) << t.devices[i].name;
    EXPECT_EQ(t.devices[i].cpu_affinity, e["cpu_affinity"]) << t.devices[i].name;
    EXPECT_EQ(t.devices[i].memory_node, e.value("memory_node", -1)) << t.devices[i].name;
  }
  EXPECT_EQ(Json(t.matrix), expected["matrix"]) << to_json(t);
}

TEST_P(FixtureTest, CliTopoJsonEqualsExpectedMatrix) {
  use_fake_nvml(GetParam());
  auto r = run_process({.argv = {std::string(AION_BIN_DIR) + "/aion", "--host-root",
                                 fixture(GetParam()) + "/root", "--json", "hw", "topo"},
                        .env_set = {{"AION_CONFIG", ""}}});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  Json got = Json::parse(r->out);
  Json expected = read_json(fixture(GetParam()) + "/expected_topo.json");
  EXPECT_EQ(got["matrix"], expected["matrix"]);
  ASSERT_EQ(got["devices"].size(), expected["devices"].size());
  for (std::size_t i = 0; i < expected["devices"].size(); ++i) {
    EXPECT_EQ(got["devices"][i]["numa_node"], expected["devices"][i]["numa_node"]);
    EXPECT_EQ(got["devices"][i]["cpu_affinity"], expected["devices"][i]["cpu_affinity"]);
  }
}

TEST_P(FixtureTest, EveryDeviceHasItsNumaNodeAndAffinityInJson) {
  use_fake_nvml(GetParam());
  Inventory inv = discover(HostFs(fixture(GetParam()) + "/root"), {});
  Json j = Json::parse(to_json(inv));
  Json expected = read_json(fixture(GetParam()) + "/expected_topo.json");
  std::map<std::string, Json> by_pci;
  for (const auto& d : expected["devices"]) by_pci[d["pci_address"]] = d;
  int checked = 0;
  for (const char* kind : {"accelerators", "nics"}) {
    for (const auto& d : j[kind]) {
      auto it = by_pci.find(d["pci"]["address"]);
      if (it == by_pci.end()) continue;
      EXPECT_EQ(d["numa_node"], it->second["numa_node"]) << d.dump();
      EXPECT_EQ(d["cpu_affinity"], it->second["cpu_affinity"]) << d.dump();
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(expected["devices"].size()));
  auto back = inventory_from_json(to_json(inv));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(inv)) << "JSON must round-trip for snapshots";
}

INSTANTIATE_TEST_SUITE_P(Machines, FixtureTest,
                         ::testing::Values("dgx-a100", "mi250x", "workstation", "ascend910",
                                           "hetero", "gh200", "gaudi2", "xe-max", "musa", "gcu",
                                           "cn-mix", "cpu-vm"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::erase(n, '-');
                           return n;
                         });

TEST(DgxFixtureTest, NvmlDetailsAreReported) {
  use_fake_nvml("dgx-a100");
  Inventory inv = discover(HostFs(fixture("dgx-a100") + "/root"), {});
  ASSERT_EQ(inv.accelerators.size(), 8u);
  const Accelerator& a = inv.accelerators[0];
  EXPECT_EQ(a.model, "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(a.memory_bytes, 85899345920u);
  EXPECT_EQ(a.compute_capability, "8.0");
  EXPECT_EQ(a.partition_mode, "mig disabled");
  EXPECT_EQ(a.driver_version, "535.104.05");
  EXPECT_EQ(a.uuid, "GPU-a100a100-0000-0000-0000-000000000000");
  EXPECT_EQ(a.source, "nvml");
  EXPECT_EQ(inv.cpu.sockets, 2);
  EXPECT_EQ(inv.cpu.model, "AMD EPYC 7742 64-Core Processor");
  EXPECT_EQ(inv.numa_nodes.size(), 4u);
  EXPECT_EQ(inv.nics.size(), 8u);
  EXPECT_TRUE(inv.nics[0].rdma);
  EXPECT_EQ(inv.nics[0].rdma_device, "mlx5_0");
  ASSERT_EQ(inv.nvme.size(), 1u);
  EXPECT_EQ(inv.nvme[0].pci.numa_node, 0);
}

TEST(Mi250xFixtureTest, GfxTargetVramAndXgmiFromSysfs) {
  use_fake_nvml("mi250x");
  Inventory inv = discover(HostFs(fixture("mi250x") + "/root"), {});
  ASSERT_EQ(inv.accelerators.size(), 8u);
  for (const auto& a : inv.accelerators) {
    EXPECT_EQ(a.vendor, "amd");
    EXPECT_EQ(a.gfx_target, "gfx90a");
    EXPECT_EQ(a.memory_bytes, 64ull << 30);
    EXPECT_EQ(a.links.size(), 7u);
    EXPECT_EQ(a.driver_version, "6.3.6");
  }
}

TEST(CpuVmFixtureTest, NoAcceleratorAndVirtioDevicesFound) {
  use_fake_nvml("cpu-vm");
  Inventory inv = discover(HostFs(fixture("cpu-vm") + "/root"), {});
  EXPECT_TRUE(inv.accelerators.empty());
  ASSERT_EQ(inv.nics.size(), 1u);
  EXPECT_EQ(inv.nics[0].pci.address, "0000:00:03.0");
  ASSERT_EQ(inv.disks.size(), 1u);
  EXPECT_EQ(inv.disks[0].transport, "virtio");
  EXPECT_EQ(inv.disks[0].size_bytes, 100ull << 30);
  EXPECT_EQ(inv.cpu.threads, 4);
}

TEST(SimulatedGpuTest, SimulatedGpusAreMarkedAndLinked) {
  use_fake_nvml("cpu-vm");
  DiscoveryOptions o;
  for (int i = 0; i < 4; ++i) {
    SimulatedGpu g;
    g.numa_node = 0;
    for (int j = 0; j < 4; ++j) {
      if (j != i) g.links.push_back({"nvlink", std::to_string(j), 4});
    }
    o.simulated.push_back(g);
  }
  Inventory inv = discover(HostFs(fixture("cpu-vm") + "/root"), o);
  ASSERT_EQ(inv.accelerators.size(), 4u);
  for (const auto& a : inv.accelerators) {
    EXPECT_TRUE(a.simulated);
    EXPECT_EQ(a.source, "simulated");
    EXPECT_EQ(a.pci.cpu_affinity, "0-3");
  }
  Topology t = build_topology(inv);
  EXPECT_EQ(t.matrix[0][1], "NV4");
  EXPECT_EQ(t.matrix[3][2], "NV4");
  EXPECT_NE(to_json(inv).find("\"simulated\": true"), std::string::npos);
}

TEST(SimulatedGpuTest, ConfigSectionIsValidated) {
  ConfigSchema s = hw_config_schema();
  auto ok = Config::parse(
      "[[simulate.gpu]]\nmodel = \"H100\"\nmemory_gb = 80\nnuma_node = 1\nnvlink_peers = [\"1\"]\n"
      "[[simulate.gpu]]\nnuma_node = 1\nnvlink_peers = [\"0\"]\n",
      "a.toml", s);
  ASSERT_TRUE(ok) << ok.error().message();
  auto o = discovery_options(*ok);
  ASSERT_TRUE(o);
  ASSERT_EQ(o->simulated.size(), 2u);
  EXPECT_EQ(o->simulated[0].model, "H100");
  EXPECT_EQ(o->simulated[0].memory_bytes, 80ull << 30);
  auto bad = Config::parse("[[simulate.gpu]]\nmemory = 80\n", "a.toml", s);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("simulate.gpu.memory"), std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace aion::hw
