// Kunlunxin, Iluvatar, MetaX and Hygon accelerators on the generated mixed node
// (tests/fixtures/hw/cn-mix): through fakes of XPUML, IXML, MXSML and Hygon's ROCm SMI, each
// speaking its vendor's C ABI and answering from the JSON file beside the tree; and without
// the libraries, what PCI tells. Also the placement of a job asking for two devices of one
// kind, and the topology between vendors behind switches.
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aion/hw/discovery.h"
#include "aion/hw/hyhal.h"
#include "aion/hw/ixml.h"
#include "aion/hw/mxsml.h"
#include "aion/hw/topology.h"
#include "aion/hw/xpuml.h"
#include "support/fixtures.h"

namespace aion::hw {
namespace {

const char* const kLibraries[][3] = {
    {"AION_XPUML_LIBRARY", FAKE_XPUML_PATH, "xpuml.json"},
    {"AION_IXML_LIBRARY", FAKE_IXML_PATH, "ixml.json"},
    {"AION_MXSML_LIBRARY", FAKE_MXSML_PATH, "mxsml.json"},
    {"AION_HYGON_SMI_LIBRARY", FAKE_HYHAL_SMI_PATH, "hyhal-smi.json"},
};
const char* const kFakeEnv[] = {"AION_FAKE_XPUML", "AION_FAKE_IXML", "AION_FAKE_MXSML",
                                "AION_FAKE_HYHAL_SMI"};

// Discovery on cn-mix with the four fakes (or, with `libraries` false, with none).
Inventory discover_cn_mix(bool libraries) {
  const std::string root = ::aion::testing::hw_fixture_root("cn-mix").string();
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  for (std::size_t i = 0; i < std::size(kLibraries); ++i) {
    ::setenv(kLibraries[i][0], libraries ? kLibraries[i][1] : "/nonexistent/lib.so", 1);
    ::setenv(kFakeEnv[i], (root + "/../" + kLibraries[i][2]).c_str(), 1);
  }
  Inventory inv = discover(HostFs(root), {});
  for (std::size_t i = 0; i < std::size(kLibraries); ++i) {
    ::unsetenv(kLibraries[i][0]);
    ::unsetenv(kFakeEnv[i]);
  }
  return inv;
}

const Accelerator* at(const Inventory& inv, const std::string& address) {
  for (const auto& a : inv.accelerators)
    if (a.pci.address == address) return &a;
  ADD_FAILURE() << "no accelerator at " << address;
  return nullptr;
}

TEST(CnVendorsTest, KunlunxinXpusThroughXpuml) {
  Inventory inv = discover_cn_mix(true);
  ASSERT_EQ(inv.accelerators.size(), 8u);
  const Accelerator* a = at(inv, "0000:03:00.0");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->vendor, "kunlunxin");
  EXPECT_EQ(a->depth, "xpuml");
  EXPECT_EQ(a->model, "Kunlunxin P800");
  EXPECT_EQ(a->memory_bytes, 96ull << 30);
  EXPECT_EQ(a->uuid, "02K0010000000001");  // the serial: XPUML has no UUID
  EXPECT_EQ(a->driver_version, "5.0.21");
  EXPECT_EQ(a->index, 0);
  // The node is named by the physical id, which runs opposite to the index here.
  EXPECT_EQ(a->device_nodes, std::vector<std::string>{"/dev/xpu1"});
  EXPECT_EQ(a->state, "ok");
  const Accelerator* b = at(inv, "0000:04:00.0");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->device_nodes, std::vector<std::string>{"/dev/xpu0"});
  EXPECT_EQ(b->state, "error");  // XPUML_DEVICE_STATE_ERROR
  for (const auto& w : inv.warnings) ADD_FAILURE() << w.device << ": " << w.message;
}

