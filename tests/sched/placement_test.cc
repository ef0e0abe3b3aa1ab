// Placement on the generated machines in tests/fixtures/hw (through the same discovery and
// topology code aiond runs) and on small hand-built nodes. Expected answers are derived by
// hand from each fixture's expected_topo.json and NUMA distances; the derivation is written
// next to each case.
#include "aion/sched/placement.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aion/core/host_fs.h"
#include "aion/hw/discovery.h"
#include "aion/sched/job_env.h"
#include "support/fixtures.h"

namespace aion::sched {
namespace {

namespace fs = std::filesystem;
using hw::LinkLevel;

constexpr std::uint64_t kGiB = 1ull << 30;

std::string fixture(const std::string& name) {
  return ::aion::testing::fixture_path("hw/" + name).string();
}

// The fake NVML that answers from a fixture's nvml.json (tests/hw builds it).
std::string fake_nvml_library() {
#ifdef FAKE_NVML_PATH
  return FAKE_NVML_PATH;
#else
  return std::string(AION_BIN_DIR) + "/../tests/hw/libfake_nvml.so";
#endif
}

// The fixture's inventory, discovered once per test binary.
const hw::Inventory& inventory(const std::string& name) {
  static std::map<std::string, hw::Inventory> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  std::string json = fixture(name) + "/nvml.json";
  if (fs::exists(json)) {
    // Without NVML the NVIDIA fixtures lose their NVLinks and every answer below changes.
    EXPECT_TRUE(fs::exists(fake_nvml_library()))
        << fake_nvml_library() << " is missing: build the fake_nvml target first "
        << "(ninja -C <build dir> fake_nvml)";
    ::setenv("AION_NVML_LIBRARY", fake_nvml_library().c_str(), 1);
    ::setenv("AION_FAKE_NVML", json.c_str(), 1);
  } else {
    ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    ::unsetenv("AION_FAKE_NVML");
  }
  hw::Inventory inv = hw::discover(HostFs(fixture(name) + "/root"), {});
  for (const auto& w : inv.warnings)
    ADD_FAILURE() << name << ": unexpected discovery warning: " << w.device << ": " << w.message;
  return cache.emplace(name, std::move(inv)).first->second;
}

// "0-3,16-19" -> {0,1,2,3,16,17,18,19}; written again here so the model's own parser is
// checked against something independent.
std::set<int> cpus_of(const std::string& list) {
  std::set<int> out;
  std::size_t pos = 0;
  while (pos < list.size()) {
    std::size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    std::string tok = list.substr(pos, end - pos);
    std::size_t dash = tok.find('-');
    int lo = std::stoi(tok.substr(0, dash));
    int hi = dash == std::string::npos ? lo : std::stoi(tok.substr(dash + 1));
    for (int c = lo; c <= hi; ++c) out.insert(c);
    pos = end + 1;
  }
  return out;
}

// Two (or more) islands of GPUs, NV4 between all GPUs of an island and SYS across; one NUMA
// node per island with 16 CPUs and SLIT distance 21 between nodes. Like two quad-A100 boards
// (HGX A100 4-GPU) in one box.
NodeModel islands_model(int islands, int per_island) {
  NodeModel m;
  int n = islands * per_island;
  for (int g = 0; g < n; ++g) {
    m.gpus.push_back({.pci_address = "0000:" + std::to_string(10 + g) + ":00.0",
                      .vendor = "nvidia",
                      .model = "NVIDIA A100-SXM4-80GB",
                      .vendor_index = g,
                      .memory_bytes = 80 * kGiB,
                      .numa_node = g / per_island});
  }
  m.links.assign(n, std::vector<LinkLevel>(n, LinkLevel::kSys));
  m.link_count.assign(n, std::vector<int>(n, 0));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j) {
        m.links[i][j] = LinkLevel::kSelf;
      } else if (i / per_island == j / per_island) {
        m.links[i][j] = LinkLevel::kNvlink;
        m.link_count[i][j] = 4;
      }
    }
  }
  for (int k = 0; k < islands; ++k) {
    NumaInfo node{.id = k, .memory_bytes = 256 * kGiB};
    for (int c = 0; c < 16; ++c) node.cpus.push_back(k * 16 + c);
    for (int o = 0; o < islands; ++o) node.distances.push_back(o == k ? 10 : 21);
    m.numa.push_back(node);
  }
  m.cpu_count = 16 * islands;
  m.memory_bytes = 256 * kGiB * islands;
  return m;
}

// Four GPUs all NVLinked but with different link counts, as on a DGX-1 hybrid cube mesh:
// 0-1 and 2-3 have two links (NV2), every other pair one (NV1). One NUMA node.
NodeModel nvlink_counts_model() {
  NodeModel m = islands_model(1, 4);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      if (i != j) m.link_count[i][j] = i / 2 == j / 2 ? 2 : 1;
    }
  }
  return m;
}

NodeModel model_named(const std::string& name) {
  if (name == "synthetic:two-islands") return islands_model(2, 4);
  if (name == "synthetic:nvlink-counts") return nvlink_counts_model();
  return make_node_model(inventory(name));
}

Allocation whole(std::vector<int> gpus) {
  Allocation a;
  a.gpus = std::move(gpus);
  return a;
}

Allocation share(int gpu, double fraction, std::uint64_t memory) {
  Allocation a;
  a.gpus = {gpu};
  a.gpu_fraction = fraction;
  a.gpu_memory_bytes = memory;
  return a;
}

std::string describe(const PlacementResult& r) {
  std::string s = "reason: '" + r.reason + "'";
  for (const auto& c : r.candidates) {
    s += "\n  [";
    for (int g : c.allocation.gpus) s += std::to_string(g) + " ";
    s += "] score=" + std::to_string(c.score) + " " + c.why;
  }
  return s;
}

