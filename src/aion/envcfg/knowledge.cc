#include "aion/envcfg/knowledge.h"
#include "aion/core/strings.h"

#include "aion/core/data_file.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>

namespace aion::envcfg {
namespace {

// libstdc++'s regex compiler reads a repetition bound or a backreference number into a signed
// long with no overflow check (undefined behaviour on a number near 2^63, found by fuzzing the
// tables) and builds one state per repetition: a pattern is refused before it is compiled
// when it is long, repeats anything more than kMaxRepeat times or names a backreference
// over 99.
constexpr std::size_t kMaxPattern = 1024;
constexpr unsigned long kMaxRepeat = 1000;

std::string pattern_out_of_bounds(std::string_view p) {
  if (p.size() > kMaxPattern) return "longer than " + std::to_string(kMaxPattern) + " characters";
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      std::size_t k = i + 1;
      while (k < p.size() && p[k] >= '0' && p[k] <= '9') ++k;
      if (k - i - 1 > 2) return "names a backreference over 99";
      ++i;  // an escaped character, '{' included
      continue;
    }
    if (p[i] != '{') continue;
    // {n}, {n,} or {n,m}: every number at most kMaxRepeat.
    for (std::size_t j = i + 1; j < p.size() && p[j] != '}'; ++j) {
      if (p[j] < '0' || p[j] > '9') continue;
      std::size_t k = j;
      while (k < p.size() && p[k] >= '0' && p[k] <= '9') ++k;
      if (k - j > 4 || std::stoul(std::string(p.substr(j, k - j))) > kMaxRepeat)
        return "repeats more than " + std::to_string(kMaxRepeat) + " times";
      j = k - 1;
    }
  }
  return {};
}

namespace fs = std::filesystem;

// One table file: the shared data-file reader (problems reported as "file:line: ..."), the
// header every table carries (schema_version, as_of) and the field forms tables use.
class TableReader {
 public:
  explicit TableReader(fs::path path) : path_(std::move(path)) {}

  Status open() {
    auto data = DataFile::read(path_);
    if (!data) return std::unexpected(data.error());
    data_.emplace(std::move(*data));
    if (auto st = data_->expect_schema_version(kSchemaVersion); !st) return st;
    auto as_of = data_->root()["as_of"].value<std::string>();
    if (!as_of) return bad(data_->root(), "as_of (the date the table was checked) is missing");
    info_.file = path_.filename().string();
    info_.schema_version = static_cast<int>(kSchemaVersion);
    info_.as_of = *as_of;
    return {};
  }

  const toml::table& root() const { return data_->root(); }
  TableInfo& info() { return info_; }

  // The rows of an array of tables; an absent key gives no rows.
  std::vector<const toml::table*> rows(const toml::table& t, std::string_view key) const {
    std::vector<const toml::table*> out;
    if (const auto* arr = t[key].as_array()) {
      for (const auto& n : *arr)
        if (const auto* row = n.as_table()) out.push_back(row);
    }
    return out;
  }

  std::unexpected<Error> bad(const toml::node& n, const std::string& what) const {
    return data_->bad(n, what);
  }

  Result<std::string> str(const toml::table& row, std::string_view key) const {
    return data_->string(row, key);
  }
  std::string opt_str(const toml::table& row, std::string_view key) const {
    return row[key].value_or(std::string());
  }
  Result<std::vector<std::string>> strings(const toml::table& row, std::string_view key,
                                           bool required) const {
    return data_->strings(row, key, required);
  }
  Result<Version> version(const toml::table& row, std::string_view key) const {
    auto s = str(row, key);
    if (!s) return std::unexpected(s.error());
    Version v = Version::parse(*s);
    if (v.is_empty())
      return bad(row, "'" + std::string(key) + "' = \"" + *s + "\" is not a version");
    return v;
  }

 private:
  fs::path path_;
  std::optional<DataFile> data_;
  TableInfo info_;
};

