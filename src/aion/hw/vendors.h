// What aion knows about accelerator makers, read from data/hw/accelerators.toml: which PCI
// classes compute, and per vendor its PCI ids, the kind of device it makes, what aion reads
// beyond PCI (its "depth"), the device nodes to isolate and the variable a job's runtime
// reads to see only some devices. Classification of a PCI function is a pure lookup here, so
// a new vendor is a new row in the file, not new code. A VendorTable is a value: const
// members only read, thread-safe once built; shipped_vendor_table() loads the shipped file
// once (a function-local static) and is safe to call from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion {
class DataFile;
}

namespace aion::hw {

// A PCI class pattern: the base class alone (0x12: any subclass) or base<<8|sub (0x0302).
struct PciClassPattern {
  std::uint32_t value = 0;
  bool base_only = false;

  bool matches(std::uint32_t class_code) const;  // class_code is the 24-bit sysfs "class"
};

struct ComputeClass {
  PciClassPattern pattern;
  std::vector<PciClassPattern> except;
  std::string name;                 // "processing accelerator"
  std::string kind;                 // a device of this class from a vendor with no row
  bool known_vendors_only = false;  // display classes: only when the vendor has a row
};

struct NetworkClass {
  PciClassPattern pattern;
  std::string name;  // "InfiniBand controller"
};

struct VendorInfo {
  std::string id;    // "nvidia", "huawei", "nec-ve"
  std::string name;  // "NVIDIA"
  std::vector<std::uint32_t> pci_vendor_ids;
  std::vector<PciClassPattern> pci_classes;   // empty: any compute class
  std::vector<std::uint32_t> pci_device_ids;  // empty: any device
  std::string kind;                           // "gpu", "npu", "vector", ...
  std::string depth;  // "nvml", "amdgpu-sysfs", "ve-sysfs", ... or "generic"
  std::string library;
  std::string sysfs;
  std::vector<std::string> drivers;
  // Per-device nodes: "{index}" and "{minor}" are replaced, "drm" stands for the function's
  // DRM card and render nodes.
  std::vector<std::string> device_nodes;
  std::vector<std::string> shared_nodes;
  std::string visible_env;  // "CUDA_VISIBLE_DEVICES"; "" when none is known
  std::string visible_by;   // "index", "uuid", "module_id"
  std::string smi;
};

class VendorTable {
 public:
  // Parses the text of an accelerators.toml named `source` in messages (kCorrupt on errors,
  // naming file, line and field).
  static Result<VendorTable> parse(std::string_view text, const std::string& source);
  static Result<VendorTable> load(const std::filesystem::path& file);

  // The row that covers a PCI function (vendor id, then the row's class and device filters),
  // or nullptr.
  const VendorInfo* vendor_of(const PciLocation& p) const;
  // The kind of compute function `p` is ("gpu", "npu", "accelerator", ...), "" when it does
  // not compute.
  std::string compute_kind(const PciLocation& p) const;
  // The network class's name ("InfiniBand controller"), "" when `p` is not a network adapter.
  std::string network_class(const PciLocation& p) const;
  // The row with this id, or nullptr.
  const VendorInfo* find(std::string_view id) const;

  const std::vector<VendorInfo>& vendors() const { return vendors_; }
  const std::vector<ComputeClass>& compute_classes() const { return compute_; }
  const std::string& as_of() const { return as_of_; }

 private:
  static Result<VendorTable> from(const DataFile& file);

  std::vector<ComputeClass> compute_;
  std::vector<NetworkClass> network_;
  std::vector<VendorInfo> vendors_;
  std::string as_of_;
};

std::filesystem::path default_vendor_table_file();  // data_dir()/hw/accelerators.toml

// The shipped table, loaded on first use; the error says why it could not be read.
const Result<VendorTable>& shipped_vendor_table();

}  // namespace aion::hw