// --- the model ---------------------------------------------------------------------------

TEST(NodeModelTest, DgxHasEightNv12GpusFourNumaNodesAndItsMemory) {
  const hw::Inventory& inv = inventory("dgx-a100");
  NodeModel m = make_node_model(inv, {.reserved_memory_bytes = 24 * kGiB});
  ASSERT_EQ(m.gpus.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(m.gpus[i].usable);
    EXPECT_EQ(m.gpus[i].model, "NVIDIA A100-SXM4-80GB");
    EXPECT_EQ(m.gpus[i].memory_bytes, 80 * kGiB);
    EXPECT_EQ(m.gpus[i].vendor_index, i);
    for (int j = 0; j < 8; ++j) {
      EXPECT_EQ(m.links[i][j], i == j ? LinkLevel::kSelf : LinkLevel::kNvlink) << i << "," << j;
      EXPECT_EQ(m.link_count[i][j], i == j ? 0 : 12) << i << "," << j;
    }
  }
  // expected_topo.json: GPU0,1 on node 0, GPU2,3 on 1, GPU4,5 on 2, GPU6,7 on 3.
  std::vector<int> numa;
  for (const auto& g : m.gpus) numa.push_back(g.numa_node);
  EXPECT_EQ(numa, (std::vector<int>{0, 0, 1, 1, 2, 2, 3, 3}));
  ASSERT_EQ(m.numa.size(), 4u);
  EXPECT_EQ(m.numa[0].cpus, (std::vector<int>{0, 1, 2, 3, 16, 17, 18, 19}));
  EXPECT_EQ(m.numa[3].cpus, (std::vector<int>{12, 13, 14, 15, 28, 29, 30, 31}));
  EXPECT_EQ(m.numa[0].distances, (std::vector<int>{10, 12, 32, 32}));
  EXPECT_EQ(m.cpu_count, 32);
  EXPECT_EQ(m.memory_bytes, 1024 * kGiB - 24 * kGiB);
}

TEST(NodeModelTest, Mi250xGcdsAreXgmiLinkedWithTheirLinkCount) {
  NodeModel m = make_node_model(inventory("mi250x"));
  ASSERT_EQ(m.gpus.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(m.gpus[i].vendor, "amd");
    for (int j = 0; j < 8; ++j) {
      if (i == j) continue;
      EXPECT_EQ(m.links[i][j], LinkLevel::kXgmi);
      EXPECT_EQ(m.link_count[i][j], 1);  // one KFD io_link per peer in the fixture
    }
  }
}

TEST(NodeModelTest, PcieOnlyBoardKeepsPcieLevels) {
  NodeModel m = make_node_model(inventory("ascend910"));
  ASSERT_EQ(m.gpus.size(), 8u);
  EXPECT_EQ(m.links[0][3], LinkLevel::kPix);
  EXPECT_EQ(m.links[0][4], LinkLevel::kSys);
  EXPECT_EQ(m.link_count[0][3], 0);
}

TEST(NodeModelTest, MachineWithoutNumaGetsNodeZeroWithAllCpusAndMemory) {
  hw::Inventory inv;
  inv.cpu.threads = 6;
  inv.memory.total_bytes = 8 * kGiB;
  NodeModel m = make_node_model(inv, {.reserved_memory_bytes = 2 * kGiB});
  ASSERT_EQ(m.numa.size(), 1u);
  EXPECT_EQ(m.numa[0].id, 0);
  EXPECT_EQ(m.numa[0].cpus, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(m.numa[0].memory_bytes, 8 * kGiB);
  EXPECT_EQ(m.cpu_count, 6);
  EXPECT_EQ(m.memory_bytes, 6 * kGiB);
  // Reserving more than there is leaves nothing, not a wrapped-around huge number.
  EXPECT_EQ(make_node_model(inv, {.reserved_memory_bytes = 9 * kGiB}).memory_bytes, 0u);
}

TEST(NodeModelTest, LostGpuIsNotUsableAndNeverPlaced) {
  hw::Inventory inv = inventory("dgx-a100");
  inv.accelerators[3].state = "lost";
  NodeModel m = make_node_model(inv);
  EXPECT_FALSE(m.gpus[3].usable);
  NodeState st(m);
  auto r = place(m, st, {.gpus = 7, .cpus = 1}, 8);
  ASSERT_EQ(r.candidates.size(), 1u) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{0, 1, 2, 4, 5, 6, 7}));
  auto err = check_request(m, {.gpus = 8});
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().message(), "asks for 8 GPUs, the node has 7 usable (1 lost or in error)");
}

// --- the state ---------------------------------------------------------------------------

TEST(NodeStateTest, AddThenRemoveRestoresEverything) {
  NodeModel m = model_named("dgx-a100");
  NodeState st(m, 2);
  Allocation a = whole({0, 1});
  a.cpus = {0, 1, 2};
  a.memory_bytes = 10 * kGiB;
  Allocation b = share(5, 0.25, 20 * kGiB);
  b.cpus = {2};
  b.memory_bytes = kGiB;
  st.add(a);
  st.add(b);
  EXPECT_FALSE(st.gpu_whole_free(0));
  EXPECT_FALSE(st.gpu_whole_free(5));
  EXPECT_TRUE(st.gpu_whole_free(2));
  EXPECT_DOUBLE_EQ(st.gpu_fraction_used(5), 0.25);
  EXPECT_EQ(st.gpu_memory_used(5), 20 * kGiB);
  EXPECT_EQ(st.cpu_load(2), 2);
  EXPECT_EQ(st.memory_used(), 11 * kGiB);
  st.remove(b);
  st.remove(a);
  for (int g = 0; g < 8; ++g) {
    EXPECT_TRUE(st.gpu_whole_free(g)) << g;
    EXPECT_EQ(st.gpu_fraction_used(g), 0.0) << g;
    EXPECT_EQ(st.gpu_memory_used(g), 0u) << g;
  }
  for (int c = 0; c < m.cpu_count; ++c) EXPECT_EQ(st.cpu_load(c), 0) << c;
  EXPECT_EQ(st.memory_used(), 0u);
}

