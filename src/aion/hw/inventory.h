// The machine as aion sees it: CPUs, NUMA nodes, memory, accelerators, NICs and NVMe
// devices, with where each sits on the PCI tree. Plain values; built by discover()
// (discovery.h) and turned into JSON by to_json() (inventory_json.h). Everything that places
// work reads the machine through this model. Plain values: thread-safe to read, and an
// Inventory is shared as const once built.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aion::hw {

struct CacheInfo {
  int level = 0;
  std::string type;  // "Data", "Instruction", "Unified"
  std::uint64_t size_bytes = 0;
  int instances = 0;  // how many of them in the machine
};

// One kind of core of a hybrid CPU (Intel performance and efficiency cores, Arm big.LITTLE).
struct CpuKind {
  std::string name;       // "performance", "efficiency", or "kind<N>" for those in between
  std::string cpus;       // cpulist of the logical CPUs of this kind
  int efficiency = 0;     // rank among the kinds: 0 is the most energy-efficient
  std::string core_type;  // "IntelCore", "IntelAtom" when the platform names it
  int max_mhz = 0;        // 0: not known
};

struct CpuInfo {
  std::string vendor;
  std::string model;
  std::string architecture;  // "x86_64", "aarch64", "ppc64le"; "" when unknown
  int sockets = 0;
  int cores = 0;    // physical cores, all sockets
  int threads = 0;  // logical CPUs online
  std::vector<CacheInfo> caches;
  std::vector<CpuKind> kinds;  // empty unless the CPU has cores of several kinds
};

struct HugePages {
  std::uint64_t page_size_kb = 0;
  std::uint64_t total = 0;
  std::uint64_t free = 0;
};

struct NumaNode {
  int id = 0;
  std::string cpus;  // its own CPUs as a cpulist, "0-15,64-79"; "" for a memory-only node
  std::uint64_t memory_bytes = 0;
  // What its memory is, as the platform says: "DRAM", "HBM", "NVM", "SPM", "GPUMemory",
  // "CXL-DRAM"; "" when it does not say.
  std::string kind;
  // For a node without CPUs: the node with CPUs it sits beside (same place in the topology,
  // the node its device is local to, else the nearest by distance); -1 otherwise.
  int near_node = -1;
  // For a device's own memory (GPU memory over NVLink2 or NVLink-C2C): the device's PCI
  // address; "" otherwise.
  std::string device;
  std::vector<int> distances;  // to every node, in node order
  std::vector<HugePages> hugepages;
};

struct MemoryInfo {
  std::uint64_t total_bytes = 0;
  std::uint64_t available_bytes = 0;
  std::vector<HugePages> hugepages;
};

// Where a device hangs: its host bridge ("pci0000:00") and the bridges from the root port
// down to it (PCI addresses), used for the topology matrix.
struct PciLocation {
  std::string address;      // "0000:07:00.0"
  std::string host_bridge;  // "pci0000:00"
  std::vector<std::string> bridges;
  int numa_node = -1;        // -1: the platform does not say
  std::string cpu_affinity;  // local_cpulist
  std::uint32_t vendor_id = 0;
  std::uint32_t device_id = 0;
  std::uint32_t class_code = 0;  // 0x030200 ...
  std::string driver;            // bound kernel driver, "" when none
  // PCIe link as sysfs reports it ("16.0 GT/s PCIe", lanes); "" and 0 when it does not.
  std::string link_speed;
  int link_width = 0;
  std::string max_link_speed;
  int max_link_width = 0;
};

// A direct link between two accelerators (NVLink, XGMI) or to a switch fabric.
struct Link {
  std::string kind;  // "nvlink" | "xgmi"
  std::string peer;  // PCI address of the peer accelerator, or "nvswitch"
  int count = 0;     // active links to that peer
};

struct Accelerator {
  int index = 0;  // order within its vendor (what CUDA_VISIBLE_DEVICES uses)
  // The card's place on its board when the vendor numbers devices that way (Gaudi's module
  // id, what HABANA_VISIBLE_MODULES takes); -1 otherwise.
  int module_id = -1;
  // The vendor's key in data/hw/accelerators.toml ("nvidia", "amd", "huawei", "nec-ve"), or
  // "generic" for a compute function of a vendor the table does not list.
  std::string vendor;
  std::string vendor_name;        // "NVIDIA", or the PCI database's name of the vendor
  std::string kind = "gpu";       // "gpu", "npu", "vector", "accelerator", ...
  std::string depth = "generic";  // what was read beyond PCI: "nvml", "amdgpu-sysfs", ...
  std::string model;
  int cores = 0;  // compute cores when the vendor reports them (NEC VE), else 0
  // pci.numa_node is the node with CPUs the device is local to. A device whose memory is a
  // NUMA node of its own (GPU memory over NVLink) has that node here; -1 otherwise.
  PciLocation pci;
  int memory_node = -1;
  std::uint64_t memory_bytes = 0;
  std::string driver_version;
  std::string compute_capability;  // NVIDIA "8.0"
  std::string gfx_target;          // AMD "gfx90a"
  std::string uuid;
  std::string partition_mode;  // NVIDIA MIG "enabled"/"disabled"; "" when none
  std::vector<Link> links;
  // The device nodes that give access to this accelerator alone ("/dev/nvidia3",
  // "/dev/dri/renderD130"); vendor-wide control nodes (/dev/nvidiactl, /dev/kfd) are not listed.
  std::vector<std::string> device_nodes;
  std::string source;        // "nvml", "sysfs", "kfd", "simulated"
  std::string state = "ok";  // "ok" | "lost" (fell off the bus) | "error"
  bool simulated = false;
};

struct Nic {
  std::string name;  // "ens1f0"
  PciLocation pci;
  std::int64_t speed_mbps = -1;  // -1: link down or unknown
  std::string state;             // operstate
  std::string mac;
  bool rdma = false;
  std::string rdma_device;  // "mlx5_0"
};

struct NvmeDevice {
  std::string name;  // "nvme0"
  std::string model;
  std::string serial;
  std::string firmware;
  std::uint64_t size_bytes = 0;  // sum of its namespaces
  PciLocation pci;
};

// A block device that holds data (no loop, ram, zram or device-mapper devices).
struct Disk {
  std::string name;  // "nvme0n1", "sda", "vda"
  std::string model;
  std::uint64_t size_bytes = 0;
  bool rotational = false;
  std::string transport;  // "nvme", "virtio", "scsi", ...
  PciLocation pci;        // the controller it hangs below, when on PCI
};

// Something that could not be read: the device and the cause. Discovery goes on.
struct Warning {
  std::string device;
  std::string message;
};

struct Inventory {
  std::string hostname;
  std::string kernel;
  CpuInfo cpu;
  std::vector<NumaNode> numa_nodes;
  MemoryInfo memory;
  std::vector<Accelerator> accelerators;
  std::vector<Nic> nics;
  std::vector<NvmeDevice> nvme;
  std::vector<Disk> disks;
  std::vector<PciLocation> pci;  // every PCI function, sorted by address
  std::vector<Warning> warnings;
};

}  // namespace aion::hw
