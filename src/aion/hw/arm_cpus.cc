#include "aion/hw/arm_cpus.h"

#include <charconv>
#include <cstdio>

#include "aion/core/data_file.h"
#include "aion/core/paths.h"
#include "aion/core/strings.h"

namespace aion::hw {
namespace {

constexpr std::int64_t kArmSchemaVersion = 1;

std::string hex(std::uint32_t v, int width) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", width, v);
  return buf;
}

Result<std::uint32_t> code(const DataFile& f, const toml::table& t, std::string_view key,
                           std::int64_t max) {
  auto v = f.integer(t, key);
  if (!v) return std::unexpected(v.error());
  if (*v < 0 || *v > max)
    return f.bad(t, "'" + std::string(key) + "' must be between 0 and " + hex(max, 0));
  return static_cast<std::uint32_t>(*v);
}

}  // namespace

Result<ArmCpuTable> ArmCpuTable::parse(std::string_view text, const std::string& source) {
  auto f = DataFile::parse(text, source);
  if (!f) return std::unexpected(f.error());
  return from(*f);
}

Result<ArmCpuTable> ArmCpuTable::load(const std::filesystem::path& file) {
  auto f = DataFile::read(file);
  if (!f) return std::unexpected(f.error());
  return from(*f);
}

Result<ArmCpuTable> ArmCpuTable::from(const DataFile& f) {
  if (auto st = f.expect_schema_version(kArmSchemaVersion); !st) return std::unexpected(st.error());
  if (auto st =
          f.expect_keys(f.root(), {"schema_version", "as_of", "implementer", "part"}, "the file");
      !st)
    return std::unexpected(st.error());
  ArmCpuTable table;
  auto implementers = f.rows(f.root(), "implementer");
  if (!implementers) return std::unexpected(implementers.error());
  for (const toml::table* t : *implementers) {
    if (auto st = f.expect_keys(*t, {"id", "name", "source", "notes"}, "implementer"); !st)
      return std::unexpected(st.error());
    auto id = code(f, *t, "id", 0xff);
    if (!id) return std::unexpected(id.error());
    auto name = f.string(*t, "name");
    if (!name) return std::unexpected(name.error());
    if (auto src = f.string(*t, "source"); !src) return std::unexpected(src.error());
    if (!table.implementer(*id).empty())
      return f.bad(*t, "implementer " + hex(*id, 2) + " is listed twice");
    table.implementers_.emplace_back(*id, *name);
  }
  auto parts = f.rows(f.root(), "part");
  if (!parts) return std::unexpected(parts.error());
  for (const toml::table* t : *parts) {
    if (auto st =
            f.expect_keys(*t, {"implementer", "part", "name", "core", "source", "notes"}, "part");
        !st)
      return std::unexpected(st.error());
    ArmPart p;
    auto impl = code(f, *t, "implementer", 0xff);
    if (!impl) return std::unexpected(impl.error());
    auto num = code(f, *t, "part", 0xfff);
    if (!num) return std::unexpected(num.error());
    auto name = f.string(*t, "name");
    if (!name) return std::unexpected(name.error());
    auto core = f.optional_string(*t, "core");
    if (!core) return std::unexpected(core.error());
    if (auto src = f.string(*t, "source"); !src) return std::unexpected(src.error());
    if (table.implementer(*impl).empty())
      return f.bad(*t, "part " + hex(*num, 3) + ": implementer " + hex(*impl, 2) +
                           " has no [[implementer]] row");
    if (table.part(*impl, *num))
      return f.bad(*t, "part " + hex(*impl, 2) + "/" + hex(*num, 3) + " is listed twice");
    table.parts_.push_back({*impl, *num, *name, *core});
  }
  return table;
}

std::string ArmCpuTable::implementer(std::uint32_t id) const {
  for (const auto& [code, name] : implementers_) {
    if (code == id) return name;
  }
  return "";
}

const ArmPart* ArmCpuTable::part(std::uint32_t implementer, std::uint32_t part) const {
  for (const auto& p : parts_) {
    if (p.implementer == implementer && p.part == part) return &p;
  }
  return nullptr;
}

std::string ArmCpuTable::model(std::uint32_t implementer_id, std::uint32_t part_id) const {
  const std::string vendor = implementer(implementer_id);
  const ArmPart* p = part(implementer_id, part_id);
  if (!p) {
    return (vendor.empty() ? "ARM implementer " + hex(implementer_id, 2) : vendor) + " part " +
           hex(part_id, 3);
  }
  // The implementer's name leads unless the part's name already starts with it ("AmpereOne").
  std::string out = p->name.starts_with(vendor) ? p->name : vendor + " " + p->name;
  if (!p->core.empty()) out += " (" + p->core + ")";
  return out;
}

std::filesystem::path default_arm_cpu_table_file() {
  return data_dir() / "hw" / "arm_cpus.toml";
}

const Result<ArmCpuTable>& shipped_arm_cpu_table() {
  static const Result<ArmCpuTable> table = ArmCpuTable::load(default_arm_cpu_table_file());
  return table;
}

std::optional<std::uint32_t> parse_midr_field(std::string_view text) {
  std::string_view s = trim_view(text);
  int base = 10;
  if (s.starts_with("0x") || s.starts_with("0X")) {
    s.remove_prefix(2);
    base = 16;
  }
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace aion::hw