TEST(NodeStateTest, SharesThatAddUpLeaveNoFloatDustBehind) {
  NodeModel m = model_named("dgx-a100");
  NodeState st(m);
  for (int i = 0; i < 10; ++i) st.add(share(0, 0.1, kGiB));
  for (int i = 0; i < 10; ++i) st.remove(share(0, 0.1, kGiB));
  EXPECT_TRUE(st.gpu_whole_free(0));
}

// --- whole GPUs on the generated machines ------------------------------------------------

TEST(PlacementTest, FourGpuJobGetsFullyLinkedSetAndCpusFromItsNumaNodes) {
  const hw::Inventory& inv = inventory("dgx-a100");
  NodeModel m = make_node_model(inv);
  NodeState st(m);
  auto r = place(m, st, {.gpus = 4, .cpus = 16, .memory_bytes = 64 * kGiB});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const Allocation& a = r.candidates[0].allocation;
  ASSERT_EQ(a.gpus.size(), 4u);
  for (int i : a.gpus) {
    for (int j : a.gpus) {
      if (i != j) {
        EXPECT_EQ(m.links[i][j], LinkLevel::kNvlink) << i << "," << j;
      }
    }
  }
  // All pairs are NV12, so the NUMA spread decides: one socket, {0,1,2,3} (nodes 0,1) or
  // {4,5,6,7} (nodes 2,3), never a set across the distance-32 socket link.
  EXPECT_TRUE(a.gpus == (std::vector<int>{0, 1, 2, 3}) || a.gpus == (std::vector<int>{4, 5, 6, 7}))
      << describe(r);
  // The CPUs come from the GPUs' own NUMA nodes, computed here from the raw inventory.
  std::set<int> nodes;
  for (int g : a.gpus) nodes.insert(inv.accelerators[g].pci.numa_node);
  std::set<int> local;
  for (const auto& n : inv.numa_nodes) {
    if (nodes.count(n.id)) {
      auto c = cpus_of(n.cpus);
      local.insert(c.begin(), c.end());
    }
  }
  ASSERT_EQ(local.size(), 16u);
  EXPECT_EQ(std::set<int>(a.cpus.begin(), a.cpus.end()), local);
  EXPECT_TRUE(std::is_sorted(a.cpus.begin(), a.cpus.end()));
  EXPECT_EQ(std::set<int>(a.mems.begin(), a.mems.end()), nodes);
  EXPECT_EQ(a.memory_bytes, 64 * kGiB);
  EXPECT_NE(r.candidates[0].why.find("NV12 between all 4 GPUs"), std::string::npos)
      << r.candidates[0].why;
}

TEST(PlacementTest, CpusSpillToTheNearestNumaNode) {
  // GPUs 0,1 sit on node 0 (8 CPUs); node 1 is at distance 12, nodes 2,3 at 32.
  NodeModel m = model_named("dgx-a100");
  NodeState st(m);
  auto r = place(m, st, {.gpus = 2, .cpus = 12});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const Allocation& a = r.candidates[0].allocation;
  ASSERT_EQ(a.gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(a.mems, (std::vector<int>{0, 1}));
  int on_node0 = 0;
  for (int c : a.cpus) on_node0 += cpus_of("0-3,16-19").count(c);
  EXPECT_EQ(on_node0, 8);
  EXPECT_EQ(a.cpus.size(), 12u);
}

TEST(PlacementTest, CpusAreSharedOutOverTheNodesOfTheGpus) {
  // CPUs 0,1 (node 0) are busy; a 4-GPU job over nodes 0 and 1 with 6 CPUs gets 3 on each
  // node, not the 6 lowest free ids (2,3 on node 0 and 4-7 on node 1).
  const hw::Inventory& inv = inventory("dgx-a100");
  NodeModel m = make_node_model(inv);
  NodeState st(m);
  Allocation busy;
  busy.cpus = {0, 1};
  st.add(busy);
  auto r = place(m, st, {.gpus = 4, .cpus = 6});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const Allocation& a = r.candidates[0].allocation;
  std::set<int> nodes;
  for (int g : a.gpus) nodes.insert(inv.accelerators[g].pci.numa_node);
  ASSERT_EQ(nodes.size(), 2u) << describe(r);
  EXPECT_EQ(std::set<int>(a.mems.begin(), a.mems.end()), nodes);
  for (const auto& n : inv.numa_nodes) {
    if (!nodes.count(n.id)) continue;
    auto local = cpus_of(n.cpus);
    int got = 0;
    for (int c : a.cpus) got += local.count(c);
    EXPECT_EQ(got, 3) << "NUMA node " << n.id << ": " << describe(r);
  }
  for (int c : a.cpus) EXPECT_TRUE(c != 0 && c != 1) << c;
}

TEST(PlacementTest, TwoGpuJobNeverStraddlesSocketsWhenASameSocketPairIsFree) {
  // dgx-a100: sockets are NUMA {0,1} and {2,3} (distance 12 inside, 32 across). With GPU 0,
  // 2, 4, 6 busy the free GPUs are 1 (node 0), 3 (1), 5 (2), 7 (3): {1,3} and {5,7} stay on
  // a socket, every other pair crosses it.
  NodeModel m = model_named("dgx-a100");
  NodeState st(m);
  st.add(whole({0, 2, 4, 6}));
  auto r = place(m, st, {.gpus = 2, .cpus = 4}, 6);
  ASSERT_EQ(r.candidates.size(), 6u) << describe(r);  // C(4,2) = 6 distinct sets
  std::set<std::vector<int>> top2 = {r.candidates[0].allocation.gpus,
                                     r.candidates[1].allocation.gpus};
  EXPECT_EQ(top2, (std::set<std::vector<int>>{{1, 3}, {5, 7}})) << describe(r);
  EXPECT_GT(r.candidates[1].score, r.candidates[2].score) << describe(r);
}

TEST(PlacementTest, TwoSocketPcieBoardKeepsAPairOnOneSocket) {
  // ascend910: GPUs 0-3 under one PCIe switch on node 0, 4-7 on node 1, SYS across.
  NodeModel m = model_named("ascend910");
  NodeState st(m);
  st.add(whole({0, 1, 2, 4}));
  auto r = place(m, st, {.gpus = 2, .cpus = 2});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const auto& g = r.candidates[0].allocation.gpus;
  // {3,x} would cross sockets; the pair comes from 5,6,7.
  EXPECT_TRUE(g[0] >= 5 && g[1] >= 5) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.mems, (std::vector<int>{1}));
}

