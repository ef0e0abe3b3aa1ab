#include "aion/hw/amd.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "aion/hw/pci.h"

namespace aion::hw {
namespace {

// DRM cards: VRAM and unique id.
void read_drm_cards(const HostFs& fs, Inventory& inv, const std::vector<Accelerator*>& amd) {
  std::string version;
  if (auto v = fs.read_attr("/sys/module/amdgpu/version")) version = *v;
  auto cards = fs.list("/sys/class/drm");
  if (!cards) return;
  for (const auto& c : *cards) {
    if (c.rfind("card", 0) != 0 || c.find('-') != std::string::npos) continue;
    std::string addr = pci_address_of(fs, "/sys/class/drm/" + c + "/device");
    for (auto* a : amd) {
      if (a->pci.address != addr) continue;
      std::string dev = "/sys/class/drm/" + c + "/device";
      if (auto vram = fs.read_int(dev + "/mem_info_vram_total")) {
        a->memory_bytes = static_cast<std::uint64_t>(*vram);
      } else if (fs.exists(dev + "/mem_info_vram_total")) {
        inv.warnings.push_back({a->pci.address, "unreadable VRAM size: " + vram.error().message()});
      }
      if (auto uid = fs.read_attr(dev + "/unique_id")) a->uuid = *uid;
      a->driver_version = version;
    }
  }
}

// The XGMI links of KFD node `n` to the GPU nodes in `node_to_pci`.
void read_xgmi_links(const HostFs& fs, const std::string& kfd, const std::string& n,
                     const std::map<std::string, std::string>& node_to_pci, Accelerator& acc) {
  auto links = fs.list(kfd + "/" + n + "/io_links");
  if (!links) return;
  for (const auto& l : *links) {
    auto text = fs.read(kfd + "/" + n + "/io_links/" + l + "/properties");
    if (!text) continue;
    auto kv = parse_kfd_properties(*text);
    // CRAT io-link type 11 is XGMI.
    if (kv["type"] != "11") continue;
    auto peer = node_to_pci.find(kv["node_to"]);
    if (peer == node_to_pci.end()) continue;
    acc.links.push_back({"xgmi", peer->second, 1});
  }
}

// KFD topology: gfx target and XGMI links.
void read_kfd(const HostFs& fs, Inventory& inv, const std::vector<Accelerator*>& amd) {
  const std::string kfd = "/sys/class/kfd/kfd/topology/nodes";
  auto nodes = fs.list(kfd);
  if (!nodes) {
    inv.warnings.push_back({"amd", "no KFD topology (" + nodes.error().message() +
                                       "): gfx target and XGMI links unknown"});
    return;
  }
  std::map<std::string, std::string> node_to_pci;
  std::map<std::string, std::map<std::string, std::string>> props;
  for (const auto& n : *nodes) {
    auto text = fs.read(kfd + "/" + n + "/properties");
    if (!text) {
      inv.warnings.push_back({"kfd node " + n, text.error().message()});
      continue;
    }
    props[n] = parse_kfd_properties(*text);
    std::string addr = kfd_pci_address(props[n]);
    if (!addr.empty()) node_to_pci[n] = addr;
  }
  for (auto& [n, addr] : node_to_pci) {
    Accelerator* acc = nullptr;
    for (auto* a : amd) {
      if (a->pci.address == addr) acc = a;
    }
    if (!acc) continue;
    acc->gfx_target = gfx_name(std::atoll(props[n]["gfx_target_version"].c_str()));
    acc->source = "kfd";
    read_xgmi_links(fs, kfd, n, node_to_pci, *acc);
  }
}

}  // namespace

std::map<std::string, std::string> parse_kfd_properties(std::string_view text) {
  std::map<std::string, std::string> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto sp = line.find_first_of(" \t:");
    if (sp == std::string::npos) continue;
    std::string key = line.substr(0, sp);
    auto v = line.find_first_not_of(" \t:", sp);
    out[key] = v == std::string::npos ? "" : line.substr(v);
  }
  return out;
}

std::string gfx_name(std::int64_t v) {
  if (v <= 0) return "";
  int major = static_cast<int>(v / 10000), minor = static_cast<int>((v / 100) % 100),
      step = static_cast<int>(v % 100);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "gfx%d%d%x", major, minor, step);
  return buf;
}

std::string kfd_pci_address(const std::map<std::string, std::string>& kv) {
  auto get = [&](const char* key) {
    auto it = kv.find(key);
    return it == kv.end() ? std::string() : it->second;
  };
  std::int64_t loc = std::atoll(get("location_id").c_str());
  std::int64_t domain = std::atoll(get("domain").c_str());
  if (get("gfx_target_version").empty() || std::atoll(get("gfx_target_version").c_str()) == 0)
    return "";
  char addr[16];
  std::snprintf(addr, sizeof(addr), "%04x:%02x:%02x.%x", static_cast<unsigned>(domain),
                static_cast<unsigned>((loc >> 8) & 0xff), static_cast<unsigned>((loc >> 3) & 0x1f),
                static_cast<unsigned>(loc & 7));
  return addr;
}

void read_amd(const HostFs& fs, Inventory& inv) {
  std::vector<Accelerator*> amd;
  for (auto& a : inv.accelerators) {
    if (a.vendor == "amd") amd.push_back(&a);
  }
  if (amd.empty()) return;
  read_drm_cards(fs, inv, amd);
  read_kfd(fs, inv, amd);
  for (Accelerator* a : amd) {
    if (a->memory_bytes > 0 || !a->gfx_target.empty()) a->depth = "amdgpu-sysfs";
  }
}

}  // namespace aion::hw
