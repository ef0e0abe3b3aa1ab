#include "aion/envcfg/scan.h"
#include "aion/core/strings.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "aion/core/json.h"
#include "aion/envcfg/resolver.h"

namespace aion::envcfg {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p, std::size_t max = 1 << 20) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return "";
  std::string s(max, '\0');
  in.read(s.data(), static_cast<std::streamsize>(max));
  s.resize(static_cast<std::size_t>(in.gcount()));
  return s;
}

// PEP 503 normalisation: lower case, runs of -_. become one '-'.
std::string normalize(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (!out.empty() && out.back() != '-') out += '-';
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

InstalledPackage read_metadata(const fs::path& dist_info) {
  InstalledPackage p;
  p.dist_info = dist_info.filename().string();
  std::istringstream in(read_file(dist_info / "METADATA"));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // the headers end at the first blank line
    auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon), value = line.substr(colon + 2);
    if (key == "Name") p.name = value;
    if (key == "Version") p.version = value;
    if (key == "Requires-Dist") p.requires_dist.push_back(value);
  }
  if (p.name.empty()) {
    // No METADATA: fall back on the directory name, "torch-2.4.1+cu121.dist-info".
    std::string stem = p.dist_info.substr(0, p.dist_info.size() - std::string(".dist-info").size());
    auto dash = stem.find('-');
    p.name = stem.substr(0, dash);
    if (dash != std::string::npos) p.version = stem.substr(dash + 1);
  }
  return p;
}

// `key = 'value'` or `key: Optional[str] = 'value'` (torch/version.py style); "" for None.
std::string py_assignment(const std::string& text, const std::string& key) {
  std::regex re("^\\s*" + key + "\\s*(:[^=\\n]*)?=\\s*['\"]([^'\"]*)['\"]",
                std::regex::ECMAScript | std::regex::multiline);
  std::smatch m;
  return std::regex_search(text, m, re) ? m[2].str() : "";
}

// 'key': 'value' inside a dict literal (tensorflow build_info.py).
std::string dict_entry(const std::string& text, const std::string& key) {
  std::regex re("['\"]" + key + "['\"]\\s*:\\s*['\"]([^'\"]*)['\"]");
  std::smatch m;
  return std::regex_search(text, m, re) ? m[1].str() : "";
}

std::vector<fs::path> find_site_packages(const fs::path& root, std::string* python) {
  std::vector<fs::path> out;
  std::error_code ec;
  auto has_dist_info = [&](const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".dist-info") return true;
    return false;
  };
  if (fs::is_directory(root, ec) && has_dist_info(root)) {
    out.push_back(root);
    std::string parent = root.parent_path().filename().string();
    if (parent.rfind("python3", 0) == 0) *python = python_series(parent.substr(6));
    return out;
  }
  for (const char* lib : {"lib", "lib64"}) {
    fs::path dir = root / lib;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string n = e.path().filename().string();
      if (n.rfind("python3", 0) != 0) continue;
      fs::path sp = e.path() / "site-packages";
      if (fs::is_directory(sp, ec) &&
          std::find(out.begin(), out.end(), fs::canonical(sp, ec)) == out.end()) {
        out.push_back(fs::canonical(sp, ec));
        if (python->empty()) *python = python_series(n.substr(6));
      }
    }
  }
  std::string cfg = read_file(root / "pyvenv.cfg");
  std::smatch m;
  if (std::regex_search(cfg, m, std::regex("version(_info)?\\s*=\\s*([0-9.]+)")))
    *python = python_series(m[2].str());
  return out;
}

class Scanner {
 public:
  Scanner(const Knowledge& kb, const Machine& m, ScanReport& r) : kb_(kb), m_(m), r_(r) {}