TEST(PlacementTest, TwoNpusComeFromUnderOneSwitchOnAMixedNode) {
  // hetero (expected_topo.json): NPU0/NPU1 (model 0, 1) under one switch on socket 0, NPU2
  // (model 6) alone on socket 1; VEs at 2, 3; MLUs at 4, 5. Two NPUs: {0,1} at PIX beats any
  // pair with 6 (SYS).
  NodeModel m = model_named("hetero");
  ASSERT_EQ(m.gpus.size(), 7u);
  NodeState st(m);
  auto r = place(m, st, {.gpus = 2, .accel_kind = "npu", .cpus = 2});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{0, 1})) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.mems, (std::vector<int>{0}));
  // With NPU1 taken, the best pair left crosses sockets: NPU0 and NPU2.
  st.add(whole({1}));
  r = place(m, st, {.gpus = 2, .accel_kind = "npu", .cpus = 2});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{0, 6})) << describe(r);
  // Vector engines and MLUs are only given to jobs that ask for them.
  r = place(m, NodeState(m), {.gpus = 2, .accel_kind = "vector", .cpus = 1});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{2, 3}));
}

TEST(PlacementTest, AKindTwoVendorsMakeIsAskedForByVendor) {
  // cn-mix (expected_topo.json): XPUs 0, 1 and Iluvatar GPUs 2, 3 under two switches on socket
  // 0; MetaX GPUs 4, 5 and Hygon DCUs 6, 7 under two switches on socket 1.
  NodeModel m = model_named("cn-mix");
  ASSERT_EQ(m.gpus.size(), 8u);
  // Two GPUs could mix Iluvatar's and MetaX's, which need different runtimes: refused, naming
  // the ways to ask.
  auto mixed = check_request(m, {.gpus = 2, .cpus = 1});
  ASSERT_FALSE(mixed);
  EXPECT_NE(mixed.error().message().find("--accel iluvatar:2 or --accel metax:2"),
            std::string::npos)
      << mixed.error().message();
  // One GPU of either is fine; a vendor names its own pair, under one switch.
  EXPECT_TRUE(check_request(m, {.gpus = 1, .cpus = 1}));
  auto r = place(m, NodeState(m), {.gpus = 2, .accel_kind = "metax", .cpus = 2});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{4, 5})) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.mems, (std::vector<int>{1}));
  r = place(m, NodeState(m), {.gpus = 2, .accel_kind = "xpu", .cpus = 2});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{0, 1})) << describe(r);
}

TEST(PlacementTest, GpusOnANodeOfOtherKindsIsRefusedSayingWhatItHas) {
  NodeModel m = model_named("hetero");
  auto st = check_request(m, {.gpus = 1, .cpus = 1});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("--accel"), std::string::npos) << st.error().message();
  EXPECT_NE(st.error().message().find("(npu)"), std::string::npos) << st.error().message();
  auto three = check_request(m, {.gpus = 3, .accel_kind = "mlu", .cpus = 1});
  ASSERT_FALSE(three);
  EXPECT_NE(three.error().message().find("3 MLUs"), std::string::npos) << three.error().message();
  // On a node of one kind, --gpus takes that kind (an Ascend node's NPUs).
  EXPECT_TRUE(check_request(model_named("ascend910"), {.gpus = 2, .cpus = 1}));
}

TEST(PlacementTest, AJobGivenAGpuMayBindToItsMemoryNode) {
  // gh200: the GPU's memory is NUMA node 1, a node without CPUs; its CPUs are node 0's.
  NodeModel m = model_named("gh200");
  ASSERT_EQ(m.gpus.size(), 1u);
  EXPECT_EQ(m.gpus[0].numa_node, 0);
  EXPECT_EQ(m.gpus[0].memory_node, 1);
  auto r = place(m, NodeState(m), {.gpus = 1, .cpus = 4});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const Allocation& a = r.candidates[0].allocation;
  EXPECT_EQ(a.cpus, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(a.mems, (std::vector<int>{0, 1}));
  // A CPU-only job has no claim on the GPU's memory.
  r = place(m, NodeState(m), {.cpus = 2});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.mems, (std::vector<int>{0}));
}

