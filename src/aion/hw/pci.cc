#include "aion/hw/pci.h"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "aion/core/cpu_list.h"

extern "C" {
#include <pci/pci.h>
}

namespace aion::hw {
namespace {

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
}

bool looks_like_pci_address(std::string_view s) {
  // dddd:bb:dd.f, with a domain of 4 to 8 hex digits (wider than 16 bits on large servers
  // and some virtual machines: "10000:00:04.0").
  if (s.size() < 12 || s.size() > 16) return false;
  std::size_t d = s.size() - 8;
  return s[d] == ':' && s[d + 3] == ':' && s[d + 6] == '.' && is_hex(s.substr(0, d)) &&
         is_hex(s.substr(d + 1, 2)) && is_hex(s.substr(d + 4, 2)) && is_hex(s.substr(d + 7, 1));
}

// Splits "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0" into the host
// bridge and the chain of PCI addresses.
void split_chain(const std::string& real, PciLocation& loc) {
  std::size_t pos = real.find("/pci");
  if (pos == std::string::npos) return;
  std::string rest = real.substr(pos + 1);
  std::size_t slash = rest.find('/');
  loc.host_bridge = rest.substr(0, slash);
  std::vector<std::string> chain;
  while (slash != std::string::npos) {
    std::size_t next = rest.find('/', slash + 1);
    std::string part =
        rest.substr(slash + 1, next == std::string::npos ? std::string::npos : next - slash - 1);
    if (looks_like_pci_address(part)) chain.push_back(part);
    slash = next;
  }
  if (!chain.empty()) chain.pop_back();  // the device itself
  loc.bridges = std::move(chain);
}

// A missing or unreadable pci.ids only costs us names; libpci must not print about it.
// (pci_init, which would install its own handlers, is not called; see below.)
void ignore_libpci_message(char*, ...) {}

}  // namespace

Result<PciLocation> read_pci_location(const HostFs& fs, const std::string& address) {
  std::string dev = "/sys/bus/pci/devices/" + address;
  auto real = fs.real_path(dev);
  if (!real) return std::unexpected(real.error());
  PciLocation loc;
  loc.address = address;
  split_chain(*real, loc);
  auto vendor = fs.read_int(dev + "/vendor");
  auto device = fs.read_int(dev + "/device");
  auto cls = fs.read_int(dev + "/class");
  if (!vendor || !device || !cls) {
    const Error& e = !vendor ? vendor.error() : !device ? device.error() : cls.error();
    return std::unexpected(e);
  }
  loc.vendor_id = static_cast<std::uint32_t>(*vendor);
  loc.device_id = static_cast<std::uint32_t>(*device);
  loc.class_code = static_cast<std::uint32_t>(*cls);
  if (auto numa = fs.read_int(dev + "/numa_node")) loc.numa_node = static_cast<int>(*numa);
  if (auto cpus = fs.read_attr(dev + "/local_cpulist")) {
    loc.cpu_affinity = *cpus;
  } else if (auto mask = fs.read_attr(dev + "/local_cpus")) {
    // Older kernels (and some trees) have only the mask.
    if (auto ids = parse_cpu_mask(*mask)) loc.cpu_affinity = format_cpu_list(*ids);
  }
  // Functions that are not PCIe (or a kernel that does not say) have no link files.
  if (auto v = fs.read_attr(dev + "/current_link_speed")) loc.link_speed = *v;
  if (auto v = fs.read_attr(dev + "/max_link_speed")) loc.max_link_speed = *v;
  if (auto v = fs.read_int(dev + "/current_link_width")) loc.link_width = static_cast<int>(*v);
  if (auto v = fs.read_int(dev + "/max_link_width")) loc.max_link_width = static_cast<int>(*v);
  if (auto drv = fs.read_link(dev + "/driver")) {
    auto slash = drv->rfind('/');
    loc.driver = slash == std::string::npos ? *drv : drv->substr(slash + 1);
  }
  return loc;
}

std::vector<PciDevice> list_pci_devices(const HostFs& fs, std::vector<Warning>& warnings) {
  std::vector<PciDevice> out;
  auto names = fs.list("/sys/bus/pci/devices");
  if (!names) {
    // A machine without a PCI bus (many ARM systems-on-chip) has no such directory.
    if (names.error().code() != ErrorCode::kNotFound)
      warnings.push_back({"pci", "cannot list PCI devices: " + names.error().message()});
    return out;
  }
  for (const auto& name : *names) {
    auto loc = read_pci_location(fs, name);
    if (!loc) {
      warnings.push_back({name, loc.error().message()});
      continue;
    }
    PciDevice d;
    d.location = std::move(*loc);
    d.sysfs_path = "/sys/bus/pci/devices/" + name;
    out.push_back(std::move(d));
  }
  return out;
}

std::string pci_address_of(const HostFs& fs, const std::string& device_link) {
  auto real = fs.real_path(device_link);
  if (!real) return "";
  // The nearest PCI function above the device: virtio and USB devices sit below one.
  std::string path = *real;
  while (!path.empty()) {
    auto slash = path.rfind('/');
    std::string last = path.substr(slash + 1);
    if (looks_like_pci_address(last)) return last;
    if (slash == 0 || slash == std::string::npos) break;
    path.resize(slash);
  }
  return "";
}

namespace {

std::mutex g_names_mu;  // guards names_access() and libpci's name cache behind it

// libpci's name database, opened on first use; null when libpci cannot allocate one.
pci_access* names_access() {
  static pci_access* access = nullptr;
  static bool tried = false;
  if (!tried) {
    tried = true;
    // Only the name database is used, so no access method is initialised (pci_init would
    // probe the real bus, which a recorded tree does not have).
    access = pci_alloc();
    if (access) {
      access->warning = ignore_libpci_message;
      access->debug = ignore_libpci_message;
      access->error = ignore_libpci_message;
    }
  }
  return access;
}

}  // namespace

std::string pci_device_name(std::uint32_t vendor, std::uint32_t device) {
  std::lock_guard lock(g_names_mu);
  pci_access* access = names_access();
  if (!access) return "";
  char buf[256];
  char* name = pci_lookup_name(access, buf, sizeof(buf),
                               PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB,
                               static_cast<int>(vendor), static_cast<int>(device));
  return name ? std::string(name) : "";
}

std::string pci_vendor_name(std::uint32_t vendor) {
  std::lock_guard lock(g_names_mu);
  pci_access* access = names_access();
  if (!access) return "";
  char buf[256];
  char* name = pci_lookup_name(access, buf, sizeof(buf),
                               PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB,
                               static_cast<int>(vendor));
  return name ? std::string(name) : "";
}

}  // namespace aion::hw