  void read_builds(const fs::path& sp) {
    std::string tv = read_file(sp / "torch" / "version.py");
    if (!tv.empty()) {
      r_.builds.push_back({"torch", py_assignment(tv, "__version__"), py_assignment(tv, "cuda"),
                           py_assignment(tv, "hip"), "", "torch/version.py"});
    }
    std::string tf = read_file(sp / "tensorflow" / "python" / "platform" / "build_info.py");
    if (!tf.empty()) {
      r_.builds.push_back({"tensorflow", "", dict_entry(tf, "cuda_version"),
                           dict_entry(tf, "rocm_version"), dict_entry(tf, "cudnn_version"),
                           "tensorflow/python/platform/build_info.py"});
    }
    std::string pd = read_file(sp / "paddle" / "version" / "__init__.py");
    if (!pd.empty()) {
      std::string cuda = py_assignment(pd, "cuda_version");
      r_.builds.push_back({"paddle", py_assignment(pd, "full_version"), cuda == "False" ? "" : cuda,
                           "", py_assignment(pd, "cudnn_version"), "paddle/version/__init__.py"});
    }
    std::string ort = read_file(sp / "onnxruntime" / "capi" / "build_and_package_info.py");
    if (!ort.empty()) {
      r_.builds.push_back(
          {"onnxruntime", py_assignment(ort, "__version__"), py_assignment(ort, "cuda_version"), "",
           py_assignment(ort, "cudnn_version"), "onnxruntime/capi/build_and_package_info.py"});
    }
  }

  void check() {
    std::map<std::string, std::vector<const InstalledPackage*>> by_name;
    for (const auto& p : r_.packages) by_name[normalize(p.name)].push_back(&p);
    for (const auto& [name, copies] : by_name) {
      if (copies.size() < 2) continue;
      std::vector<std::string> v;
      for (const auto* c : copies) v.push_back(c->version);
      add("error", name,
          "installed more than once (" + join(v, ", ") +
              "): an interrupted or mixed pip/conda install",
          "pip uninstall -y " + name + " (repeat until none is left), then reinstall one version");
    }
    check_pins(by_name);
    check_cuda_wheel_families();
    for (auto& b : r_.builds) {
      if (b.version.empty()) b.version = installed_version(by_name, b.framework);
      check_build(b);
    }
  }

 private:
  void add(std::string sev, std::string pkg, std::string text, std::string fix = "") {
    r_.findings.push_back({std::move(sev), std::move(pkg), std::move(text), std::move(fix)});
  }

  std::string installed_version(
      const std::map<std::string, std::vector<const InstalledPackage*>>& by,
      const std::string& framework) const {
    const Framework* f = kb_.find_framework(framework);
    if (!f) return "";
    std::vector<std::string> names = {f->package};
    names.insert(names.end(), f->other_packages.begin(), f->other_packages.end());
    for (const auto& n : names) {
      auto it = by.find(normalize(n));
      if (it != by.end()) return it->second.front()->version;
    }
    return "";
  }

  // Requires-Dist: name==version (no extras marker) must hold for installed packages.
  void check_pins(const std::map<std::string, std::vector<const InstalledPackage*>>& by) {
    static const std::regex re(
        "^\\s*([A-Za-z0-9][A-Za-z0-9._-]*)\\s*(\\[[^\\]]*\\])?\\s*\\(?\\s*==\\s*([A-Za-z0-9.+!_-]+)"
        "\\s*\\)?\\s*(;(.*))?$");
    for (const auto& p : r_.packages) {
      for (const auto& req : p.requires_dist) {
        std::smatch m;
        if (!std::regex_match(req, m, re)) continue;
        if (m[5].matched && m[5].str().find("extra") != std::string::npos) continue;
        auto it = by.find(normalize(m[1].str()));
        if (it == by.end()) continue;
        const std::string& have = it->second.front()->version;
        Version want = Version::parse(m[3].str());
        Version got = Version::parse(have);
        if (got.has_prefix(want) && (want.local().empty() || want.local() == got.local())) continue;
        add("error", p.name,
            p.name + " " + p.version + " requires " + m[1].str() + "==" + m[3].str() + " but " +
                have + " is installed",
            "pip install \"" + m[1].str() + "==" + m[3].str() + "\" (or reinstall " + p.name +
                " so pip resolves its pins)");
      }
    }
  }

  void check_cuda_wheel_families() {
    std::set<std::string> families;
    std::vector<std::string> names;
    static const std::regex re("^nvidia-.*-(cu1[0-9])$");
    for (const auto& p : r_.packages) {
      std::smatch m;
      std::string n = normalize(p.name);
      if (std::regex_match(n, m, re)) {
        families.insert(m[1].str());
        names.push_back(n + " " + p.version);
      }
    }
    if (families.size() > 1)
      add("error", "nvidia-*",
          "CUDA wheels of different major releases are mixed (" + join(names, ", ") +
              "): libraries of one will load symbols of the other",
          "uninstall the nvidia-*-cu1X wheels that the framework does not require, then "
          "reinstall the framework from one index");
  }

