#include "aion/hw/vendors.h"

#include <algorithm>

#include "aion/core/data_file.h"
#include "aion/core/paths.h"

namespace aion::hw {
namespace {

constexpr std::int64_t kVendorSchemaVersion = 1;

// Class values up to 0xff are base classes; larger ones are base<<8|sub.
Result<PciClassPattern> class_pattern(const DataFile& f, const toml::node& n) {
  auto v = n.value_exact<std::int64_t>();
  if (!v || *v < 0 || *v > 0xffff)
    return f.bad(n, "a PCI class must be an integer: 0x12 (base class) or 0x0302 (base, sub)");
  return PciClassPattern{static_cast<std::uint32_t>(*v), *v <= 0xff};
}

Result<std::vector<std::uint32_t>> ids(const DataFile& f, const toml::table& t,
                                       std::string_view key, bool required) {
  std::vector<std::uint32_t> out;
  const toml::node* n = t.get(key);
  if (!n) {
    if (required) return f.bad(t, "'" + std::string(key) + "' is missing (hex integers)");
    return out;
  }
  const toml::array* arr = n->as_array();
  if (!arr) return f.bad(*n, "'" + std::string(key) + "' must be an array of integers");
  for (const auto& e : *arr) {
    auto v = e.value_exact<std::int64_t>();
    if (!v || *v < 0 || *v > 0xffff)
      return f.bad(e, "'" + std::string(key) + "' must hold 16-bit integers (0x10de)");
    out.push_back(static_cast<std::uint32_t>(*v));
  }
  if (required && out.empty()) return f.bad(*n, "'" + std::string(key) + "' is empty");
  return out;
}

Result<std::vector<PciClassPattern>> classes(const DataFile& f, const toml::table& t,
                                             std::string_view key) {
  std::vector<PciClassPattern> out;
  const toml::node* n = t.get(key);
  if (!n) return out;
  const toml::array* arr = n->as_array();
  if (!arr) return f.bad(*n, "'" + std::string(key) + "' must be an array of PCI classes");
  for (const auto& e : *arr) {
    auto c = class_pattern(f, e);
    if (!c) return std::unexpected(c.error());
    out.push_back(*c);
  }
  return out;
}

bool has_source(const toml::table& t) {
  const toml::node* n = t.get("source");
  if (!n) return false;
  if (auto s = n->value_exact<std::string>()) return !s->empty();
  const toml::array* arr = n->as_array();
  return arr && !arr->empty();
}

Result<ComputeClass> compute_row(const DataFile& f, const toml::table& t) {
  if (auto st = f.expect_keys(
          t, {"class", "kind", "except_classes", "name", "known_vendors_only", "source", "notes"},
          "compute_class");
      !st)
    return std::unexpected(st.error());
  ComputeClass c;
  const toml::node* cls = t.get("class");
  if (!cls) return f.bad(t, "compute_class: 'class' is missing");
  auto p = class_pattern(f, *cls);
  if (!p) return std::unexpected(p.error());
  c.pattern = *p;
  auto except = classes(f, t, "except_classes");
  auto name = f.string(t, "name");
  auto kind = f.string(t, "kind");
  if (!except) return std::unexpected(except.error());
  if (!name) return std::unexpected(name.error());
  if (!kind) return std::unexpected(kind.error());
  c.except = std::move(*except);
  c.name = std::move(*name);
  c.kind = std::move(*kind);
  c.known_vendors_only = t["known_vendors_only"].value_or(false);
  if (!has_source(t)) return f.bad(t, "compute_class '" + c.name + "': 'source' is missing");
  return c;
}

Result<VendorInfo> vendor_row(const DataFile& f, const toml::table& t) {
  if (auto st =
          f.expect_keys(t,
                        {"id", "name", "pci_vendor_ids", "pci_classes", "pci_device_ids", "kind",
                         "depth", "reads", "library", "sysfs", "drivers", "device_nodes",
                         "shared_nodes", "visible_env", "visible_by", "smi", "source", "notes"},
                        "vendor");
      !st)
    return std::unexpected(st.error());
  VendorInfo v;
  auto id = f.string(t, "id");
  if (!id) return std::unexpected(id.error());
  v.id = *id;
  const std::string what = "vendor '" + v.id + "'";
  auto name = f.string(t, "name");
  if (!name) return std::unexpected(name.error());
  v.name = *name;
  auto vendor_ids = ids(f, t, "pci_vendor_ids", true);
  if (!vendor_ids) return std::unexpected(vendor_ids.error());
  v.pci_vendor_ids = *vendor_ids;
  auto device_ids = ids(f, t, "pci_device_ids", false);
  if (!device_ids) return std::unexpected(device_ids.error());
  v.pci_device_ids = *device_ids;
  auto pci_classes = classes(f, t, "pci_classes");
  if (!pci_classes) return std::unexpected(pci_classes.error());
  v.pci_classes = *pci_classes;
  for (auto [key, into] : {std::pair{"kind", &v.kind}, {"depth", &v.depth}}) {
    auto s = f.string(t, key);
    if (!s) return std::unexpected(s.error());
    *into = *s;
  }
  for (auto [key, into] : {std::pair{"library", &v.library},
                           {"sysfs", &v.sysfs},
                           {"visible_env", &v.visible_env},
                           {"visible_by", &v.visible_by},
                           {"smi", &v.smi}}) {
    auto s = f.optional_string(t, key);
    if (!s) return std::unexpected(s.error());
    *into = *s;
  }
  for (auto [key, into] : {std::pair{"drivers", &v.drivers},
                           {"device_nodes", &v.device_nodes},
                           {"shared_nodes", &v.shared_nodes}}) {
    auto s = f.strings(t, key, false);
    if (!s) return std::unexpected(s.error());
    *into = *s;
  }
  if (!v.visible_env.empty() && v.visible_by.empty())
    return f.bad(t, what + ": 'visible_by' is needed with 'visible_env'");
  if (!has_source(t)) return f.bad(t, what + ": 'source' is missing");
  return v;
}

}  // namespace

bool PciClassPattern::matches(std::uint32_t class_code) const {
  return base_only ? (class_code >> 16) == value : (class_code >> 8) == value;
}

Result<VendorTable> VendorTable::parse(std::string_view text, const std::string& source) {
  auto f = DataFile::parse(text, source);
  if (!f) return std::unexpected(f.error());
  return from(*f);
}

Result<VendorTable> VendorTable::load(const std::filesystem::path& file) {
  auto f = DataFile::read(file);
  if (!f) return std::unexpected(f.error());
  return from(*f);
}

Result<VendorTable> VendorTable::from(const DataFile& file) {
  const DataFile* f = &file;
  if (auto st = f->expect_schema_version(kVendorSchemaVersion); !st)
    return std::unexpected(st.error());
  if (auto st = f->expect_keys(
          f->root(), {"schema_version", "as_of", "compute_class", "network_class", "vendor"},
          "the file");
      !st)
    return std::unexpected(st.error());
  VendorTable table;
  auto as_of = f->optional_string(f->root(), "as_of");
  if (!as_of) return std::unexpected(as_of.error());
  table.as_of_ = *as_of;
  auto compute = f->rows(f->root(), "compute_class");
  if (!compute) return std::unexpected(compute.error());
  for (const toml::table* t : *compute) {
    auto c = compute_row(*f, *t);
    if (!c) return std::unexpected(c.error());
    table.compute_.push_back(std::move(*c));
  }
  if (table.compute_.empty()) return f->bad(f->root(), "no [[compute_class]] rows");
  auto network = f->rows(f->root(), "network_class");
  if (!network) return std::unexpected(network.error());
  for (const toml::table* t : *network) {
    const toml::node* cls = t->get("class");
    if (!cls) return f->bad(*t, "network_class: 'class' is missing");
    auto p = class_pattern(*f, *cls);
    auto name = f->string(*t, "name");
    if (!p) return std::unexpected(p.error());
    if (!name) return std::unexpected(name.error());
    table.network_.push_back({*p, *name});
  }
  auto vendors = f->rows(f->root(), "vendor");
  if (!vendors) return std::unexpected(vendors.error());
  for (const toml::table* t : *vendors) {
    auto v = vendor_row(*f, *t);
    if (!v) return std::unexpected(v.error());
    if (table.find(v->id)) return f->bad(*t, "vendor '" + v->id + "': id is used twice");
    table.vendors_.push_back(std::move(*v));
  }
  return table;
}

const VendorInfo* VendorTable::vendor_of(const PciLocation& p) const {
  for (const auto& v : vendors_) {
    if (std::find(v.pci_vendor_ids.begin(), v.pci_vendor_ids.end(), p.vendor_id) ==
        v.pci_vendor_ids.end())
      continue;
    if (!v.pci_device_ids.empty() && std::find(v.pci_device_ids.begin(), v.pci_device_ids.end(),
                                               p.device_id) == v.pci_device_ids.end())
      continue;
    if (!v.pci_classes.empty() &&
        std::none_of(v.pci_classes.begin(), v.pci_classes.end(),
                     [&](const PciClassPattern& c) { return c.matches(p.class_code); }))
      continue;
    return &v;
  }
  return nullptr;
}

std::string VendorTable::compute_kind(const PciLocation& p) const {
  for (const auto& c : compute_) {
    if (!c.pattern.matches(p.class_code)) continue;
    if (std::any_of(c.except.begin(), c.except.end(),
                    [&](const PciClassPattern& e) { return e.matches(p.class_code); }))
      return "";
    const VendorInfo* v = vendor_of(p);
    if (c.known_vendors_only && !v) return "";
    return v ? v->kind : c.kind;
  }
  return "";
}

std::string VendorTable::network_class(const PciLocation& p) const {
  for (const auto& n : network_) {
    if (n.pattern.matches(p.class_code)) return n.name;
  }
  return "";
}

const VendorInfo* VendorTable::find(std::string_view id) const {
  for (const auto& v : vendors_) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

std::filesystem::path default_vendor_table_file() {
  return data_dir() / "hw" / "accelerators.toml";
}

const Result<VendorTable>& shipped_vendor_table() {
  static const Result<VendorTable> table = VendorTable::load(default_vendor_table_file());
  return table;
}

}  // namespace aion::hw