#define AION_TRY(var, expr)                              \
  auto var##_r = (expr);                                 \
  if (!var##_r) return std::unexpected(var##_r.error()); \
  auto var = std::move(*var##_r)

Status load_cuda(TableReader& r, Knowledge& kb) {
  for (const auto* row : r.rows(r.root(), "toolkit")) {
    Toolkit t;
    AION_TRY(v, r.version(*row, "version"));
    AION_TRY(d, r.version(*row, "min_driver"));
    AION_TRY(a, r.strings(*row, "archs", true));
    AION_TRY(s, r.str(*row, "source"));
    t.version = v;
    t.min_driver = d;
    t.archs = a;
    t.source = s;
    kb.toolkits.push_back(std::move(t));
  }
  for (const auto* row : r.rows(r.root(), "minor_compat")) {
    MinorCompat m;
    auto major = (*row)["major"].value<std::int64_t>();
    if (!major) return r.bad(*row, "'major' is missing");
    m.major = static_cast<int>(*major);
    AION_TRY(d, r.version(*row, "min_driver"));
    AION_TRY(s, r.str(*row, "source"));
    m.min_driver = d;
    m.source = s;
    kb.minor_compat.push_back(std::move(m));
  }
  for (const auto* row : r.rows(r.root(), "forward_compat")) {
    ForwardCompat f;
    AION_TRY(lo, r.version(*row, "cuda_min"));
    AION_TRY(hi, r.version(*row, "cuda_max"));
    AION_TRY(b, r.strings(*row, "branches", true));
    AION_TRY(s, r.str(*row, "source"));
    f.cuda_min = lo;
    f.cuda_max = hi;
    for (const auto& x : b) f.branches.push_back(Version::parse(x));
    f.source = s;
    kb.forward_compat.push_back(std::move(f));
  }
  if (kb.toolkits.empty()) return r.bad(r.root(), "no [[toolkit]] rows");
  std::sort(kb.toolkits.begin(), kb.toolkits.end(),
            [](const Toolkit& a, const Toolkit& b) { return a.version < b.version; });
  r.info().rows = kb.toolkits.size() + kb.minor_compat.size() + kb.forward_compat.size();
  r.info().coverage = "CUDA " + kb.toolkits.front().version.text() + "-" +
                      kb.toolkits.back().version.text() + ": minimum drivers, SASS targets, " +
                      "minor-version and forward compatibility rules";
  return {};
}

Status load_gpus(TableReader& r, Knowledge& kb) {
  for (const auto* row : r.rows(r.root(), "arch")) {
    ArchInfo a;
    AION_TRY(cc, r.str(*row, "cc"));
    AION_TRY(name, r.str(*row, "name"));
    AION_TRY(s, r.str(*row, "source"));
    a.cc = cc;
    a.name = name;
    a.last_driver_branch = r.opt_str(*row, "last_driver_branch");
    if (!std::regex_match(a.last_driver_branch, std::regex("[0-9]{0,4}")))
      return r.bad(*row, "last_driver_branch '" + a.last_driver_branch +
                             "' must be a driver branch number such as 470");
    a.source = s;
    if (!r.opt_str(*row, "min_driver").empty()) {
      AION_TRY(floor, r.version(*row, "min_driver"));
      a.min_driver = floor;
      a.min_driver_source = r.opt_str(*row, "min_driver_source");
      if (a.min_driver_source.empty())
        return r.bad(*row, "min_driver needs min_driver_source (where the floor is published)");
    }
    kb.archs.push_back(std::move(a));
  }
  for (const auto* row : r.rows(r.root(), "gpu")) {
    GpuModel g;
    AION_TRY(vendor, r.str(*row, "vendor"));
    AION_TRY(match, r.str(*row, "match"));
    AION_TRY(s, r.str(*row, "source"));
    g.vendor = vendor;
    g.match = match;
    g.cc = r.opt_str(*row, "cc");
    g.gfx = r.opt_str(*row, "gfx");
    if (g.cc.empty() && g.gfx.empty()) return r.bad(*row, "a [[gpu]] row needs cc or gfx");
    g.datacenter = (*row)["datacenter"].value_or(false);
    if (!r.opt_str(*row, "min_driver").empty()) {
      AION_TRY(floor, r.version(*row, "min_driver"));
      g.min_driver = floor;
    }
    g.source = s;
    kb.gpus.push_back(std::move(g));
  }
  r.info().rows = kb.archs.size() + kb.gpus.size();
  std::string lowest, highest;  // compute capabilities, compared as versions
  for (const auto& a : kb.archs) {
    if (lowest.empty() || Version::parse(a.cc) < Version::parse(lowest)) lowest = a.cc;
    if (highest.empty() || Version::parse(a.cc) > Version::parse(highest)) highest = a.cc;
  }
  r.info().coverage = std::to_string(kb.archs.size()) + " architectures (" + lowest + "-" +
                      highest + "), " + std::to_string(kb.gpus.size()) + " GPU models";
  return {};
}

Status load_rocm(TableReader& r, Knowledge& kb) {
  for (const auto* row : r.rows(r.root(), "release")) {
    RocmRelease rr;
    AION_TRY(v, r.version(*row, "version"));
    AION_TRY(g, r.strings(*row, "gfx", true));
    AION_TRY(s, r.str(*row, "source"));
    rr.version = v;
    rr.gfx = g;
    rr.source = s;
    kb.rocm.push_back(std::move(rr));
  }
  std::sort(kb.rocm.begin(), kb.rocm.end(),
            [](const RocmRelease& a, const RocmRelease& b) { return a.version < b.version; });
  r.info().rows = kb.rocm.size();
  if (!kb.rocm.empty())
    r.info().coverage = "ROCm " + kb.rocm.front().version.text() + "-" +
                        kb.rocm.back().version.text() + ": supported gfx targets";
  return {};
}

Status load_cann(TableReader& r, Knowledge& kb) {
  for (const auto* row : r.rows(r.root(), "release")) {
    CannRelease c;
    AION_TRY(v, r.version(*row, "version"));
    AION_TRY(npus, r.strings(*row, "npus", true));
    AION_TRY(s, r.str(*row, "source"));
    c.version = v;
    c.npus = npus;
    if (!r.opt_str(*row, "min_driver").empty()) {
      AION_TRY(d, r.version(*row, "min_driver"));
      c.min_driver = d;
    }
    c.source = s;
    kb.cann.push_back(std::move(c));
  }
  std::sort(kb.cann.begin(), kb.cann.end(),
            [](const CannRelease& a, const CannRelease& b) { return a.version < b.version; });
  r.info().rows = kb.cann.size();
  if (!kb.cann.empty())
    r.info().coverage = "CANN " + kb.cann.front().version.text() + "-" +
                        kb.cann.back().version.text() + ": supported NPUs and NPU drivers";
  return {};
}

Status load_platforms(TableReader& r, Knowledge& kb) {
  kb.python_default_cap = r.root()["python_default_cap"].value_or(std::string("3.12"));
  for (const auto* row : r.rows(r.root(), "os")) {
    OsInfo o;
    AION_TRY(id, r.str(*row, "id"));
    AION_TRY(v, r.str(*row, "version"));
    AION_TRY(py, r.str(*row, "python"));
    AION_TRY(s, r.str(*row, "source"));
    o.id = id;
    o.version = v;
    o.python = py;
    o.codename = r.opt_str(*row, "codename");
    o.cuda_repo = r.opt_str(*row, "cuda_repo");
    o.source = s;
    kb.platforms.push_back(std::move(o));
  }
  for (const auto* row : r.rows(r.root(), "install")) {
    ToolkitInstall in;
    AION_TRY(tk, r.str(*row, "toolkit"));
    AION_TRY(os, r.strings(*row, "os", true));
    AION_TRY(cmds, r.strings(*row, "commands", true));
    AION_TRY(s, r.str(*row, "source"));
    if (tk != "cuda" && tk != "rocm" && tk != "cann")
      return r.bad(*row, "toolkit '" + tk + "' is not cuda, rocm or cann");
    in.toolkit = tk;
    in.os = os;
    in.commands = cmds;
    in.after = r.opt_str(*row, "after");
    in.driver = r.opt_str(*row, "driver");
    if (!r.opt_str(*row, "max_version").empty()) {
      AION_TRY(max, r.version(*row, "max_version"));
      in.max_version = max;
    }
    in.source = s;
    kb.installs.push_back(std::move(in));
  }
  r.info().rows = kb.platforms.size() + kb.installs.size();
  r.info().coverage = std::to_string(kb.platforms.size()) +
                      " OS releases and their Python; toolkit install commands";
  return {};
}

using ArchSets = std::map<std::string, std::vector<std::string>>;

// The named GPU code lists of frameworks.toml ([archsets]), which variants refer to.
ArchSets read_archsets(TableReader& r) {
  ArchSets archsets;
  if (const auto* sets = r.root()["archsets"].as_table()) {
    for (const auto& [k, v] : *sets) {
      std::vector<std::string> list;
      if (const auto* arr = v.as_array()) {
        for (const auto& n : *arr) list.push_back(n.value_or(std::string()));
      }
      archsets[std::string(k.str())] = list;
    }
  }
  return archsets;
}

Result<Framework> read_framework(TableReader& r, const toml::table& row) {
  Framework f;
  AION_TRY(name, r.str(row, "name"));
  AION_TRY(display, r.str(row, "display"));
  AION_TRY(aliases, r.strings(row, "aliases", true));
  AION_TRY(package, r.str(row, "package"));
  AION_TRY(other_packages, r.strings(row, "other_packages", false));
  AION_TRY(install, r.strings(row, "install", true));
  AION_TRY(s, r.str(row, "source"));
  f.name = name;
  f.display = display;
  f.aliases = aliases;
  f.package = package;
  f.other_packages = other_packages;
  f.install = install;
  f.min_cc = r.opt_str(row, "min_cc");
  f.source = s;
  return f;
}

// One [[release.variant]]: its kind, runtime (CUDA, ROCm and NPU builds need one) and the
// GPU code it carries (an archset or archs; CUDA builds need some).
Result<Variant> read_variant(TableReader& r, const toml::table& vr, const ArchSets& archsets) {
  Variant var;
  AION_TRY(vname, r.str(vr, "name"));
  AION_TRY(word, r.str(vr, "kind"));
  const auto kind = parse_backend(word);
  if (!kind) {
    return r.bad(vr, "variant kind '" + word + "' is not one of " + std::string(backend_words()));
  }
  var.name = vname;
  var.kind = *kind;
  var.runtime = Version::parse(r.opt_str(vr, "runtime"));
  if (has_runtime(*kind) && var.runtime.is_empty())
    return r.bad(vr, "a " + word + " variant needs 'runtime'");
  var.cudnn = r.opt_str(vr, "cudnn");
  var.index = r.opt_str(vr, "index");
  AION_TRY(inst, r.strings(vr, "install", false));
  var.install = inst;
  var.is_default = vr["default"].value_or(false);
  std::string set = r.opt_str(vr, "archset");
  if (!set.empty()) {
    auto it = archsets.find(set);
    if (it == archsets.end()) return r.bad(vr, "unknown archset '" + set + "'");
    var.archs = it->second;
  } else {
    AION_TRY(archs, r.strings(vr, "archs", false));
    var.archs = archs;
  }
  static const std::regex kArch("(sm|compute)_[0-9]{2,3}[a-z]?");
  for (const auto& a : var.archs) {
    if (!std::regex_match(a, kArch))
      return r.bad(vr, "architecture '" + a + "' is not sm_XY or compute_XY");
  }
  if (kind == Backend::kCuda && var.archs.empty())
    return r.bad(vr, "a cuda variant needs 'archset' or 'archs' (the GPU code it carries)");
  return var;
}

// One [[release]] of a known framework, with at least one variant.
Result<Release> read_release(TableReader& r, const toml::table& row, const Knowledge& kb,
                             const ArchSets& archsets) {
  Release rel;
  AION_TRY(fw, r.str(row, "framework"));
  if (!kb.find_framework(fw)) return r.bad(row, "release of unknown framework '" + fw + "'");
  AION_TRY(v, r.version(row, "version"));
  AION_TRY(py, r.strings(row, "python", true));
  if (py.size() != 2) return r.bad(row, "'python' must be [lowest, highest]");
  AION_TRY(s, r.str(row, "source"));
  AION_TRY(comp, r.strings(row, "companions", false));
  rel.framework = kb.find_framework(fw)->name;
  rel.version = v;
  rel.python_min = Version::parse(py[0]);
  rel.python_max = Version::parse(py[1]);
  rel.companions = comp;
  rel.requires_torch = r.opt_str(row, "requires");
  rel.source = s;
  rel.confidence = r.opt_str(row, "confidence");
  for (const auto* vr : r.rows(row, "variant")) {
    AION_TRY(var, read_variant(r, *vr, archsets));
    rel.variants.push_back(std::move(var));
  }
  if (rel.variants.empty()) return r.bad(row, "a release needs at least one [[release.variant]]");
  return rel;
}

Status load_frameworks(TableReader& r, Knowledge& kb) {
  const ArchSets archsets = read_archsets(r);
  for (const auto* row : r.rows(r.root(), "framework")) {
    AION_TRY(f, read_framework(r, *row));
    kb.frameworks.push_back(std::move(f));
  }
  for (const auto* row : r.rows(r.root(), "release")) {
    AION_TRY(rel, read_release(r, *row, kb, archsets));
    kb.releases.push_back(std::move(rel));
  }
  std::stable_sort(kb.releases.begin(), kb.releases.end(), [](const Release& a, const Release& b) {
    if (a.framework != b.framework) return a.framework < b.framework;
    return a.version > b.version;
  });
  r.info().rows = kb.frameworks.size() + kb.releases.size();
  std::string cov;
  for (const auto& f : kb.frameworks) {
    auto rels = kb.releases_of(f.name);
    if (rels.empty()) continue;
    cov += (cov.empty() ? "" : ", ") + f.display + " " + rels.back()->version.text() +
           (rels.size() > 1 ? "-" + rels.front()->version.text() : "");
  }
  for (const auto* row : r.rows(r.root(), "vendor_stack")) {
    VendorStack v;
    AION_TRY(vendor, r.str(*row, "vendor"));
    AION_TRY(stack, r.str(*row, "stack"));
    AION_TRY(status, r.str(*row, "status"));
    AION_TRY(what, r.str(*row, "what"));
    AION_TRY(s, r.str(*row, "source"));
    if (status != "published" && status != "partial" && status != "unpublished")
      return r.bad(*row, "status '" + status + "' is not published, partial or unpublished");
    v = {vendor, stack, status, what, s};
    kb.vendor_stacks.push_back(std::move(v));
  }
  r.info().coverage = cov;
  return {};
}

Status load_images(TableReader& r, Knowledge& kb) {
  kb.uv_image = r.root()["uv_image"].value_or(std::string());
  if (kb.uv_image.empty()) return r.bad(r.root(), "'uv_image' is missing");
  for (const auto* row : r.rows(r.root(), "image")) {
    Image im;
    AION_TRY(ref, r.str(*row, "ref"));
    AION_TRY(word, r.str(*row, "kind"));
    AION_TRY(os, r.str(*row, "os"));
    AION_TRY(s, r.str(*row, "source"));
    const auto kind = parse_backend(word);
    if (!kind) {
      return r.bad(*row, "image kind '" + word + "' is not one of " + std::string(backend_words()));
    }
    im.ref = ref;
    im.kind = *kind;
    im.os = os;
    im.source = s;
    im.runtime = Version::parse(r.opt_str(*row, "runtime"));
    im.cudnn = r.opt_str(*row, "cudnn");
    im.python = r.opt_str(*row, "python");
    im.contains = r.opt_str(*row, "contains");
    if (ref.find(':') == std::string::npos || ref.ends_with(":latest"))
      return r.bad(*row, "image '" + ref + "' must be pinned to a tag other than latest");
    kb.images.push_back(std::move(im));
  }
  for (const auto* row : r.rows(r.root(), "access")) {
    Access a;
    AION_TRY(word, r.str(*row, "kind"));
    AION_TRY(args, r.strings(*row, "run_args", false));
    const auto kind = parse_backend(word);
    if (!kind) {
      return r.bad(*row,
                   "access kind '" + word + "' is not one of " + std::string(backend_words()));
    }
    a.kind = *kind;
    a.run_args = args;
    a.note = r.opt_str(*row, "note");
    a.source = r.opt_str(*row, "source");
    kb.access.push_back(std::move(a));
  }
  r.info().rows = kb.images.size() + kb.access.size();
  r.info().coverage = std::to_string(kb.images.size()) +
                      " pinned images (nvidia/cuda, NGC, rocm, python, openvino, cann)";
  return {};
}

Status load_doctor(TableReader& r, Knowledge& kb) {
  std::set<std::string> ids;
  for (const auto* row : r.rows(r.root(), "signature")) {
    Signature sig;
    AION_TRY(id, r.str(*row, "id"));
    AION_TRY(title, r.str(*row, "title"));
    AION_TRY(patterns, r.strings(*row, "patterns", true));
    AION_TRY(cause, r.str(*row, "cause"));
    AION_TRY(fix, r.str(*row, "fix"));
    AION_TRY(s, r.str(*row, "source"));
    if (!ids.insert(id).second) return r.bad(*row, "duplicate signature id '" + id + "'");
    sig.id = id;
    sig.title = title;
    sig.patterns = patterns;
    sig.cause = cause;
    sig.fix = fix;
    sig.source = s;
    sig.cuda_group = static_cast<int>((*row)["cuda_group"].value_or(std::int64_t{0}));
    for (const auto& p : patterns) {
      if (auto why = pattern_out_of_bounds(p); !why.empty())
        return r.bad(*row, "signature '" + id + "': bad pattern '" + p + "': " + why);
      try {
        sig.regexes.emplace_back(p, std::regex::ECMAScript | std::regex::icase);
      } catch (const std::regex_error& e) {
        return r.bad(*row, "signature '" + id + "': bad pattern '" + p + "': " + e.what());
      }
    }
    kb.signatures.push_back(std::move(sig));
  }
  r.info().releases = false;
  r.info().rows = kb.signatures.size();
  r.info().coverage = std::to_string(kb.signatures.size()) + " failure signatures";
  return {};
}

}  // namespace

const Framework* Knowledge::find_framework(std::string_view name) const {
  std::string n = lower(name);
  for (const auto& f : frameworks) {
    if (lower(f.name) == n) return &f;
    for (const auto& a : f.aliases)
      if (lower(a) == n) return &f;
  }
  return nullptr;
}

std::vector<const Release*> Knowledge::releases_of(std::string_view framework) const {
  std::vector<const Release*> out;
  for (const auto& r : releases)
    if (r.framework == framework) out.push_back(&r);
  return out;
}

const Toolkit* Knowledge::toolkit(const Version& cuda) const {
  for (const auto& t : toolkits)
    if (t.version.major() == cuda.major() && t.version.minor() == cuda.minor()) return &t;
  return nullptr;
}

const MinorCompat* Knowledge::minor(int major) const {
  for (const auto& m : minor_compat)
    if (m.major == major) return &m;
  return nullptr;
}

const ArchInfo* Knowledge::arch(std::string_view cc) const {
  for (const auto& a : archs)
    if (a.cc == cc) return &a;
  return nullptr;
}

const RocmRelease* Knowledge::rocm_release(const Version& v) const {
  for (const auto& r : rocm)
    if (r.version.major() == v.major() && r.version.minor() == v.minor()) return &r;
  return nullptr;
}

const CannRelease* Knowledge::cann_release(const Version& v) const {
  for (const auto& r : cann)
    if (r.version.major() == v.major() && r.version.minor() == v.minor()) return &r;
  return nullptr;
}

const GpuModel* Knowledge::gpu_model(std::string_view vendor, std::string_view model) const {
  std::string m = lower(model);
  for (const auto& g : gpus) {
    if (g.vendor == vendor && m.find(lower(g.match)) != std::string::npos) return &g;
  }
  return nullptr;
}

const OsInfo* Knowledge::platform(std::string_view id, std::string_view version) const {
  for (const auto& p : platforms)
    if (p.id == id && p.version == version) return &p;
  return nullptr;
}

const Access* Knowledge::access_for(Backend kind) const {
  for (const auto& a : access)
    if (a.kind == kind) return &a;
  return nullptr;
}

const ToolkitInstall* Knowledge::install_for(std::string_view toolkit, std::string_view os_id,
                                             const Version& release) const {
  for (const auto& in : installs) {
    if (in.toolkit != toolkit || std::find(in.os.begin(), in.os.end(), os_id) == in.os.end())
      continue;
    if (!in.max_version.is_empty() && !release.is_empty() &&
        Version::parse(release.major_minor()) > Version::parse(in.max_version.major_minor()))
      continue;
    return &in;
  }
  return nullptr;
}

const Toolkit* Knowledge::newest_toolkit_for(const Version& driver) const {
  const Toolkit* best = nullptr;
  for (const auto& t : toolkits)
    if (driver >= t.min_driver) best = &t;
  return best;
}

std::string Knowledge::as_of() const {
  std::string oldest;
  for (const auto& t : tables)
    if (t.releases && (oldest.empty() || t.as_of < oldest)) oldest = t.as_of;
  return oldest;
}

std::string today_utc() {
  if (const char* fixed = std::getenv("AION_TODAY"); fixed && *fixed) return fixed;
  const auto now = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const std::chrono::year_month_day ymd{now};
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return out;
}

namespace {

// "2025-07-15" -> months since year 0 and the day; nullopt when not a date.
std::optional<std::pair<int, int>> month_index(std::string_view date) {
  int y = 0, m = 0, d = 0;
  if (date.size() != 10 || std::sscanf(std::string(date).c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 ||
      m < 1 || m > 12 || d < 1 || d > 31)
    return std::nullopt;
  return std::make_pair(y * 12 + m - 1, d);
}

}  // namespace

std::string staleness_warning(const Knowledge& kb, std::string_view today) {
  const std::string as_of = kb.as_of();
  auto then = month_index(as_of), now = month_index(today);
  if (!then || !now) return {};
  const int limit = then->first + kStaleMonths;  // the same day, kStaleMonths later
  if (now->first < limit || (now->first == limit && now->second <= then->second)) return {};
  const int months = now->first - then->first - (now->second < then->second ? 1 : 0);
  return "the knowledge tables are as of " + as_of + ", " + std::to_string(months) +
         " months before today (" + std::string(today) +
         "): releases since then are unknown to aion; update data/envcfg (`aion env kb`)";
}

Result<Knowledge> load_knowledge(const fs::path& dir) {
  Knowledge kb;
  kb.dir = dir;
  struct Table {
    const char* file;
    Status (*load)(TableReader&, Knowledge&);
  };
  // frameworks.toml before nothing else needs it; order only matters for error messages.
  const Table tables[] = {{"cuda.toml", load_cuda},           {"gpus.toml", load_gpus},
                          {"rocm.toml", load_rocm},           {"cann.toml", load_cann},
                          {"platforms.toml", load_platforms}, {"frameworks.toml", load_frameworks},
                          {"images.toml", load_images},       {"doctor.toml", load_doctor}};
  for (const auto& t : tables) {
    fs::path path = dir / t.file;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      return fail(ErrorCode::kNotFound,
                  "environment table " + path.string() +
                      " is missing; set AION_DATA_DIR to the directory holding envcfg/ (the "
                      "source tree's data/ or /usr/share/aion)");
    }
    TableReader reader(path);
    if (auto s = reader.open(); !s) return std::unexpected(s.error());
    if (auto s = t.load(reader, kb); !s) return std::unexpected(s.error());
    kb.tables.push_back(reader.info());
  }
  return kb;
}

}  // namespace aion::envcfg