TEST(PlacementTest, MemoryTiersGoWithTheCpusTheyBelongTo) {
  hw::Inventory inv;
  inv.cpu.threads = 8;
  inv.memory.total_bytes = 64 * kGiB;
  // Two sockets, each with a CXL memory node beside it (2 beside 0, 3 beside 1).
  inv.numa_nodes = {
      {.id = 0, .cpus = "0-3", .memory_bytes = 16 * kGiB},
      {.id = 1, .cpus = "4-7", .memory_bytes = 16 * kGiB},
      {.id = 2, .cpus = "", .memory_bytes = 16 * kGiB, .kind = "CXL-DRAM", .near_node = 0},
      {.id = 3, .cpus = "", .memory_bytes = 16 * kGiB, .kind = "CXL-DRAM", .near_node = 1}};
  NodeModel m = make_node_model(inv);
  NodeState st(m);
  st.add({.cpus = {0, 1, 2, 3}, .mems = {0, 2}});
  auto r = place(m, st, {.cpus = 2});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.cpus, (std::vector<int>{4, 5}));
  EXPECT_EQ(r.candidates[0].allocation.mems, (std::vector<int>{1, 3}));
}

TEST(PlacementTest, GaudiCardsComeInPairsUnderASwitchAndAreNamedByModuleId) {
  // gaudi2: HPU0/HPU1 under one switch on socket 0 (module ids 2, 3), HPU2/HPU3 on socket 1
  // (0, 1); HPU3 reports "needs reset".
  NodeModel m = model_named("gaudi2");
  ASSERT_EQ(m.gpus.size(), 4u);
  EXPECT_FALSE(m.gpus[3].usable);
  auto r = place(m, NodeState(m), {.gpus = 2, .cpus = 2});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const Allocation& a = r.candidates[0].allocation;
  EXPECT_EQ(a.gpus, (std::vector<int>{0, 1})) << describe(r);
  Job job;
  job.id = 7;
  auto env = job_env(job, a, m);
  EXPECT_EQ(env["HABANA_VISIBLE_MODULES"], "2,3");
  // The broken card is never given: two more cannot be had.
  NodeState st(m);
  st.add(a);
  EXPECT_TRUE(place(m, st, {.gpus = 2, .cpus = 2}).candidates.empty());
}

TEST(PlacementTest, HybridCpuJobsGetPerformanceCoresFirst) {
  hw::Inventory inv;
  inv.cpu.threads = 8;
  inv.memory.total_bytes = 16 * kGiB;
  inv.numa_nodes.push_back({.id = 0, .cpus = "0-7", .memory_bytes = 16 * kGiB});
  // CPUs 4-7 are the performance kind (rank 1), 0-3 efficiency (rank 0).
  inv.cpu.kinds = {{.name = "efficiency", .cpus = "0-3", .efficiency = 0},
                   {.name = "performance", .cpus = "4-7", .efficiency = 1}};
  NodeModel m = make_node_model(inv);
  auto r = place(m, NodeState(m), {.cpus = 3});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.cpus, (std::vector<int>{4, 5, 6}));
}

TEST(PlacementTest, WorkstationTwoGpuJobTakesBothThroughTheHostBridge) {
  NodeModel m = model_named("workstation");
  NodeState st(m);
  auto r = place(m, st, {.gpus = 2, .cpus = 16});
  ASSERT_EQ(r.candidates.size(), 1u) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(r.candidates[0].allocation.cpus.size(), 16u);
  EXPECT_EQ(r.candidates[0].allocation.mems, (std::vector<int>{0}));
  EXPECT_NE(r.candidates[0].why.find("PHB"), std::string::npos) << r.candidates[0].why;
}

// --- fragmentation: a table of hand-derived answers --------------------------------------

struct FragmentationCase {
  std::string name;
  std::string fixture;  // directory under tests/fixtures/hw, or a synthetic:* model above
  std::vector<int> busy;
  int gpus = 0;
  std::vector<std::vector<int>> acceptable;  // the best candidate must be one of these
  std::string comment;                       // how the answer follows from the topology
};

