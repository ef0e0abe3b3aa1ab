// Discovery on /proc and /sys trees gathered on real machines by hwloc's developers
// (../shared/data/hwloc-linux, beside the checkout), each checked against what hwloc's own
// lstopo printed for it: packages, cores, threads, NUMA nodes with their memory, and PCI
// devices. The trees are extracted to a temporary directory; the tests skip with the reason
// when the data is not there.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "aion/hw/discovery.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::hw {
namespace {

namespace fs = std::filesystem;

fs::path data_dir() {
  return ::aion::testing::source_path("../shared/data/hwloc-linux");
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What lstopo printed for a capture.
struct Expected {
  int packages = 0, cores = 0, pus = 0, numa = 0;
  std::map<int, std::string> numa_local;  // os index -> "126GiB"
  std::set<std::string> pci;              // bus ids
};

// The console form: the "depth N: COUNT Type" summary, NUMANode lines, PCI lines.
Expected parse_console(const std::string& text) {
  Expected e;
  std::istringstream in(text);
  std::string line;
  const std::regex count(R"(^\s*(?:depth \d+|Special depth -\d+):\s+(\d+) (\w+) \(type)");
  const std::regex node(R"(NUMANode(?:\([^)]*\))? L#\d+ \(P#(\d+) local=(\d+[KMGT]iB))");
  const std::regex pci(R"(\bPCI L#\d+ \(busid=([0-9a-f]+:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]))");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, count)) {
      int n = std::stoi(m[1]);
      if (m[2] == "Package") e.packages = n;
      if (m[2] == "Core") e.cores = n;
      if (m[2] == "PU") e.pus = n;
      if (m[2] == "NUMANode") e.numa = n;
    }
    if (std::regex_search(line, m, node)) e.numa_local[std::stoi(m[1])] = m[2];
    if (std::regex_search(line, m, pci)) e.pci.insert(m[1]);
  }
  return e;
}

// The XML form: objects by type, NUMA nodes with local_memory in bytes, PCIDev bus ids.
Expected parse_xml(const std::string& text) {
  Expected e;
  const std::regex object(R"re(<object type="(\w+)"([^>]*)>)re");
  const std::regex os_index(R"re(os_index="(\d+)")re");
  const std::regex local(R"re(local_memory="(\d+)")re");
  const std::regex busid(R"re(pci_busid="([^"]+)")re");
  std::smatch a;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), object);
       it != std::sregex_iterator(); ++it) {
    const std::string type = (*it)[1], attrs = (*it)[2];
    if (type == "Package") ++e.packages;
    if (type == "Core") ++e.cores;
    if (type == "PU") ++e.pus;
    if (type == "NUMANode") {
      ++e.numa;
      if (std::regex_search(attrs, a, os_index)) {
        int id = std::stoi(a[1]);
        std::smatch b;
        if (std::regex_search(attrs, b, local)) e.numa_local[id] = std::string(b[1]) + "B";
      }
    }
    if (type == "PCIDev" && std::regex_search(attrs, a, busid)) e.pci.insert(a[1]);
  }
  return e;
}

// lstopo's size: KiB divided by 1024 while it stays at least 10 of the next unit, rounded.
// Returns the value in the unit of `printed` ("126GiB") so the two can be compared.
double in_unit_of(std::uint64_t bytes, const std::string& printed) {
  static const std::map<std::string, double> unit = {{"B", 1},
                                                     {"KiB", 1024.0},
                                                     {"MiB", 1048576.0},
                                                     {"GiB", 1073741824.0},
                                                     {"TiB", 1099511627776.0}};
  std::size_t i = 0;
  while (i < printed.size() && std::isdigit(static_cast<unsigned char>(printed[i]))) ++i;
  return static_cast<double>(bytes) / unit.at(printed.substr(i));
}

// hwloc's console shows only the PCI functions it deems important: storage, network,
// display, processors and co-processors, processing accelerators, InfiniBand, Fibre Channel
// and CXL memory (not bridges, USB, SMBus, ISA and the like). Its XML keeps every function
// but PCI-to-PCI bridges, which are bridge objects there.
bool shown_on_console(std::uint32_t class_code) {
  const std::uint32_t base = class_code >> 16, sub = class_code >> 8;
  return base == 0x01 || base == 0x02 || base == 0x03 || base == 0x0b || base == 0x12 ||
         sub == 0x0c04 || sub == 0x0c06 || sub == 0x0502;
}

