#include <chrono>
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "aion/diagnose/engine.h"
#include "aion/diagnose/logtime.h"
#include "aion/diagnose/matcher.h"
#include "test_util.h"

namespace aion::diagnose {
namespace {

using testing::shipped;

std::vector<std::string> ids(const std::vector<Hit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.signature->id);
  return out;
}

TEST(SignatureMatcherTest, KernelLinesMatchTheirSignatureWithDevices) {
  const Matcher& m = *shipped().matcher;
  struct Case {
    std::string line;
    std::string id;
    std::vector<std::string> devices;
  };
  std::vector<Case> cases = {
      {"[ 8123.456] NVRM: Xid (PCI:0000:07:00): 79, pid=48213, name=python3, GPU has fallen off "
       "the bus.",
       "nvidia-xid-79",
       {"pci:0000:07:00.0", "pid:48213"}},
      {"NVRM: Xid (PCI:0000:b7:00): 48, pid='<unknown>', name=<unknown>, An uncorrectable double "
       "bit error",
       "nvidia-xid-48",
       {"pci:0000:b7:00.0"}},
      {"NVRM: Xid (PCI:0000:10:1c): 63, pid=1896, Row Remapper: New row marked for remapping, "
       "reset gpu to activate.",
       "nvidia-xid-63",
       {"pci:0000:10:1c.0", "pid:1896"}},
      {"pcieport 0000:00:01.0: AER: Uncorrected (Fatal) error received: 0000:07:00.0",
       "pcie-aer-uncorrected",
       {"pci:0000:07:00.0"}},
      {"nvidia 0000:07:00.0: PCIe Bus Error: severity=Corrected, type=Physical Layer, (Receiver "
       "ID)",
       "pcie-aer-corrected",
       {"pci:0000:07:00.0"}},
      {"pci 0000:41:00.0: 63.008 Gb/s available PCIe bandwidth, limited by 8.0 GT/s PCIe x8 link "
       "at 0000:40:01.1 (capable of 252.048 Gb/s with 16.0 GT/s PCIe x16 link)",
       "pcie-link-degraded",
       {"pci:0000:41:00.0"}},
      {"mce: [Hardware Error]: Machine check events logged", "mce-hardware-error", {}},
      {"EDAC MC1: 1 UE memory read error on CPU_SrcID#0_MC#1_Chan#0_DIMM#0 (channel:0 slot:0 "
       "page:0x1234)",
       "edac-uncorrected",
       {}},
      {"EDAC MC0: 3 CE memory read error on CPU_SrcID#0_MC#0_Chan#1_DIMM#0", "edac-corrected", {}},
      {"Memory cgroup out of memory: Killed process 51234 (python3) total-vm:8123kB",
       "oom-killer",
       {"pid:51234"}},
      {"INFO: task python3:4242 blocked for more than 122 seconds.", "hung-task", {"pid:4242"}},
      {"watchdog: BUG: soft lockup - CPU#12 stuck for 23s! [kworker/12:1:345]",
       "soft-lockup",
       {"pid:345"}},
      {"NMI watchdog: Watchdog detected hard LOCKUP on cpu 5", "hard-lockup", {}},
      {"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", "rcu-stall", {}},
      {"nvme nvme1: I/O 77 QID 3 timeout, aborting", "nvme-timeout", {"disk:nvme1"}},
      {"XFS (md0): Corruption of in-memory data detected.  Shutting down filesystem",
       "xfs-error",
       {"disk:md0"}},
      {"nfs: server storage01 not responding, still trying", "nfs-not-responding", {}},
      {"igb 0000:03:00.0 eth0: igb: eth0 NIC Link is Down",
       "nic-link-down",
       {"nic:eth0", "pci:0000:03:00.0"}},
      {"mlx5_core 0000:41:00.0: mlx5_port_module_event:1097:(pid 0): Port module event[error]: "
       "module 0, Cable error, Bad or shorted cable/module",
       "infiniband-port-error",
       {"pci:0000:41:00.0"}},
      {"[E ProcessGroupNCCL.cpp:475] [Rank 3] Watchdog caught collective operation timeout: "
       "WorkNCCL(SeqNum=9)",
       "nccl-timeout",
       {}},
      {"torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
       "cuda-out-of-memory",
       {}},
  };
  for (const auto& c : cases) {
    auto hits = m.match(c.line);
    ASSERT_EQ(hits.size(), 1u) << c.line << " -> " << ::testing::PrintToString(ids(hits));
    EXPECT_EQ(hits[0].signature->id, c.id) << c.line;
    auto keys = device_keys(hits[0].captures);
    std::sort(keys.begin(), keys.end());
    auto want = c.devices;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(keys, want) << c.line;
  }
  EXPECT_TRUE(m.match("systemd[1]: Started Session 4 of user alice.").empty());
  EXPECT_TRUE(m.match("").empty());
}

TEST(SignatureMatcherTest, FallbackSignaturesOnlyCountWhenNothingSpecificMatched) {
  const Matcher& m = *shipped().matcher;
  auto unknown = m.match("NVRM: Xid (PCI:0000:07:00): 154, GPU recovery action changed");
  ASSERT_EQ(ids(unknown), std::vector<std::string>{"nvidia-xid-other"});
  EXPECT_EQ(unknown[0].captures.at("xid"), "154");
  EXPECT_EQ(ids(m.match("RuntimeError: CUDA error: an illegal memory access was encountered")),
            std::vector<std::string>{"cuda-illegal-address"});
  EXPECT_EQ(ids(m.match("RuntimeError: CUDA error: unspecified launch failure")),
            std::vector<std::string>{"cuda-error"});
}

TEST(SignatureMatcherTest, PciAddressesAreNormalisedToTheSysfsForm) {
  EXPECT_EQ(normalize_pci("PCI:0000:07:00"), "0000:07:00.0");
  EXPECT_EQ(normalize_pci("00000000:B7:00.0"), "0000:b7:00.0");
  EXPECT_EQ(normalize_pci("07:00.1"), "0000:07:00.1");
  EXPECT_EQ(device_keys({{"disk", "nvme0n1p2"}}),
            (std::vector<std::string>{"disk:nvme0n1p2", "disk:nvme0"}));
}

TEST(DiagnoseLogTimeTest, ReadsIsoSyslogAndDmesgTimestamps) {
  Clock::Wall boot = testing::at(0, 0, 0);
  EXPECT_EQ(parse_log_time("2026-11-30T10:12:41+00:00 host kernel: x", 2026, boot),
            testing::at(10, 12, 41));
  EXPECT_EQ(parse_log_time("2026-11-30T11:12:41+01:00 host kernel: x", 2026, boot),
            testing::at(10, 12, 41));
  EXPECT_EQ(parse_log_time("Nov 30 10:12:41 host kernel: x", 2026, boot), testing::at(10, 12, 41));
  EXPECT_EQ(parse_log_time("[  61.500000] nvme nvme0: x", 2026, boot),
            boot + std::chrono::milliseconds(61500));
  EXPECT_FALSE(parse_log_time("no time here", 2026, boot));
}

// Found by the fuzz test under UBSan: text shaped like a timestamp but beyond what the clock
// holds (nanoseconds since 1970 end in 2262) overflowed the conversion.
TEST(DiagnoseLogTimeTest, TimestampsTheClockCannotHoldAreNotTimestamps) {
  Clock::Wall boot = testing::at(0, 0, 0);
  EXPECT_FALSE(parse_log_time("4026-11-30T10:12:41+00:00 x", 2026, boot));
  EXPECT_FALSE(parse_log_time("2026-13-30T10:12:41+00:00 x", 2026, boot));
  EXPECT_FALSE(parse_log_time("[64909937561123.5] x", 2026, boot));
  EXPECT_FALSE(parse_log_time("[1e300] x", 2026, boot));
  EXPECT_FALSE(parse_log_time("[nan] x", 2026, boot));
  EXPECT_FALSE(parse_log_time("[-5.0] x", 2026, boot));
  EXPECT_FALSE(parse_log_time("Nov 30 10:12:41 x", 9999, boot));
}

// Throughput of the matcher on a mixed kernel log: printed (and written for the README's
// figure), never asserted.
TEST(SignatureMatcherTest, ThroughputIsMeasured) {
  const Matcher& m = *shipped().matcher;
  std::vector<std::string> lines;
  std::ifstream in(testing::fixture_path("logs/gpu_fault.log"));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  // Mostly lines that match nothing, as in a real kernel log.
  for (int i = 0; i < 40; ++i)
    lines.push_back("2026-11-30T10:00:0" + std::to_string(i % 10) +
                    "+00:00 dgx01 kernel: usb 1-1: new high-speed USB device number " +
                    std::to_string(i) + " using xhci_hcd");
  std::size_t hits = 0, n = 0;
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300)) {
    for (const auto& l : lines) hits += m.match(l).size();
    n += lines.size();
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("matcher: %zu patterns, %.0f lines/s (%zu hits)\n", m.pattern_count(), n / s, hits);
  EXPECT_GT(hits, 0u);
}

}  // namespace
}  // namespace aion::diagnose
