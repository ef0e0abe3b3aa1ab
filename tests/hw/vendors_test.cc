// The shipped accelerator and ARM tables, classification of PCI functions from them, and
// discovery on the generated node with accelerators of three vendors (tests/fixtures/hw/hetero).
#include <algorithm>
#include <cstdlib>

#include <gtest/gtest.h>

#include "aion/hw/arm_cpus.h"
#include "aion/hw/cndev.h"
#include "aion/hw/cpu.h"
#include "aion/hw/dcmi.h"
#include "aion/hw/discovery.h"
#include "aion/hw/efml.h"
#include "aion/hw/habana.h"
#include "aion/hw/intel_gpu.h"
#include "aion/hw/mtml.h"
#include "aion/hw/vendors.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::hw {
namespace {

PciLocation function(std::uint32_t vendor, std::uint32_t device, std::uint32_t cls) {
  PciLocation p;
  p.vendor_id = vendor;
  p.device_id = device;
  p.class_code = cls;
  return p;
}

TEST(VendorTable, ShippedTableLoadsAndKnowsTheDomesticVendors) {
  const auto& t = shipped_vendor_table();
  ASSERT_TRUE(t) << t.error().message();
  for (const char* id : {"nvidia", "amd", "intel", "huawei", "hygon", "cambricon", "kunlunxin",
                         "moore-threads", "iluvatar", "enflame", "metax", "nec-ve", "habana"}) {
    EXPECT_NE(t->find(id), nullptr) << id;
  }
  EXPECT_EQ(t->find("huawei")->visible_env, "ASCEND_RT_VISIBLE_DEVICES");
  EXPECT_EQ(t->find("nec-ve")->visible_env, "VE_NODE_NUMBER");
  EXPECT_FALSE(t->as_of().empty());
}

TEST(VendorTable, ClassifiesByClassThenVendor) {
  const auto& t = shipped_vendor_table();
  ASSERT_TRUE(t);
  // A processing accelerator of a vendor the table does not list is still an accelerator.
  EXPECT_EQ(t->compute_kind(function(0x1234, 0x0001, 0x120000)), "accelerator");
  EXPECT_EQ(t->vendor_of(function(0x1234, 0x0001, 0x120000)), nullptr);
  // An SDXI data mover (0x1201) moves data; it does not compute.
  EXPECT_EQ(t->compute_kind(function(0x1234, 0x0001, 0x120100)), "");
  // Display controllers count only for vendors with a row: BMC video does not.
  EXPECT_EQ(t->compute_kind(function(0x1a03, 0x2000, 0x030000)), "");
  EXPECT_EQ(t->compute_kind(function(0x10de, 0x20b2, 0x030200)), "gpu");
  // Intel's id is shared: a co-processor is a Xeon Phi, a VGA function its GPU row.
  EXPECT_EQ(t->vendor_of(function(0x8086, 0x2250, 0x0b4000))->id, "intel-phi");
  EXPECT_EQ(t->compute_kind(function(0x8086, 0x2250, 0x0b4000)), "coprocessor");
  EXPECT_EQ(t->vendor_of(function(0x8086, 0x0bd5, 0x038000))->id, "intel");
  EXPECT_EQ(t->compute_kind(function(0x19e5, 0xd801, 0x120000)), "npu");
  // Network adapters by class, with or without an interface.
  EXPECT_EQ(t->network_class(function(0x15b3, 0x101b, 0x020700)), "InfiniBand controller");
  EXPECT_EQ(t->network_class(function(0x15b3, 0x101b, 0x010000)), "");
}

TEST(VendorTable, BrokenRowsNameFileLineAndField) {
  auto bad = VendorTable::parse(
      "schema_version = 1\n"
      "[[compute_class]]\nclass = 0x12\nkind = \"accelerator\"\nname = \"x\"\nsource = \"s\"\n"
      "[[vendor]]\nid = \"v\"\nname = \"V\"\npci_vendor_ids = [0x1]\nkind = \"npu\"\n"
      "depth = \"generic\"\nvisible_env = \"V_VISIBLE\"\nsource = [\"s\"]\n",
      "site.toml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(bad.error().message().find("site.toml:7"), std::string::npos) << bad.error().message();
  EXPECT_NE(bad.error().message().find("visible_by"), std::string::npos);

  auto typo = VendorTable::parse(
      "schema_version = 1\n[[compute_class]]\nclass = 0x12\nkind = \"a\"\nname = \"x\"\n"
      "source = \"s\"\n[[vendor]]\nid = \"v\"\nname = \"V\"\npci_vendor_id = [1]\n",
      "t.toml");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message().find("pci_vendor_ids"), std::string::npos)
      << typo.error().message();

  auto range = VendorTable::parse(
      "schema_version = 1\n[[compute_class]]\nclass = 0x123456\nkind = \"a\"\nname = \"x\"\n"
      "source = \"s\"\n",
      "r.toml");
  ASSERT_FALSE(range);
  EXPECT_NE(range.error().message().find("r.toml:3"), std::string::npos) << range.error().message();
}

TEST(ArmCpuTable, NamesKnownAndUnknownParts) {
  const auto& t = shipped_arm_cpu_table();
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->model(0x48, 0xd01), "HiSilicon Kunpeng 920 (TaiShan v110)");
  EXPECT_EQ(t->implementer(0x41), "Arm");
  EXPECT_EQ(t->model(0x48, 0xfff), "HiSilicon part 0xfff");
  EXPECT_EQ(t->model(0x99, 0x001), "ARM implementer 0x99 part 0x001");
  EXPECT_EQ(parse_midr_field("0x48"), 0x48u);
  EXPECT_EQ(parse_midr_field(" 72 "), 72u);
  EXPECT_EQ(parse_midr_field("0xzz"), std::nullopt);
}

