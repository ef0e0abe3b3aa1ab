// Shared test support for aion tune: a private copy of tests/fixtures/tune/host per test, a
// byte-for-byte picture of a tree, the shipped catalog and ranges, and the inventory that
// matches the fixture (2 NUMA nodes, a NIC on node 0, a GPU on node 1's PCIe root).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"
#include "aion/tune/apply.h"
#include "aion/tune/plan.h"
#include "aion/tune/profile.h"
#include "aion/tune/snapshot.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::tune::testing {

namespace fs = std::filesystem;

// Every file's content (symlinks as "-> target", directories as "<dir>"), by relative path.
inline std::map<std::string, std::string> tree_picture(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    std::string rel = fs::relative(it->path(), root).string();
    if (it->is_symlink()) {
      out[rel] = "-> " + fs::read_symlink(it->path()).string();
      it.disable_recursion_pending();
    } else if (it->is_directory()) {
      out[rel] = "<dir>";
    } else {
      std::ifstream in(it->path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      out[rel] = ss.str();
    }
  }
  return out;
}

inline hw::Inventory fixture_inventory() {
  hw::Inventory inv;
  inv.cpu.threads = 4;
  inv.cpu.sockets = 2;
  hw::NumaNode n0, n1;
  n0.id = 0;
  n0.cpus = "0-1";
  n1.id = 1;
  n1.cpus = "2-3";
  inv.numa_nodes = {n0, n1};
  hw::Nic nic;
  nic.name = "ens1f0";
  nic.pci.address = "0000:17:00.0";
  nic.pci.host_bridge = "pci0000:16";
  nic.pci.numa_node = 0;
  nic.pci.cpu_affinity = "0-1";
  inv.nics.push_back(nic);
  hw::Accelerator gpu;
  gpu.vendor = "nvidia";
  gpu.model = "A100";
  gpu.pci.address = "0000:18:00.0";
  gpu.pci.host_bridge = "pci0000:16";
  gpu.pci.numa_node = 1;
  inv.accelerators.push_back(gpu);
  return inv;
}

inline KernelRanges shipped_ranges() {
  auto r = KernelRanges::load(fs::path(AION_SOURCE_DIR) / "data/tune/kernel_ranges.toml");
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : KernelRanges();
}

inline ProfileCatalog shipped_catalog(const HostFs& host) {
  auto c = ProfileCatalog::load(fs::path(AION_SOURCE_DIR) / "data/profiles", host);
  EXPECT_TRUE(c) << (c ? "" : c.error().message());
  return c ? *c : ProfileCatalog();
}

class TuneFixture : public ::testing::Test {
 protected:
  void SetUp() override { ::aion::testing::copy_fixture("tune/host", root_); }

  HostFs host() const { return HostFs(root_); }
  SnapshotStore store() const { return SnapshotStore(snapshot_dir(state_)); }

  Result<Plan> plan_for(const ResolvedProfile& p) const {
    return make_plan(p, host(), fixture_inventory(), ranges_);
  }
  // A one-file profile from TOML text (written as profile "t").
  Result<ResolvedProfile> profile_from(const std::string& toml) const {
    auto p = parse_profile(toml, "test.toml");
    if (!p) return std::unexpected(p.error());
    auto c = ProfileCatalog::from({*p});
    return c->resolve(p->name);
  }
  std::string read(const std::string& rel) const {
    std::ifstream in(root_ / rel, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  ::aion::testing::TempDir tmp_{"tune"};
  fs::path base_ = tmp_.path(), root_ = base_ / "host", state_ = base_ / "state";
  KernelRanges ranges_ = shipped_ranges();
};

}  // namespace aion::tune::testing