const std::vector<FragmentationCase>& fragmentation_cases() {
  static const std::vector<FragmentationCase> cases = {
      {"KeepIntactIslandWhole",
       "synthetic:two-islands",
       {4},
       2,
       {{5, 6}, {5, 7}, {6, 7}},
       "islands {0-3},{4-7}; GPU4 busy. Any NV4 pair ties on links; taking it from the broken "
       "island keeps the 4-GPU island {0-3} free (largest island 4 instead of 3)"},
      {"FillTheSmallestHole",
       "synthetic:two-islands",
       {0, 4, 5},
       2,
       {{6, 7}},
       "free {1,2,3} and {6,7}. {6,7} leaves a 3-GPU island; a pair out of {1,2,3} leaves "
       "islands of 2 and 1 and cuts GPU off its NVLink partner"},
      {"OnlyFullyLinkedQuad",
       "synthetic:two-islands",
       {0},
       4,
       {{4, 5, 6, 7}},
       "only {4,5,6,7} has NVLink on every pair; every other quad has a SYS pair"},
      {"SingleGpuTakesTheOrphan",
       "synthetic:two-islands",
       {4, 5, 6},
       1,
       {{7}},
       "GPU7 has no free NVLink partner left; taking it keeps the 4-GPU island {0-3} intact"},
      {"MoreLinksWin",
       "synthetic:nvlink-counts",
       {0},
       2,
       {{2, 3}},
       "all pairs NVLink; 2-3 has two links (NV2), 1-2 and 1-3 one"},
      {"DgxQuadAvoidsCrossingSockets",
       "dgx-a100",
       {0, 1, 2},
       4,
       {{4, 5, 6, 7}},
       "all NV12; free 3..7. {4,5,6,7} sits on NUMA 2,3 (one socket, distance 12); any quad "
       "with GPU3 adds node 1 at distance 32"},
      {"DgxPairOnOneSocket",
       "dgx-a100",
       {0, 2, 4, 6},
       2,
       {{1, 3}, {5, 7}},
       "all NV12; {1,3} (NUMA 0,1) and {5,7} (2,3) stay in a socket, the rest cross"},
      {"PcieIslandKeptWhole",
       "ascend910",
       {4},
       2,
       {{5, 6}, {5, 7}, {6, 7}},
       "no NVLink: islands are PIX groups {0-3},{4-7}; a pair from {5,6,7} keeps {0-3} whole"},
      {"PcieLastPairOfBrokenGroup",
       "ascend910",
       {4, 5},
       2,
       {{6, 7}},
       "{6,7} is PIX and leaves the 4-GPU PIX group {0-3}; any pair of 0-3 leaves two pairs"},
      {"PcieQuadNeedsTheFullSwitch",
       "ascend910",
       {0},
       4,
       {{4, 5, 6, 7}},
       "only 4-7 are PIX on every pair; quads with a GPU of 1-3 have SYS pairs"},
      {"PcieTripleEitherSide",
       "ascend910",
       {0, 4},
       3,
       {{1, 2, 3}, {5, 6, 7}},
       "each side has exactly 3 free GPUs under one switch; both leave a 3-GPU group"},
      {"PcieFiveTakesAWholeSwitch",
       "ascend910",
       {},
       5,
       {{0, 1, 2, 3, 4},
        {0, 1, 2, 3, 5},
        {0, 1, 2, 3, 6},
        {0, 1, 2, 3, 7},
        {0, 4, 5, 6, 7},
        {1, 4, 5, 6, 7},
        {2, 4, 5, 6, 7},
        {3, 4, 5, 6, 7}},
       "worst pair is SYS anyway; 4+1 has 6 PIX pairs, 3+2 only 4, so a whole switch plus one"},
      {"XgmiPairOnOneNumaNode",
       "mi250x",
       {0, 2},
       2,
       {{4, 5}, {6, 7}},
       "all XGMI with one link each; free 1 (NUMA 3), 3 (2), 4,5 (1), 6,7 (0): a pair on one "
       "node beats {1,3} across nodes"},
  };
  return cases;
}

// Several answers are chosen at high GPU indices so that a tie broken by index alone
// (lowest first) cannot pass them by luck.
void PrintTo(const FragmentationCase& c, std::ostream* os) {
  *os << c.name;
}

class FragmentationTest : public ::testing::TestWithParam<FragmentationCase> {};

TEST_P(FragmentationTest, BestCandidateIsTheHandDerivedSet) {
  const FragmentationCase& c = GetParam();
  NodeModel m = model_named(c.fixture);
  NodeState st(m);
  if (!c.busy.empty()) st.add(whole(c.busy));
  auto r = place(m, st, {.gpus = c.gpus, .cpus = 1}, 4);
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const auto& got = r.candidates[0].allocation.gpus;
  EXPECT_NE(std::find(c.acceptable.begin(), c.acceptable.end(), got), c.acceptable.end())
      << c.comment << "\n"
      << describe(r);
  for (int g : got) EXPECT_EQ(std::count(c.busy.begin(), c.busy.end(), g), 0) << g;
}