TEST(ArmCpuTable, DuplicatePartIsRefused) {
  auto dup = ArmCpuTable::parse(
      "schema_version = 1\n[[implementer]]\nid = 0x41\nname = \"Arm\"\nsource = \"s\"\n"
      "[[part]]\nimplementer = 0x41\npart = 0xd0c\nname = \"Neoverse N1\"\nsource = \"s\"\n"
      "[[part]]\nimplementer = 0x41\npart = 0xd0c\nname = \"again\"\nsource = \"s\"\n",
      "arm.toml");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("arm.toml:11"), std::string::npos) << dup.error().message();
}

TEST(CpuInfoParse, ArmCpuinfoWithOnlyMidrFieldsGetsAName) {
  CpuInfo c = parse_cpuinfo(
      "processor\t: 0\nBogoMIPS\t: 200.00\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
      "CPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n"
      "processor\t: 1\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n");
  EXPECT_EQ(c.threads, 2);
  EXPECT_NE(c.model.find("Neoverse"), std::string::npos) << c.model;
  EXPECT_EQ(c.vendor, "Arm");
}

TEST(CpuInfoTest, ArchitectureComesFromWhatTheFileHolds) {
  EXPECT_EQ(architecture_of_cpuinfo("processor\t: 0\nCPU implementer\t: 0x48\nCPU part\t: 0xd01\n"),
            "aarch64");
  EXPECT_EQ(architecture_of_cpuinfo("processor\t: 0\nvendor_id\t: GenuineIntel\n"), "x86_64");
  EXPECT_EQ(architecture_of_cpuinfo("processor\t: 0\ncpu\t\t: POWER9, altivec supported\n"),
            "ppc64");
  EXPECT_EQ(architecture_of_cpuinfo("processor\t: 0\nvendor_id\t: HiSilicon\n"), "");
  EXPECT_EQ(architecture_of_cpuinfo("model name\t: my CPU implementer\n"), "");
}

class HeteroFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    inv_ = discover(HostFs(::aion::testing::hw_fixture_root("hetero")), {});
  }
  const Accelerator* at(const std::string& address) const {
    for (const auto& a : inv_.accelerators)
      if (a.pci.address == address) return &a;
    return nullptr;
  }
  Inventory inv_;
};

TEST_F(HeteroFixture, EveryComputingFunctionIsAnAcceleratorOfItsKind) {
  ASSERT_EQ(inv_.accelerators.size(), 7u);
  const Accelerator* npu = at("0000:86:00.0");
  ASSERT_NE(npu, nullptr);
  EXPECT_EQ(npu->kind, "npu");
  EXPECT_EQ(npu->vendor, "huawei");
  EXPECT_EQ(npu->index, 2);
  EXPECT_EQ(npu->device_nodes, std::vector<std::string>{"/dev/davinci2"});
  EXPECT_EQ(npu->pci.link_width, 8);
  EXPECT_EQ(npu->pci.max_link_width, 16);
  EXPECT_EQ(npu->pci.link_speed, "16.0 GT/s PCIe");
  const Accelerator* mlu = at("0000:84:00.0");
  ASSERT_NE(mlu, nullptr);
  EXPECT_EQ(mlu->kind, "mlu");
  EXPECT_EQ(mlu->vendor_name, "Cambricon");
  EXPECT_EQ(mlu->depth, "generic");
  EXPECT_EQ(mlu->device_nodes, std::vector<std::string>{"/dev/cambricon_dev1"});
}