struct Capture {
  std::string name;      // the tarball's stem
  std::string expected;  // ".console" or ".xml"
};

void PrintTo(const Capture& c, std::ostream* os) {
  *os << c.name << c.expected;
}

class RealTreeTest : public ::testing::TestWithParam<Capture> {
 protected:
  void SetUp() override {
    const fs::path tarball = data_dir() / (GetParam().name + ".tar.bz2");
    if (!fs::exists(tarball))
      GTEST_SKIP() << "no " << tarball << " (the shared hwloc captures sit beside the checkout)";
    const std::string cmd = "tar -xjf '" + tarball.string() + "' -C '" + tmp_.path().string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    for (const auto& entry : fs::directory_iterator(tmp_.path())) root_ = entry.path();
    ASSERT_FALSE(root_.empty()) << "empty archive " << tarball;
    const std::string text = slurp(data_dir() / (GetParam().name + GetParam().expected));
    expected_ = GetParam().expected == ".xml" ? parse_xml(text) : parse_console(text);
    inv_ = discover(HostFs(root_), {});
  }

  ::aion::testing::TempDir tmp_{"hwloc-tree"};
  fs::path root_;
  Expected expected_;
  Inventory inv_;
};

// One test per capture (each extraction costs a second or so): counts, NUMA memory, PCI.
TEST_P(RealTreeTest, InventoryMatchesHwlocOutput) {
  EXPECT_EQ(inv_.cpu.sockets, expected_.packages) << "packages";
  EXPECT_EQ(inv_.cpu.cores, expected_.cores) << "cores";
  EXPECT_EQ(inv_.cpu.threads, expected_.pus) << "threads";
  EXPECT_EQ(static_cast<int>(inv_.numa_nodes.size()), expected_.numa) << "NUMA nodes";
  EXPECT_EQ(inv_.numa_nodes.size(), expected_.numa_local.size());
  for (const auto& n : inv_.numa_nodes) {
    auto it = expected_.numa_local.find(n.id);
    if (it == expected_.numa_local.end()) {
      ADD_FAILURE() << "node " << n.id << " is not in hwloc's output";
      continue;
    }
    const std::string& printed = it->second;
    EXPECT_LE(std::abs(in_unit_of(n.memory_bytes, printed) - std::stod(printed)), 1.0)
        << "node " << n.id << ": " << n.memory_bytes << " bytes, hwloc says " << printed;
  }
  const bool console = GetParam().expected == ".console";
  std::set<std::string> ours;
  for (const auto& p : inv_.pci) {
    const bool bridge = (p.class_code >> 8) == 0x0604;
    if (console ? shown_on_console(p.class_code) : !bridge) ours.insert(p.address);
  }
  EXPECT_EQ(ours, expected_.pci) << "PCI devices";
  // hwloc's gatherer copies what hwloc reads, so a tree may lack /proc/meminfo: a missing
  // file is the capture's gap. Any other warning (a file aion could not parse) is a failure.
  for (const auto& w : inv_.warnings) {
    if (w.message.find("No such file or directory") == std::string::npos)
      ADD_FAILURE() << "warning: " << w.device << ": " << w.message;
  }
}