TEST(CnVendorsTest, IluvatarGpusThroughIxml) {
  Inventory inv = discover_cn_mix(true);
  const Accelerator* a = at(inv, "0000:07:00.0");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->depth, "ixml");
  EXPECT_EQ(a->model, "Iluvatar BI-V150");
  EXPECT_EQ(a->memory_bytes, 32ull << 30);
  EXPECT_EQ(a->uuid, "GPU-1e3e0001-0000-4000-8000-000000000000");
  EXPECT_EQ(a->driver_version, "4.4.0");
  EXPECT_EQ(a->index, 0);
  // The node is /dev/iluvatar<minor>, and the minor is not the index.
  EXPECT_EQ(a->device_nodes, std::vector<std::string>{"/dev/iluvatar2"});
  const Accelerator* b = at(inv, "0000:08:00.0");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->state, "error");  // ixmlDeviceGetHealth: over-temperature
}

TEST(CnVendorsTest, MetaxGpusThroughMxsml) {
  Inventory inv = discover_cn_mix(true);
  const Accelerator* a = at(inv, "0000:84:00.0");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->depth, "mxsml");
  EXPECT_EQ(a->model, "MetaX C500");
  EXPECT_EQ(a->memory_bytes, 64ull << 30);  // 64 Mi KiB
  EXPECT_EQ(a->uuid, "GPU-9999-0a01-0001");
  EXPECT_EQ(a->driver_version, "2.33.0.1");
  EXPECT_EQ(a->index, 1);
  EXPECT_EQ(a->state, "ok");
  // MXSML names no nodes: the DRM nodes stand for the GPU.
  EXPECT_EQ(a->device_nodes, (std::vector<std::string>{"/dev/dri/card1", "/dev/dri/renderD129"}));
}

TEST(CnVendorsTest, HygonDcusThroughTheirRocmSmi) {
  Inventory inv = discover_cn_mix(true);
  const Accelerator* b = at(inv, "0000:88:00.0");  // its PCI id carries a partition number
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->depth, "hyhal-smi");
  EXPECT_EQ(b->model, "K100_AI");
  EXPECT_EQ(b->memory_bytes, 64ull << 30);
  EXPECT_EQ(b->uuid, "0x000000005a1d0001");
  EXPECT_EQ(b->driver_version, "6.3.13-V1.5.0");
  EXPECT_EQ(b->index, 1);
}

TEST(CnVendorsTest, WithoutTheLibrariesEveryDeviceKeepsWhatPciSaid) {
  Inventory inv = discover_cn_mix(false);
  ASSERT_EQ(inv.accelerators.size(), 8u);
  for (const auto& a : inv.accelerators) {
    EXPECT_EQ(a.depth, "generic") << a.pci.address;
    EXPECT_TRUE(a.uuid.empty()) << a.pci.address;
  }
  EXPECT_TRUE(inv.warnings.empty());
  for (auto q : {xpuml_query("/nonexistent/libxpuml.so").error().code(),
                 ixml_query("/nonexistent/libixml.so").error().code(),
                 mxsml_query("/nonexistent/libmxsml.so").error().code(),
                 hygon_smi_query("/nonexistent/librocm_smi64.so").error().code()})
    EXPECT_EQ(q, ErrorCode::kUnavailable);
}

// A library with other functions (another vendor's fake here; libupnp's libixml.so in life)
// is refused, naming what it lacks, and changes nothing.
TEST(CnVendorsTest, ALibraryWithoutTheVendorsFunctionsIsRefused) {
  auto ixml = ixml_query(FAKE_XPUML_PATH);
  ASSERT_FALSE(ixml);
  EXPECT_EQ(ixml.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(ixml.error().message().find("nvmlInit_v2"), std::string::npos);
  for (auto q :
       {xpuml_query(FAKE_IXML_PATH).error().code(), mxsml_query(FAKE_IXML_PATH).error().code(),
        hygon_smi_query(FAKE_IXML_PATH).error().code()})
    EXPECT_EQ(q, ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace aion::hw
