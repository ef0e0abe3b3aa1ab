// gres.conf and NodeName lines from the generated machines, and reading gres.conf back.
#include "aion/cluster/slurm_gres.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "aion/core/host_fs.h"
#include "aion/hw/discovery.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::cluster {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return ::aion::testing::fixture_path("hw/" + name).string();
}

// Discovers a generated machine; with_nvml answers NVIDIA GPUs from the fake NVML and the
// fixture's nvml.json (NVLink counts come only from NVML), else from sysfs alone.
hw::Inventory machine(const std::string& name, bool with_nvml = false) {
  if (with_nvml) {
    ::setenv("AION_NVML_LIBRARY", FAKE_NVML_PATH, 1);
    ::setenv("AION_FAKE_NVML", (fixture(name) + "/nvml.json").c_str(), 1);
  } else {
    ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    ::unsetenv("AION_FAKE_NVML");
  }
  return hw::discover(HostFs(fixture(name) + "/root"), {});
}

struct Lines {
  std::string gres;
  std::string node;
};

Lines lines(const std::string& name, bool with_nvml = false) {
  hw::Inventory inv = machine(name, with_nvml);
  auto cores = read_core_map(HostFs(fixture(name) + "/root"));
  EXPECT_TRUE(cores) << cores.error().message();
  auto devices = gres_devices(inv, *cores, {});
  EXPECT_TRUE(devices) << devices.error().message();
  return {format_gres_conf(*devices, "n1"), format_node_line(inv, *devices, "n1")};
}

constexpr const char* kHeader =
    "# gres.conf written by `aion slurm gres` from the discovered topology.\n"
    "# Cores= are Slurm core indices (socket by socket, one per physical core);\n"
    "# Links= count NVLink/XGMI links to each device in this file's order (-1: itself).\n";

// 1 socket x 8 cores x 2 threads, 64 GiB; both RTX 4090 are local to all 16 CPUs, so Cores=
// is left out (it would name every core), and sysfs alone knows no NVLink, so no Links=.
TEST(SlurmGresTest, WorkstationHasTwoUnpinnedGpus) {
  Lines l = lines("workstation");
  EXPECT_EQ(l.gres, std::string(kHeader) +
                        "NodeName=n1 Name=gpu Type=rtx_4090 File=/dev/nvidia0\n"
                        "NodeName=n1 Name=gpu Type=rtx_4090 File=/dev/nvidia1\n");
  EXPECT_EQ(l.node,
            "NodeName=n1 CPUs=16 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=2 "
            "RealMemory=65536 Gres=gpu:rtx_4090:2\n");
}

// 2 sockets x 8 cores x 2 threads. Linux numbers CPU = thread*16 + socket*8 + core, so GPU 0's
// local_cpulist 0-3,16-19 is socket 0's cores 0-3 with their hyperthreads: Slurm cores 0-3.
// GPU 4's 8-11,24-27 is socket 1's cores 0-3: Slurm numbers socket 1's cores after socket 0's
// eight, so 8-11. 1 TiB = 1048576 MiB.
TEST(SlurmGresTest, DgxA100CoresAreSlurmCoreIndicesNotCpuIds) {
  Lines l = lines("dgx-a100");
  std::string expected = kHeader;
  const char* cores[] = {"0-3", "0-3", "4-7", "4-7", "8-11", "8-11", "12-15", "12-15"};
  for (int i = 0; i < 8; ++i) {
    expected += "NodeName=n1 Name=gpu Type=a100_sxm4_80gb File=/dev/nvidia" + std::to_string(i) +
                " Cores=" + cores[i] + "\n";
  }
  EXPECT_EQ(l.gres, expected);
  EXPECT_EQ(l.node,
            "NodeName=n1 CPUs=32 Boards=1 SocketsPerBoard=2 CoresPerSocket=8 ThreadsPerCore=2 "
            "RealMemory=1048576 Gres=gpu:a100_sxm4_80gb:8\n");
}

// With NVML, each A100 has 12 NVLinks into the NVSwitch fabric: every pair is connected by
// 12 links (as `aion hw topo` shows NV12), and -1 marks the device itself.
TEST(SlurmGresTest, DgxA100WithNvmlListsTwelveLinksToEveryPeer) {
  Lines l = lines("dgx-a100", /*with_nvml=*/true);
  EXPECT_NE(l.gres.find("NodeName=n1 Name=gpu Type=a100_sxm4_80gb File=/dev/nvidia0 Cores=0-3 "
                        "Links=-1,12,12,12,12,12,12,12\n"),
            std::string::npos)
      << l.gres;
  EXPECT_NE(l.gres.find("File=/dev/nvidia5 Cores=8-11 Links=12,12,12,12,12,-1,12,12\n"),
            std::string::npos)
      << l.gres;
}

// 8 MI250X GCDs, each with one XGMI link to each other GCD, on one socket of 16 cores.
TEST(SlurmGresTest, Mi250xUsesDrmNodesAndXgmiLinks) {
  Lines l = lines("mi250x");
  EXPECT_NE(l.gres.find("NodeName=n1 Name=gpu Type=mi250x File=/dev/dri/card0 Cores=12-15 "
                        "Links=-1,1,1,1,1,1,1,1\n"),
            std::string::npos)
      << l.gres;
  EXPECT_EQ(l.node,
            "NodeName=n1 CPUs=32 Boards=1 SocketsPerBoard=1 CoresPerSocket=16 ThreadsPerCore=2 "
            "RealMemory=524288 Gres=gpu:mi250x:8\n");
}