INSTANTIATE_TEST_SUITE_P(Table, FragmentationTest, ::testing::ValuesIn(fragmentation_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(PlacementTest, LargeNodeUsesGreedySearchAndStillTakesAWholeIsland) {
  // 16 GPUs, two 8-GPU islands: C(16,8) = 12870 sets is past the exhaustive limit.
  NodeModel m = islands_model(2, 8);
  NodeState st(m);
  auto r = place(m, st, {.gpus = 8, .cpus = 1});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  st.add(whole({3}));
  r = place(m, st, {.gpus = 8, .cpus = 1});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
}

TEST(PlacementTest, CandidatesAreDistinctBestFirstAndCapped) {
  NodeModel m = model_named("dgx-a100");
  NodeState st(m);
  auto r = place(m, st, {.gpus = 2, .cpus = 1}, 5);
  ASSERT_EQ(r.candidates.size(), 5u);
  std::set<std::vector<int>> seen;
  for (std::size_t i = 0; i < r.candidates.size(); ++i) {
    EXPECT_TRUE(seen.insert(r.candidates[i].allocation.gpus).second) << describe(r);
    if (i > 0) {
      EXPECT_GE(r.candidates[i - 1].score, r.candidates[i].score) << describe(r);
    }
  }
  EXPECT_TRUE(r.reason.empty());
}

// --- gangs and what is short -------------------------------------------------------------

TEST(PlacementTest, GangJobWaitsWhenNotAllGpusAreFree) {
  NodeModel m = model_named("dgx-a100");
  NodeState st(m);
  st.add(whole({0, 1, 2, 3, 4, 5}));
  auto r = place(m, st, {.gpus = 4, .cpus = 1});
  EXPECT_TRUE(r.candidates.empty());
  EXPECT_EQ(r.reason, "needs 4 GPUs, 2 free (6 in use)");
}

TEST(PlacementTest, ReasonNamesEveryShortResource) {
  NodeModel m = model_named("dgx-a100");  // 32 CPUs, 1 TiB
  NodeState st(m);
  Allocation a = whole({0, 1, 2, 3, 4, 5, 6});
  for (int c = 0; c < 26; ++c) a.cpus.push_back(c);
  a.memory_bytes = m.memory_bytes - 12 * kGiB;
  st.add(a);
  auto r = place(m, st, {.gpus = 2, .cpus = 16, .memory_bytes = 64 * kGiB});
  EXPECT_TRUE(r.candidates.empty());
  EXPECT_EQ(r.reason,
            "needs 2 GPUs, 1 free (7 in use); needs 16 CPUs, 6 free; "
            "needs 64.0 GiB of memory, 12.0 GiB free");
}

TEST(PlacementTest, MemoryIsCountedAgainstTheAllocatableTotal) {
  NodeModel m = model_named("cpu-vm");  // 16 GiB, 4 CPUs
  NodeState st(m);
  auto first = place(m, st, {.cpus = 1, .memory_bytes = 10 * kGiB});
  ASSERT_FALSE(first.candidates.empty()) << describe(first);
  st.add(first.candidates[0].allocation);
  auto second = place(m, st, {.cpus = 1, .memory_bytes = 10 * kGiB});
  EXPECT_TRUE(second.candidates.empty());
  EXPECT_EQ(second.reason, "needs 10.0 GiB of memory, 6.0 GiB free");
  st.remove(first.candidates[0].allocation);
  EXPECT_FALSE(place(m, st, {.cpus = 1, .memory_bytes = 10 * kGiB}).candidates.empty());
}

// --- CPUs and overcommit ------------------------------------------------------------------

TEST(PlacementTest, CpuOnlyJobStaysOnTheNodeWithMostFreeCpus) {
  NodeModel m = model_named("dgx-a100");
  NodeState st(m);
  Allocation busy;
  busy.cpus = {0, 1, 4, 8, 9, 12, 13, 14};  // node 1 keeps 7 free CPUs, the others fewer
  st.add(busy);
  auto r = place(m, st, {.cpus = 6});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const Allocation& a = r.candidates[0].allocation;
  EXPECT_TRUE(a.gpus.empty());
  EXPECT_EQ(a.mems, (std::vector<int>{1}));
  for (int c : a.cpus) EXPECT_TRUE(cpus_of("4-7,20-23").count(c)) << c;
  for (int c : a.cpus) EXPECT_NE(c, 4);
}

TEST(PlacementTest, OvercommitOneGivesEveryJobItsOwnCpus) {
  NodeModel m = model_named("cpu-vm");  // 4 CPUs
  NodeState st(m, 1);
  auto r = place(m, st, {.cpus = 3});
  ASSERT_FALSE(r.candidates.empty());
  st.add(r.candidates[0].allocation);
  r = place(m, st, {.cpus = 2});
  EXPECT_TRUE(r.candidates.empty());
  EXPECT_EQ(r.reason, "needs 2 CPUs, 1 free");
  r = place(m, st, {.cpus = 1});
  ASSERT_FALSE(r.candidates.empty());
  EXPECT_EQ(r.candidates[0].allocation.cpus.size(), 1u);
  EXPECT_EQ(st.cpu_load(r.candidates[0].allocation.cpus[0]), 0);
}

TEST(PlacementTest, OvercommitTwoSharesCpusLeastLoadedFirst) {
  NodeModel m = model_named("cpu-vm");
  NodeState st(m, 2);
  Allocation first;
  first.cpus = {0, 1, 2};
  st.add(first);
  // CPU 3 is idle, 0-2 carry one job each: a 2-CPU job gets CPU 3 and one shared CPU.
  auto r = place(m, st, {.cpus = 2});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const auto& cpus = r.candidates[0].allocation.cpus;
  ASSERT_EQ(cpus.size(), 2u);
  EXPECT_EQ(cpus.back(), 3);
  st.add(r.candidates[0].allocation);
  // Loads are now 2,1,1,1 in some order: three CPUs may take one more job each.
  int full = 0;
  for (int c = 0; c < 4; ++c) full += st.cpu_load(c) == 2;
  EXPECT_EQ(full, 1);
  r = place(m, st, {.cpus = 4});
  EXPECT_TRUE(r.candidates.empty());
  EXPECT_EQ(r.reason, "needs 4 CPUs, 3 free (each CPU shared by up to 2 jobs)");
  r = place(m, st, {.cpus = 3});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  for (int c : r.candidates[0].allocation.cpus) EXPECT_EQ(st.cpu_load(c), 1) << c;
}

// --- GPU shares ---------------------------------------------------------------------------

TEST(PlacementTest, ShareGoesToTheFullestSharedGpuThatFits) {
  NodeModel m = model_named("dgx-a100");
  NodeState st(m);
  st.add(share(3, 0.25, 20 * kGiB));
  st.add(share(5, 0.5, 40 * kGiB));
  // 0.5 fits on GPU5 (0 left) and GPU3 (0.25 left): GPU5 is the best fit.
  auto r = place(m, st, {.gpu_fraction = 0.5, .cpus = 1});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  const Allocation& a = r.candidates[0].allocation;
  EXPECT_EQ(a.gpus, (std::vector<int>{5}));
  EXPECT_DOUBLE_EQ(a.gpu_fraction, 0.5);
  EXPECT_EQ(a.gpu_memory_bytes, 40 * kGiB);  // 0.5 x 80 GiB
  EXPECT_EQ(a.mems, (std::vector<int>{2}));  // GPU5's NUMA node
  ASSERT_GE(r.candidates.size(), 2u);
  EXPECT_EQ(r.candidates[1].allocation.gpus, (std::vector<int>{3}));
  // 0.75 only fits on GPU3; whole free GPUs come after it.
  r = place(m, st, {.gpu_fraction = 0.75, .cpus = 1});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{3}));
}