TEST_F(HeteroFixture, VectorEnginesAreReadFromTheVeDriver) {
  const Accelerator* ve = at("0000:08:00.0");
  ASSERT_NE(ve, nullptr);
  EXPECT_EQ(ve->kind, "vector");
  EXPECT_EQ(ve->vendor, "nec-ve");
  EXPECT_EQ(ve->depth, "ve-sysfs");
  EXPECT_EQ(ve->index, 1);
  EXPECT_EQ(ve->cores, 8);
  EXPECT_EQ(ve->memory_bytes, 48ull << 30);
  EXPECT_EQ(ve->device_nodes, std::vector<std::string>{"/dev/veslot1"});
}

TEST_F(HeteroFixture, AnInfinibandAdapterWithoutInterfaceIsStillANic) {
  auto it = std::find_if(inv_.nics.begin(), inv_.nics.end(),
                         [](const Nic& n) { return n.pci.address == "0000:09:00.0"; });
  ASSERT_NE(it, inv_.nics.end());
  EXPECT_EQ(it->name, "0000:09:00.0");
  EXPECT_EQ(it->state, "no interface");
}

TEST(HabanaTest, GaudiCardsOfTheAccelClassGetTheirNumberModuleAndState) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  Inventory inv = discover(HostFs(::aion::testing::hw_fixture_root("gaudi2")), {});
  ASSERT_EQ(inv.accelerators.size(), 4u);
  const Accelerator& a = inv.accelerators[0];
  EXPECT_EQ(a.vendor, "habana");
  EXPECT_EQ(a.kind, "hpu");
  EXPECT_EQ(a.depth, "habanalabs-sysfs");
  EXPECT_EQ(a.index, 0);
  EXPECT_EQ(a.module_id, 2);
  EXPECT_EQ(a.driver_version, "1.17.0-495fb7c");
  EXPECT_EQ(a.uuid, "AN20000000");
  EXPECT_EQ(a.device_nodes,
            (std::vector<std::string>{"/dev/accel/accel0", "/dev/accel/accel_controlD0"}));
  EXPECT_EQ(inv.accelerators[2].module_id, 0);
  EXPECT_EQ(inv.accelerators[3].state, "error");
}

// Before the accel subsystem (Linux 6.3) the driver's class was habanalabs, its attributes on
// the class device and the PCI address in pci_addr; the first Gaudi's name comes from pci.ids,
// a newer one's from device_type.
TEST(HabanaTest, TheOlderHabanalabsClassIsReadToo) {
  ::aion::testing::TempDir dir("habana");
  const std::string pci = "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0";
  dir.write(pci + "/vendor", "0x1da3\n");
  dir.write(pci + "/device", "0x1030\n");
  dir.write(pci + "/class", "0x120000\n");
  dir.write(pci + "/numa_node", "0\n");
  std::filesystem::create_directories(dir / "sys/bus/pci/devices");
  std::filesystem::create_directory_symlink("../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0",
                                            dir / "sys/bus/pci/devices/0000:01:00.0");
  dir.write("sys/class/habanalabs/hl5/device_type", "GAUDI3\n");
  dir.write("sys/class/habanalabs/hl5/pci_addr", "0000:01:00.0\n");
  dir.write("sys/class/habanalabs/hl5/status", "Malfunction\n");
  dir.write("sys/class/habanalabs/hl_controlD5/device_type", "GAUDI3\n");
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  Inventory inv = discover(HostFs(dir.path()), {});
  ASSERT_EQ(inv.accelerators.size(), 1u);
  const Accelerator& a = inv.accelerators[0];
  EXPECT_EQ(a.index, 5);
  EXPECT_EQ(a.module_id, -1);
  EXPECT_EQ(a.model, "Gaudi3");
  EXPECT_EQ(a.state, "error");
  EXPECT_EQ(habana_state("operational"), "ok");
  EXPECT_EQ(habana_state(" In reset\n"), "ok");
  EXPECT_EQ(habana_state("needs reset"), "error");
  EXPECT_EQ(habana_model("GOYA"), "Goya");
}

