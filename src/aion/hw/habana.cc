#include "aion/hw/habana.h"

#include <algorithm>
#include <cctype>

#include "aion/core/strings.h"
#include "aion/hw/accelerators.h"
#include "aion/hw/pci.h"

namespace aion::hw {
namespace {

// One card's attribute directory and PCI address, under either class.
struct HabanaCard {
  int number = -1;
  std::string attrs;
  std::string address;
};

std::vector<HabanaCard> list_cards(const HostFs& fs) {
  std::vector<HabanaCard> out;
  for (auto [klass, prefix] :
       {std::pair{"/sys/class/accel", "accel"}, std::pair{"/sys/class/habanalabs", "hl"}}) {
    auto entries = fs.list(klass);
    if (!entries) continue;
    for (const auto& name : *entries) {
      std::string_view n(name);
      if (!n.starts_with(prefix)) continue;
      auto number = parse_int<int>(n.substr(std::string_view(prefix).size()));
      if (!number) continue;  // accel_controlD<N> and the like
      const std::string dir = std::string(klass) + "/" + name;
      HabanaCard c{.number = *number};
      if (std::string_view(prefix) == "accel") {
        c.attrs = dir + "/device";
        c.address = pci_address_of(fs, c.attrs);
      } else {
        c.attrs = dir;
        c.address = fs.read_attr(dir + "/pci_addr").value_or("");
        if (c.address.empty()) c.address = pci_address_of(fs, dir + "/device");
      }
      if (!c.address.empty()) out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace

std::string habana_model(std::string_view device_type) {
  std::string out = lower(trim_view(device_type));
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string habana_state(std::string_view status) {
  std::string s = lower(trim_view(status));
  if (s == "operational" || s == "in reset" || s == "in device creation") return "ok";
  return "error";
}

void read_habana(const HostFs& fs, Inventory& inv) {
  for (const auto& card : list_cards(fs)) {
    Accelerator* it = find_accelerator(inv, "habana", card.address);
    if (!it) continue;
    // Only a card the driver answers for: the accel class also holds other vendors' cards.
    auto type = fs.read_attr(card.attrs + "/device_type");
    if (!type) continue;
    it->index = card.number;
    if (auto m = fs.read_int(card.attrs + "/module_id")) it->module_id = static_cast<int>(*m);
    // pci.ids names the first Gaudi only; the driver names every generation ("GAUDI2").
    if (!type->empty() && (it->model.empty() || it->model.find(" device ") != std::string::npos))
      it->model = habana_model(*type);
    if (auto v = fs.read_attr(card.attrs + "/driver_ver")) it->driver_version = *v;
    if (auto sn = fs.read_attr(card.attrs + "/serial_number"); sn && !sn->empty()) it->uuid = *sn;
    if (auto st = fs.read_attr(card.attrs + "/status")) it->state = habana_state(*st);
    it->depth = "habanalabs-sysfs";
  }
}

}  // namespace aion::hw