TEST(PlacementTest, ShareOnFreeGpusTakesTheOneThatBreaksNoIsland) {
  // ascend910: 0,1,2 busy: GPU3 is alone in its PIX group; a share there keeps 4-7 whole.
  NodeModel m = model_named("ascend910");
  NodeState st(m);
  st.add(whole({0, 1, 2}));
  auto r = place(m, st, {.gpu_fraction = 0.3, .cpus = 1});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{3}));
}

TEST(PlacementTest, ShareMemoryLimitsWhereItFitsAndTheReasonSaysSo) {
  NodeModel m = model_named("workstation");  // 2 x RTX 4090, 24 GiB each
  NodeState st(m);
  Request q{.gpu_fraction = 0.25, .gpu_memory_bytes = 20 * kGiB, .cpus = 1};
  auto r = place(m, st, q);
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpu_memory_bytes, 20 * kGiB);
  st.add(r.candidates[0].allocation);
  int first = r.candidates[0].allocation.gpus[0];
  // The fraction would fit next to it, the memory does not: the other GPU.
  r = place(m, st, q);
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_NE(r.candidates[0].allocation.gpus[0], first);
  st.add(r.candidates[0].allocation);
  r = place(m, st, q);
  EXPECT_TRUE(r.candidates.empty());
  EXPECT_EQ(r.reason,
            "no GPU has 0.25 of its capacity and 20.0 GiB free for a share "
            "(0 held whole, 2 with shares)");
}

TEST(PlacementTest, ShareNeverLandsOnAGpuHeldWhole) {
  NodeModel m = model_named("workstation");
  NodeState st(m);
  st.add(whole({0, 1}));
  auto r = place(m, st, {.gpu_fraction = 0.1, .cpus = 1});
  EXPECT_TRUE(r.candidates.empty());
  EXPECT_EQ(r.reason,
            "no GPU has 0.10 of its capacity free for a share (2 held whole, 0 with shares)");
}

TEST(PlacementTest, WholeGpuJobSkipsSharedGpus) {
  NodeModel m = model_named("workstation");
  NodeState st(m);
  st.add(share(0, 0.1, kGiB));
  auto r = place(m, st, {.gpus = 1, .cpus = 1});
  ASSERT_FALSE(r.candidates.empty()) << describe(r);
  EXPECT_EQ(r.candidates[0].allocation.gpus, (std::vector<int>{1}));
  EXPECT_EQ(place(m, st, {.gpus = 2, .cpus = 1}).reason, "needs 2 GPUs, 1 free (1 in use)");
}

// --- requests that can never fit ---------------------------------------------------------

void expect_invalid(const NodeModel& m, const Request& q, const std::string& text) {
  auto st = check_request(m, q);
  ASSERT_FALSE(st) << "expected an error containing '" << text << "'";
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message().find(text), std::string::npos) << st.error().message();
  // place() gives the same answer instead of candidates.
  auto r = place(m, NodeState(m), q);
  EXPECT_TRUE(r.candidates.empty());
  EXPECT_EQ(r.reason, st.error().message());
}

TEST(CheckRequestTest, RejectsWhatCanNeverFitWithAnActionableMessage) {
  NodeModel dgx = model_named("dgx-a100");
  expect_invalid(dgx, {.gpus = 9}, "asks for 9 GPUs, the node has 8");
  expect_invalid(dgx, {.gpus = -1}, "asks for -1 GPUs");
  expect_invalid(dgx, {.gpus = 1, .gpu_model = "H100"},
                 "no GPU matches model 'H100' (the node has: NVIDIA A100-SXM4-80GB x8)");
  expect_invalid(dgx, {.gpus = 9, .gpu_model = "a100"},
                 "asks for 9 GPUs, the node has 8 matching 'a100'");
  expect_invalid(dgx, {.gpu_fraction = 1.0}, "a GPU share needs 0 < fraction < 1, got 1.00");
  expect_invalid(dgx, {.gpu_fraction = -0.5}, "a GPU share needs 0 < fraction < 1");
  expect_invalid(dgx, {.gpus = 2, .gpu_fraction = 0.5}, "not both");
  expect_invalid(dgx, {.gpus = 1, .gpu_memory_bytes = 10 * kGiB}, "set gpu_fraction too");
  expect_invalid(dgx, {.gpu_fraction = 0.5, .gpu_memory_bytes = 100 * kGiB},
                 "with 100.0 GiB of GPU memory; the largest GPU has 80.0 GiB");
  expect_invalid(dgx, {.cpus = 0}, "asks for 0 CPUs; a job needs at least 1");
  expect_invalid(dgx, {.cpus = 33}, "asks for 33 CPUs, the node has 32");
  expect_invalid(dgx, {.memory_bytes = 2048 * kGiB},
                 "asks for 2048.0 GiB of memory, the node has 1024.0 GiB allocatable");
  NodeModel vm = model_named("cpu-vm");
  expect_invalid(vm, {.gpus = 1}, "asks for 1 GPU; this node has no GPU");
  expect_invalid(vm, {.gpu_fraction = 0.5}, "asks for a 0.50 GPU share; this node has no GPU");
}

TEST(CheckRequestTest, AcceptsWhatFitsAnEmptyNode) {
  NodeModel dgx = model_named("dgx-a100");
  EXPECT_TRUE(check_request(dgx, {.gpus = 8, .gpu_model = "a100-sxm4", .cpus = 32}));
  EXPECT_TRUE(check_request(dgx, {.gpu_fraction = 0.5, .gpu_memory_bytes = 80 * kGiB}));
  EXPECT_TRUE(check_request(dgx, {.memory_bytes = 1024 * kGiB}));
  EXPECT_TRUE(check_request(model_named("cpu-vm"), {.cpus = 4}));
}

}  // namespace
}  // namespace aion::sched