// Ascend NPUs through a library with DCMI's C ABI (the fake answers from the fixture's
// dcmi.json): the chip's name, AI cores, HBM, logical id and health replace what PCI told.
TEST(DcmiTest, AscendNpusGetNameCoresMemoryAndHealthFromDcmi) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  ::setenv("AION_DCMI_LIBRARY", FAKE_DCMI_PATH, 1);
  const std::string root = ::aion::testing::hw_fixture_root("ascend910").string();
  ::setenv("AION_FAKE_DCMI", (root + "/../dcmi.json").c_str(), 1);
  Inventory inv = discover(HostFs(root), {});
  ::unsetenv("AION_DCMI_LIBRARY");
  ::unsetenv("AION_FAKE_DCMI");
  ASSERT_EQ(inv.accelerators.size(), 8u);
  const Accelerator& a = inv.accelerators[0];
  EXPECT_EQ(a.model, "Ascend 910B");
  EXPECT_EQ(a.cores, 32);
  EXPECT_EQ(a.memory_bytes, 32ull << 30);
  EXPECT_EQ(a.depth, "dcmi");
  EXPECT_EQ(a.state, "ok");
  EXPECT_EQ(a.device_nodes, std::vector<std::string>{"/dev/davinci0"});
  EXPECT_EQ(inv.accelerators[7].pci.address, "0000:86:00.0");
  EXPECT_EQ(inv.accelerators[7].state, "error");
  EXPECT_EQ(inv.accelerators[7].index, 7);
  for (const auto& w : inv.warnings) ADD_FAILURE() << w.device << ": " << w.message;
}

TEST(DcmiTest, WithoutTheLibraryNpusKeepWhatPciSaidAndNothingIsWarned) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  ::setenv("AION_DCMI_LIBRARY", "/nonexistent/libdcmi.so", 1);
  Inventory inv = discover(HostFs(::aion::testing::hw_fixture_root("ascend910")), {});
  ::unsetenv("AION_DCMI_LIBRARY");
  ASSERT_EQ(inv.accelerators.size(), 8u);
  EXPECT_EQ(inv.accelerators[0].depth, "generic");
  EXPECT_EQ(inv.accelerators[7].state, "ok");
  EXPECT_TRUE(inv.warnings.empty());
  auto q = dcmi_query("/nonexistent/libdcmi.so");
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(dcmi_health_state(1), "ok");
  EXPECT_EQ(dcmi_health_state(3), "error");
  EXPECT_EQ(dcmi_health_state(0xffffffffu), "error");
}

// Intel GPUs on the xe driver get their local memory from the tiles' attributes; the one on
// i915 (no memory size in its sysfs) stays generic. Each has its own DRM nodes.
TEST(IntelGpuTest, XeGpusGetTheirTilesMemoryAndI915StaysGeneric) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  const auto root = ::aion::testing::hw_fixture_root("xe-max");
  Inventory inv = discover(HostFs(root), {});
  ASSERT_EQ(inv.accelerators.size(), 3u);
  const Accelerator& arc = inv.accelerators[0];
  EXPECT_EQ(arc.pci.driver, "i915");
  EXPECT_EQ(arc.depth, "generic");
  EXPECT_EQ(arc.memory_bytes, 0u);
  EXPECT_EQ(arc.device_nodes, (std::vector<std::string>{"/dev/dri/card2", "/dev/dri/renderD130"}));
  for (std::size_t i : {1u, 2u}) {
    const Accelerator& max = inv.accelerators[i];
    EXPECT_EQ(max.pci.driver, "xe");
    EXPECT_EQ(max.depth, "xe-sysfs");
    EXPECT_EQ(max.memory_bytes, 128ull << 30);
    EXPECT_EQ(max.index, static_cast<int>(i));
  }
  EXPECT_EQ(inv.accelerators[2].pci.numa_node, 1);
  auto xe = read_xe_gpu(HostFs(root), "0000:21:00.0");
  ASSERT_TRUE(xe);
  EXPECT_EQ(xe->tiles, 2);
  EXPECT_FALSE(read_xe_gpu(HostFs(root), "0000:03:00.0"));  // i915: no tile directories
  for (const auto& w : inv.warnings) ADD_FAILURE() << w.device << ": " << w.message;
}