  const Release* release_of(const std::string& fw, const Version& v) const {
    for (const auto* r : kb_.releases_of(fw))
      if (r->version == v) return r;
    return nullptr;
  }

  void check_build(const InstalledBuild& b) {
    Version ver = Version::parse(b.version);
    const Release* rel = release_of(b.framework, ver);
    std::string label = b.framework + " " + (b.version.empty() ? "(version unknown)" : b.version);
    const Backend kind = m_.accelerator_kind();
    if (rel && !r_.python.empty()) check_python(b, *rel, label);
    if (!b.cuda.empty()) {
      if (kind != Backend::kCuda) {
        add(kind == Backend::kCpu ? "warning" : "error", b.framework,
            label + " is a CUDA " + b.cuda + " build but this machine has no NVIDIA GPU" +
                (kind == Backend::kCpu ? " (it will run on the CPU)"
                                       : " (it has " + std::string(to_string(kind)) + " devices)"),
            "aion env plan " + b.framework + " prints the build for this machine");
        return;
      }
      check_cuda_build(b, rel, label);
      return;
    }
    if (!b.rocm.empty()) {
      if (kind != Backend::kRocm) {
        add("error", b.framework,
            label + " is a ROCm build (hip " + b.rocm + ") but this machine has no AMD GPU",
            "aion env plan " + b.framework + " prints the build for this machine");
        return;
      }
      check_rocm_build(b, label);
      return;
    }
    if (kind == Backend::kCuda || kind == Backend::kRocm)
      add("warning", b.framework,
          label + " is a CPU-only build: the " + m_.describe_gpus(gpu_vendor(kind)) +
              " will not be used (torch.cuda.is_available() is False)",
          "aion env plan " + b.framework + " prints the GPU build and its --index-url");
  }

  void check_python(const InstalledBuild& b, const Release& rel, const std::string& label) {
    Version py = Version::parse(r_.python);
    if (py < Version::parse(rel.python_min.major_minor()) ||
        py > Version::parse(rel.python_max.major_minor()))
      add("error", b.framework,
          label + " supports Python " + rel.python_min.major_minor() + "-" +
              rel.python_max.major_minor() + "; this environment is Python " + r_.python,
          "recreate the environment with a supported Python (aion env plan " + b.framework +
              " --python X.Y)");
  }

  // The GPU code of a CUDA build: that of this exact build when the tables know it (the
  // variant from the local label "2.4.1+cu121", else the one of the same CUDA); empty when
  // they do not.
  std::vector<std::string> known_archs(const InstalledBuild& b, const Release* rel) const {
    std::string variant = Version::parse(b.version).local();
    const Variant* build = nullptr;
    if (rel) {
      for (const auto& v : rel->variants) {
        if (v.kind != Backend::kCuda) continue;
        if (!variant.empty() && v.name == variant) build = &v;
        bool same_cuda = v.runtime.major_minor() == Version::parse(b.cuda).major_minor();
        if (variant.empty() && same_cuda && (!build || v.is_default)) build = &v;
      }
    }
    return build ? build->archs : std::vector<std::string>{};
  }

  // A CUDA build on a machine with NVIDIA GPUs: kernels for these GPUs, and whether the
  // driver starts its CUDA (natively, by minor-version or forward compatibility).
  void check_cuda_build(const InstalledBuild& b, const Release* rel, const std::string& label) {
    std::vector<std::string> archs = known_archs(b, rel);
    bool archs_known = !archs.empty();
    if (!archs_known)
      for (const auto* g : m_.gpus_of("nvidia"))
        if (!g->cc.empty())
          archs.push_back("sm_" + std::to_string(Version::parse(g->cc).major()) +
                          std::to_string(Version::parse(g->cc).minor()));
    CudaCompat cc = check_cuda(kb_, m_, Version::parse(b.cuda), archs);
    if (!cc.arch_ok)
      add("error", b.framework,
          label + " (" + b.record + ": cuda " + b.cuda + ") has no kernels for this GPU: " +
              cc.arch_detail + " -> 'no kernel image is available for execution on the device'",
          "aion env plan " + b.framework + " prints a build compiled for this GPU");
    if (cc.mode.empty()) {
      add("error", b.framework,
          label + " was built for CUDA " + b.cuda +
              " and will not start on this machine: " + cc.detail,
          "aion env plan " + b.framework + " prints a build this driver runs" +
              (cc.need_driver.is_empty()
                   ? ""
                   : ", or upgrade the driver to >= " + cc.need_driver.text()));
    } else if (cc.mode == "minor") {
      add("info", b.framework, label + " (CUDA " + b.cuda + "): " + cc.detail);
    } else if (cc.mode == "forward") {
      add("warning", b.framework,
          label + " (CUDA " + b.cuda + ") needs forward compatibility: " + cc.forward_detail,
          "install " + cc.forward_package + " and put /usr/local/cuda/compat on LD_LIBRARY_PATH");
    } else {
      add("info", b.framework, label + " (CUDA " + b.cuda + "): " + cc.detail);
    }
    if (!archs_known)
      add("info", b.framework,
          label + " is not in the tables; its GPU architectures were not checked");
  }