TEST(SlurmGresTest, CpuOnlyVmHasNoGresAndNoGresField) {
  Lines l = lines("cpu-vm");
  EXPECT_EQ(l.gres, std::string(kHeader) + "# no GPU found on this node\n");
  EXPECT_EQ(l.node,
            "NodeName=n1 CPUs=4 Boards=1 SocketsPerBoard=1 CoresPerSocket=4 ThreadsPerCore=1 "
            "RealMemory=16384\n");
}

TEST(SlurmGresTest, TypeComesFromTheMarketingName) {
  EXPECT_EQ(gpu_type("GA100 [A100 SXM4 80GB]"), "a100_sxm4_80gb");
  EXPECT_EQ(gpu_type("NVIDIA A100-SXM4-80GB"), "a100_sxm4_80gb");
  EXPECT_EQ(gpu_type("AD102 [GeForce RTX 4090]"), "rtx_4090");
  EXPECT_EQ(gpu_type("Aldebaran/MI200 [Instinct MI250X/MI250]"), "mi250x");
  EXPECT_EQ(gpu_type("Tesla V100-SXM2-32GB"), "v100_sxm2_32gb");
}

TEST(SlurmGresTest, MissingDeviceNodeIsAnErrorNamingGpuAndPath) {
  hw::Inventory inv = machine("workstation");
  auto cores = read_core_map(HostFs(fixture("workstation") + "/root"));
  ASSERT_TRUE(cores);
  const ::aion::testing::TempDir tmp("slurm-dev");
  const fs::path dir = tmp.path();
  auto d = gres_devices(inv, *cores,
                        {.dev_dir = dir.string(), .check_root = "/", .check_devices = true});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(d.error().message().find("GPU 0 (0000:01:00.0): device node " + dir.string() +
                                     "/nvidia0 does not exist"),
            std::string::npos)
      << d.error().message();
  // A regular file is not a device node either.
  std::ofstream(dir / "nvidia0") << "";
  d = gres_devices(inv, *cores,
                   {.dev_dir = dir.string(), .check_root = "/", .check_devices = true});
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("is not a character device"), std::string::npos);
  fs::remove(dir / "nvidia0");
  if (::geteuid() == 0) {
    ASSERT_EQ(::mknod((dir / "nvidia0").c_str(), S_IFCHR | 0600, ::makedev(195, 0)), 0);
    ASSERT_EQ(::mknod((dir / "nvidia1").c_str(), S_IFCHR | 0600, ::makedev(195, 1)), 0);
    d = gres_devices(inv, *cores,
                     {.dev_dir = dir.string() + "/", .check_root = "/", .check_devices = true});
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ((*d)[1].file, dir.string() + "/nvidia1");
  }
}

TEST(SlurmGresTest, ParsesGresConfForThisNodeWithRanges) {
  const std::string text =
      "# site gres.conf\n"
      "AutoDetect=off\n"
      "NodeName=gpu[01-04] Name=gpu Type=a100 File=/dev/nvidia[0-1] Cores=0-3 Links=-1,12\n"
      "NodeName=gpu[05-08] Name=gpu Type=h100 File=/dev/nvidia0\n"
      "Name=mps Count=200   # not a GPU\n"
      "name=gpu type=a100 file=/dev/nvidia2\n";
  auto d = parse_gres_conf(text, "gres.conf", "gpu03");
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ((*d)[0].file, "/dev/nvidia0");
  EXPECT_EQ((*d)[1].file, "/dev/nvidia1");
  EXPECT_EQ((*d)[1].line, 3);
  EXPECT_EQ((*d)[1].cores, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ((*d)[1].links, (std::vector<int>{-1, 12}));
  EXPECT_EQ((*d)[2].file, "/dev/nvidia2");
  EXPECT_EQ((*d)[2].line, 6);
}

TEST(SlurmGresTest, MalformedLineNamesFileLineAndField) {
  auto err = [](const std::string& text) {
    auto d = parse_gres_conf(text, "/etc/slurm/gres.conf", "n1");
    EXPECT_FALSE(d);
    return d ? std::string() : d.error().message();
  };
  EXPECT_EQ(err("Name=gpu File=/dev/nvidia0\n\nName=gpu File=/dev/nvidia1 Cores=0-x\n"),
            "/etc/slurm/gres.conf:3: field 'Cores': '0-x' is not a list of numbers and ranges "
            "(e.g. 0-3,8)");
  EXPECT_EQ(err("Name=gpu Fiel=/dev/nvidia0\n"),
            "/etc/slurm/gres.conf:1: field 'Fiel': unknown field (gres.conf knows NodeName, Name, "
            "Type, File, Cores, Count, Links, Flags, AutoDetect, MultipleFiles)");
  EXPECT_EQ(err("Name=gpu File\n"),
            "/etc/slurm/gres.conf:1: field 'File': expected Key=Value (e.g. File=/dev/nvidia0)");
  EXPECT_EQ(err("Type=a100 File=/dev/nvidia0\n"),
            "/etc/slurm/gres.conf:1: field 'Name': missing (e.g. Name=gpu)");
  EXPECT_EQ(err("Name=gpu File=dev/nvidia0\n"),
            "/etc/slurm/gres.conf:1: field 'File': must be an absolute path");
  EXPECT_EQ(err("Name=gpu File=/dev/nvidia[0-1 \n"),
            "/etc/slurm/gres.conf:1: field 'File': '/dev/nvidia[0-1' has '[' without ']'");
  EXPECT_EQ(err("Name=gpu Links=-1,x\n"),
            "/etc/slurm/gres.conf:1: field 'Links': 'x' is not a link count");
}

TEST(SlurmGresTest, HostlistsExpandTheirRanges) {
  auto h = expand_hostlist("n[01-03,7],m");
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, (std::vector<std::string>{"n01", "n02", "n03", "n7", "m"}));
  EXPECT_FALSE(expand_hostlist("n[3-1]"));
}

}  // namespace
}  // namespace aion::cluster