// Moore Threads GPUs through a library with MTML's C ABI (the fake answers from the musa
// fixture's mtml.json): name, memory, UUID, driver version, MTML's own index (here the
// reverse of PCI order) and the device paths it reports.
TEST(MtmlTest, MooreThreadsGpusGetNameMemoryIndexAndPathsFromMtml) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  ::setenv("AION_MTML_LIBRARY", FAKE_MTML_PATH, 1);
  const std::string root = ::aion::testing::hw_fixture_root("musa").string();
  ::setenv("AION_FAKE_MTML", (root + "/../mtml.json").c_str(), 1);
  Inventory inv = discover(HostFs(root), {});
  ::unsetenv("AION_MTML_LIBRARY");
  ::unsetenv("AION_FAKE_MTML");
  ASSERT_EQ(inv.accelerators.size(), 2u);
  const Accelerator& a = inv.accelerators[0];
  EXPECT_EQ(a.pci.address, "0000:1b:00.0");
  EXPECT_EQ(a.model, "MTT S3000");
  EXPECT_EQ(a.memory_bytes, 32ull << 30);
  EXPECT_EQ(a.uuid, "5e2c1a3b-0222-4000-8000-000000000001");
  EXPECT_EQ(a.driver_version, "2.7.0");
  EXPECT_EQ(a.depth, "mtml");
  EXPECT_EQ(a.index, 1);
  EXPECT_EQ(inv.accelerators[1].index, 0);
  EXPECT_EQ(a.device_nodes,
            (std::vector<std::string>{"/dev/mtgpu.0", "/dev/dri/card0", "/dev/dri/renderD128"}));
  for (const auto& w : inv.warnings) ADD_FAILURE() << w.device << ": " << w.message;
}

TEST(MtmlTest, WithoutTheLibraryGpusKeepWhatPciSaid) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  ::setenv("AION_MTML_LIBRARY", "/nonexistent/libmtml.so", 1);
  Inventory inv = discover(HostFs(::aion::testing::hw_fixture_root("musa")), {});
  ::unsetenv("AION_MTML_LIBRARY");
  ASSERT_EQ(inv.accelerators.size(), 2u);
  EXPECT_EQ(inv.accelerators[0].depth, "generic");
  EXPECT_EQ(inv.accelerators[0].model, "MTT S3000");  // pci.ids
  EXPECT_EQ(inv.accelerators[0].index, 0);
  EXPECT_TRUE(inv.warnings.empty());
  auto q = mtml_query("/nonexistent/libmtml.so");
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), ErrorCode::kUnavailable);
  auto old = mtml_query(FAKE_DCMI_PATH);  // a library without MTML's functions
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), ErrorCode::kUnsupported);
}

// Enflame GCUs through a library with EFML's C ABI (the fake answers from the gcu fixture's
// efml.json): name, memory, UUID, driver version, health, and the driver's logic id as the
// index and the /dev/gcu node (here the reverse of PCI order).
TEST(EfmlTest, EnflameGcusGetNameMemoryHealthAndLogicIdFromEfml) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  ::setenv("AION_EFML_LIBRARY", FAKE_EFML_PATH, 1);
  const std::string root = ::aion::testing::hw_fixture_root("gcu").string();
  ::setenv("AION_FAKE_EFML", (root + "/../efml.json").c_str(), 1);
  Inventory inv = discover(HostFs(root), {});
  ::unsetenv("AION_EFML_LIBRARY");
  ::unsetenv("AION_FAKE_EFML");
  ASSERT_EQ(inv.accelerators.size(), 2u);
  const Accelerator& a = inv.accelerators[0];
  EXPECT_EQ(a.pci.address, "0000:41:00.0");
  EXPECT_EQ(a.model, "Enflame I20");
  EXPECT_EQ(a.memory_bytes, 16ull << 30);
  EXPECT_EQ(a.uuid, "ef1e3600-8001-4000-8000-000000000001");
  EXPECT_EQ(a.driver_version, "1.2.3");
  EXPECT_EQ(a.depth, "efml");
  EXPECT_EQ(a.state, "ok");
  EXPECT_EQ(a.index, 1);
  EXPECT_EQ(a.device_nodes, std::vector<std::string>{"/dev/gcu1"});
  EXPECT_EQ(inv.accelerators[1].index, 0);
  EXPECT_EQ(inv.accelerators[1].state, "error");
  for (const auto& w : inv.warnings) ADD_FAILURE() << w.device << ": " << w.message;
}