  // A ROCm build on a machine with AMD GPUs: the GPUs its ROCm supports, and the host's ROCm.
  void check_rocm_build(const InstalledBuild& b, const std::string& label) {
    Version rv = Version::parse(b.rocm);
    const RocmRelease* rr = kb_.rocm_release(rv);
    for (const auto* g : m_.gpus_of("amd")) {
      if (rr && !g->gfx.empty() &&
          std::find(rr->gfx.begin(), rr->gfx.end(), g->gfx) == rr->gfx.end())
        add("error", b.framework,
            label + " (ROCm " + rv.major_minor() + ") does not support " + g->model + " (" +
                g->gfx + ") -> hipErrorNoBinaryForGpu",
            "aion env plan " + b.framework);
    }
    if (!m_.rocm.is_empty() &&
        Version::parse(rv.major_minor()) > Version::parse(m_.rocm.major_minor()))
      add("error", b.framework,
          label + " needs ROCm >= " + rv.major_minor() + "; the host has " + m_.rocm.text(),
          "upgrade the host's ROCm or install the build for ROCm " + m_.rocm.major_minor());
    else
      add("info", b.framework, label + ": ROCm " + rv.major_minor() + " build");
  }

  const Knowledge& kb_;
  const Machine& m_;
  ScanReport& r_;
};

}  // namespace

bool ScanReport::ok() const {
  return std::none_of(findings.begin(), findings.end(),
                      [](const ScanFinding& f) { return f.severity == "error"; });
}

Result<ScanReport> scan_environment(const fs::path& path, const Knowledge& kb, const Machine& m) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return fail(ErrorCode::kNotFound, "cannot scan " + path.string() + ": no such directory");
  ScanReport r;
  r.path = path.string();
  auto sps = find_site_packages(path, &r.python);
  if (sps.empty())
    return fail(ErrorCode::kNotFound,
                "no site-packages under " + path.string() +
                    " (looked for *.dist-info there and in lib/python3.*/site-packages): give a "
                    "venv, a conda environment or a site-packages directory");
  Scanner scanner(kb, m, r);
  for (const auto& sp : sps) {
    r.site_packages.push_back(sp.string());
    std::vector<fs::path> dist_infos;
    for (const auto& e : fs::directory_iterator(sp, ec))
      if (e.path().extension() == ".dist-info" && e.is_directory(ec))
        dist_infos.push_back(e.path());
    std::sort(dist_infos.begin(), dist_infos.end());
    for (const auto& d : dist_infos) r.packages.push_back(read_metadata(d));
    scanner.read_builds(sp);
  }
  scanner.check();
  return r;
}

std::string scan_to_json(const ScanReport& r, int indent) {
  Json pk = Json::array();
  for (const auto& p : r.packages) pk.push_back({{"name", p.name}, {"version", p.version}});
  Json builds = Json::array();
  for (const auto& b : r.builds)
    builds.push_back({{"framework", b.framework},
                      {"version", b.version},
                      {"cuda", b.cuda},
                      {"rocm", b.rocm},
                      {"cudnn", b.cudnn},
                      {"record", b.record}});
  Json f = Json::array();
  for (const auto& x : r.findings)
    f.push_back(
        {{"severity", x.severity}, {"package", x.package}, {"text", x.text}, {"fix", x.fix}});
  Json j = {{"path", r.path},     {"site_packages", r.site_packages},
            {"python", r.python}, {"ok", r.ok()},
            {"packages", pk},     {"builds", builds},
            {"findings", f}};
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace aion::envcfg