INSTANTIATE_TEST_SUITE_P(Hwloc, RealTreeTest,
                         ::testing::Values(Capture{"128arm-2pa2n8cluster4co", ".console"},
                                           Capture{"16amd64-8n2c-cpusets", ".console"},
                                           Capture{"20em64t-hybrid-1p6c2t+2ca4co1t", ".console"},
                                           Capture{"256ppc-8n8s4t", ".console"},
                                           Capture{"2pa-pcidomain32bits", ".console"},
                                           Capture{"40intel64-4n10c+pci-conflicts", ".console"},
                                           Capture{"48amd64-4pa2n6c-sparse", ".console"},
                                           Capture{"64amd64-4s2n4ca2co", ".console"},
                                           Capture{"fakeheteromemtiers", ".console"},
                                           Capture{"fakepcilocalities", ".xml"}),
                         [](const auto& info) {
                           std::string n;
                           for (char c : info.param.name)
                             n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// What the captures show beyond counts.
class RealTreeDetailTest : public ::testing::Test {
 protected:
  Inventory load(const std::string& name) {
    const fs::path tarball = data_dir() / (name + ".tar.bz2");
    if (!fs::exists(tarball)) return {};
    const std::string cmd = "tar -xjf '" + tarball.string() + "' -C '" + tmp_.path().string() + "'";
    if (std::system(cmd.c_str()) != 0) return {};
    fs::path root;
    for (const auto& entry : fs::directory_iterator(tmp_.path())) root = entry.path();
    return discover(HostFs(root), {});
  }
  void SetUp() override {
    if (!fs::exists(data_dir()))
      GTEST_SKIP() << "no " << data_dir() << " (the shared hwloc captures sit beside the checkout)";
  }
  ::aion::testing::TempDir tmp_{"hwloc-tree"};
};

TEST_F(RealTreeDetailTest, ArmServerIsNamedFromItsMidrFields) {
  Inventory inv = load("128arm-2pa2n8cluster4co");
  EXPECT_EQ(inv.cpu.model, "HiSilicon Kunpeng 920 (TaiShan v110)");
  EXPECT_EQ(inv.cpu.vendor, "HiSilicon");
  EXPECT_EQ(inv.cpu.architecture, "aarch64");
  EXPECT_TRUE(inv.cpu.kinds.empty()) << "one kind of core is no hybrid";
}

TEST_F(RealTreeDetailTest, HybridCpuHasPerformanceAndEfficiencyCores) {
  Inventory inv = load("20em64t-hybrid-1p6c2t+2ca4co1t");
  ASSERT_EQ(inv.cpu.kinds.size(), 2u);
  EXPECT_EQ(inv.cpu.kinds[0].name, "efficiency");
  EXPECT_EQ(inv.cpu.kinds[0].cpus, "12-19");
  EXPECT_EQ(inv.cpu.kinds[1].name, "performance");
  EXPECT_EQ(inv.cpu.kinds[1].cpus, "0-11");
  EXPECT_GT(inv.cpu.kinds[1].max_mhz, inv.cpu.kinds[0].max_mhz);
}

TEST_F(RealTreeDetailTest, MemoryTiersAreMemoryOnlyNodesBesideTheirCpus) {
  Inventory inv = load("fakeheteromemtiers");
  std::map<int, const NumaNode*> by_id;
  for (const auto& n : inv.numa_nodes) by_id[n.id] = &n;
  ASSERT_TRUE(by_id.count(0) && by_id.count(8) && by_id.count(4));
  EXPECT_EQ(by_id[0]->kind, "DRAM");
  EXPECT_FALSE(by_id[0]->cpus.empty());
  EXPECT_EQ(by_id[8]->kind, "NVM");
  EXPECT_EQ(by_id[8]->cpus, "") << "an NVM tier has no CPUs of its own";
  EXPECT_EQ(by_id[8]->near_node, 0);
  EXPECT_EQ(by_id[4]->kind, "HBM");
  EXPECT_EQ(by_id[4]->near_node, 1);
}

TEST_F(RealTreeDetailTest, CpusetRestrictedTreeShowsWhatTheProcessMayUse) {
  Inventory inv = load("16amd64-8n2c-cpusets");
  EXPECT_EQ(inv.cpu.threads, 10);
  EXPECT_EQ(inv.numa_nodes.size(), 4u);
}

TEST_F(RealTreeDetailTest, PciDomainsWiderThan16BitsKeepTheirPlace) {
  Inventory inv = load("2pa-pcidomain32bits");
  bool found = false;
  for (const auto& p : inv.pci) {
    if (p.address != "10000:00:04.0") continue;
    found = true;
    EXPECT_EQ(p.host_bridge, "pci10000:00");
  }
  EXPECT_TRUE(found) << "the SCSI controller in domain 10000";
}

}  // namespace
}  // namespace aion::hw