TEST(EfmlTest, WithoutTheLibraryGcusKeepWhatPciSaid) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  ::setenv("AION_EFML_LIBRARY", "/nonexistent/libefml.so", 1);
  Inventory inv = discover(HostFs(::aion::testing::hw_fixture_root("gcu")), {});
  ::unsetenv("AION_EFML_LIBRARY");
  ASSERT_EQ(inv.accelerators.size(), 2u);
  EXPECT_EQ(inv.accelerators[0].depth, "generic");
  EXPECT_EQ(inv.accelerators[1].state, "ok");
  EXPECT_TRUE(inv.warnings.empty());
  auto q = efml_query("/nonexistent/libefml.so");
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), ErrorCode::kUnavailable);
  auto old = efml_query(FAKE_DCMI_PATH);  // a library without EFML's functions
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), ErrorCode::kUnsupported);
}

// Cambricon MLUs through a library with CNDev's C ABI (the fake answers from the hetero
// fixture's cndev.json and refuses structures of another API version): the card's name,
// cores, memory, UUID, driver version and health replace what PCI told.
TEST(CndevTest, MlusGetNameCoresMemoryAndHealthFromCndev) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  ::setenv("AION_CNDEV_LIBRARY", FAKE_CNDEV_PATH, 1);
  const std::string root = ::aion::testing::hw_fixture_root("hetero").string();
  ::setenv("AION_FAKE_CNDEV", (root + "/../cndev.json").c_str(), 1);
  Inventory inv = discover(HostFs(root), {});
  ::unsetenv("AION_CNDEV_LIBRARY");
  ::unsetenv("AION_FAKE_CNDEV");
  std::vector<const Accelerator*> mlus;
  for (const auto& a : inv.accelerators) {
    if (a.vendor == "cambricon") mlus.push_back(&a);
  }
  ASSERT_EQ(mlus.size(), 2u);
  const Accelerator& a = *mlus[0];
  EXPECT_EQ(a.pci.address, "0000:83:00.0");
  EXPECT_EQ(a.model, "Cambricon MLU370-X8");
  EXPECT_EQ(a.cores, 8);
  EXPECT_EQ(a.memory_bytes, 48ull << 30);
  EXPECT_EQ(a.uuid, "5a1d0c37-0000-4000-8000-000000000080");
  EXPECT_EQ(a.driver_version, "5.10.22");
  EXPECT_EQ(a.depth, "cndev");
  EXPECT_EQ(a.state, "ok");
  EXPECT_EQ(a.index, 0);
  EXPECT_EQ(a.device_nodes, std::vector<std::string>{"/dev/cambricon_dev0"});
  EXPECT_EQ(mlus[1]->state, "error");
  EXPECT_EQ(mlus[1]->index, 1);
  // The other vendors of the machine are untouched.
  for (const auto& other : inv.accelerators) {
    if (other.vendor != "cambricon") {
      EXPECT_NE(other.depth, "cndev");
    }
  }
  for (const auto& w : inv.warnings) ADD_FAILURE() << w.device << ": " << w.message;
}

TEST(CndevTest, WithoutTheLibraryMlusKeepWhatPciSaidAndNothingIsWarned) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  ::setenv("AION_CNDEV_LIBRARY", "/nonexistent/libcndev.so", 1);
  Inventory inv = discover(HostFs(::aion::testing::hw_fixture_root("hetero")), {});
  ::unsetenv("AION_CNDEV_LIBRARY");
  int mlus = 0;
  for (const auto& a : inv.accelerators) {
    if (a.vendor != "cambricon") continue;
    ++mlus;
    EXPECT_EQ(a.depth, "generic");
    EXPECT_EQ(a.state, "ok");
  }
  EXPECT_EQ(mlus, 2);
  auto q = cndev_query("/nonexistent/libcndev.so");
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), ErrorCode::kUnavailable);
  // A library without the handle functions (here: the DCMI fake) is too old, and says so.
  auto old = cndev_query(FAKE_DCMI_PATH);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(old.error().message().find("cndevGetDeviceHandleByIndex"), std::string::npos);
}

}  // namespace
}  // namespace aion::hw
