#include "aion/envcfg/machine.h"

#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>

#include "aion/core/json.h"
#include "aion/core/process.h"
#include "aion/hw/inventory_json.h"

namespace aion::envcfg {
namespace {

std::map<std::string, std::string> key_values(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string v = line.substr(eq + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
    out[line.substr(0, eq)] = v;
  }
  return out;
}

// Strips the vendor's code name: "GA100 [A100 SXM4 80GB]" -> "A100 SXM4 80GB".
std::string short_model(const std::string& model) {
  auto open = model.find('[');
  auto close = model.rfind(']');
  if (open != std::string::npos && close != std::string::npos && close > open)
    return model.substr(open + 1, close - open - 1);
  return model;
}

}  // namespace

std::string python_series(std::string_view text) {
  std::string t(text);
  if (t.rfind("Python ", 0) == 0) t = t.substr(7);
  Version v = Version::parse(t);
  if (v.parts().size() < 2 || v.major() < 2) return "";
  return v.major_minor();
}

Backend Machine::accelerator_kind() const {
  std::map<std::string, int> per_vendor;
  for (const auto& g : gpus) per_vendor[g.vendor] += g.count;
  std::string best;
  int most = 0;
  for (const char* v : {"nvidia", "amd", "huawei"}) {
    if (per_vendor[v] > most) {
      most = per_vendor[v];
      best = v;
    }
  }
  if (best == "nvidia") return Backend::kCuda;
  if (best == "amd") return Backend::kRocm;
  if (best == "huawei") return Backend::kNpu;
  return Backend::kCpu;
}

std::vector<const GpuGroup*> Machine::gpus_of(std::string_view vendor) const {
  std::vector<const GpuGroup*> out;
  for (const auto& g : gpus)
    if (g.vendor == vendor) out.push_back(&g);
  return out;
}

std::string Machine::describe_gpus(std::string_view vendor) const {
  std::string out;
  for (const auto* g : gpus_of(vendor)) {
    std::string arch = !g->cc.empty() ? "compute capability " + g->cc : g->gfx;
    out += (out.empty() ? "" : ", ") + std::to_string(g->count) + "x " + g->model +
           (arch.empty() ? "" : " (" + arch + ")");
  }
  return out.empty() ? "no " + std::string(vendor) + " accelerators" : out;
}

Machine machine_from_inventory(const hw::Inventory& inv, const Knowledge& kb) {
  Machine m;
  m.name = inv.hostname;
  for (const auto& a : inv.accelerators) {
    if (a.state == "lost") {
      m.notes.push_back("accelerator " + a.pci.address + " is lost (fell off the bus); left out");
      continue;
    }
    GpuGroup g;
    g.vendor = a.vendor;
    g.model = short_model(a.model);
    g.cc = a.compute_capability;
    g.gfx = a.gfx_target;
    const GpuModel* known = kb.gpu_model(a.vendor, a.model);
    if (known) g.datacenter = known->datacenter;
    if (known && g.vendor == "nvidia" && g.cc.empty()) {
      g.cc = known->cc;
      g.cc_from_model = true;
    }
    if (known && g.vendor == "amd" && g.gfx.empty()) g.gfx = known->gfx;
    if (a.vendor == "nvidia" && !a.driver_version.empty() && m.nvidia_driver.is_empty())
      m.nvidia_driver = Version::parse(a.driver_version);
    auto same = std::find_if(m.gpus.begin(), m.gpus.end(), [&](const GpuGroup& x) {
      return x.vendor == g.vendor && x.model == g.model && x.cc == g.cc && x.gfx == g.gfx;
    });
    if (same == m.gpus.end()) {
      g.count = 1;
      g.device_nodes = a.device_nodes;
      m.gpus.push_back(std::move(g));
    } else {
      ++same->count;
      same->device_nodes.insert(same->device_nodes.end(), a.device_nodes.begin(),
                                a.device_nodes.end());
    }
  }
  for (const auto& g : m.gpus) {
    if (g.vendor == "nvidia" && g.cc.empty())
      m.notes.push_back("compute capability of " + g.model +
                        " unknown (no NVML and not in gpus.toml); architecture checks skipped");
    if (g.vendor == "nvidia" && g.cc_from_model)
      m.notes.push_back("compute capability of " + g.model + " (" + g.cc +
                        ") taken from the model table: the driver did not report it");
  }
  return m;
}

Result<Machine> machine_from_json(std::string_view text, const std::string& source,
                                  const Knowledge& kb) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    return fail(ErrorCode::kInvalidArgument,
                "machine description " + source + " is not valid JSON: " + e.what() +
                    ". Write one with `aion hw --json > machine.json`");
  }
  if (!j.is_object())
    return fail(ErrorCode::kInvalidArgument, "machine description " + source +
                                                 " must be a JSON object (as `aion hw --json` "
                                                 "writes it)");
  if (j.contains("accelerators") && !j["accelerators"].is_array())
    return fail(ErrorCode::kInvalidArgument,
                "machine description " + source + ": \"accelerators\" must be an array");
  // Descriptions written by hand often leave out what placement needs but plans do not.
  if (!j.contains("cpu")) j["cpu"] = Json::object();
  if (!j.contains("memory")) j["memory"] = Json::object();
  auto inv = hw::inventory_from_json(j.dump());
  if (!inv) {
    return fail(ErrorCode::kInvalidArgument,
                "machine description " + source + ": " + inv.error().message());
  }
  Machine m = machine_from_inventory(*inv, kb);
  m.source = source;
  try {
    if (j.contains("software")) {
      const Json& s = j.at("software");
      if (!s.is_object())
        return fail(ErrorCode::kInvalidArgument,
                    "machine description " + source + ": \"software\" must be an object");
      if (s.contains("os")) {
        m.os_id = s["os"].value("id", "");
        m.os_version = s["os"].value("version_id", "");
      }
      if (s.contains("python")) {
        m.python = python_series(s.at("python").get<std::string>());
        if (m.python.empty())
          return fail(ErrorCode::kInvalidArgument,
                      "machine description " + source + ": software.python '" +
                          s.at("python").get<std::string>() + "' is not a Python version");
      }
      m.rocm = Version::parse(s.value("rocm", ""));
      m.cann = Version::parse(s.value("cann", ""));
      m.npu_driver = Version::parse(s.value("npu_driver", ""));
      m.arch = s.value("arch", "x86_64");
    } else {
      m.notes.push_back("the description has no \"software\" object: OS and Python unknown");
    }
  } catch (const Json::exception& e) {
    return fail(ErrorCode::kInvalidArgument,
                "machine description " + source + ": malformed \"software\": " + e.what());
  }
  for (const auto& g : m.gpus) {
    if (g.vendor == "nvidia" && m.nvidia_driver.is_empty()) {
      m.notes.push_back("NVIDIA GPUs without a driver_version: driver checks assume none loaded");
      break;
    }
  }
  return m;
}

std::vector<std::string> rocm_gfx_gaps(const Machine& m, const RocmRelease& rr) {
  std::vector<std::string> out;
  for (const auto* g : m.gpus_of("amd")) {
    if (!g->gfx.empty() && std::find(rr.gfx.begin(), rr.gfx.end(), g->gfx) == rr.gfx.end())
      out.push_back(g->model + " (" + g->gfx + ") is not supported by ROCm " + rr.version.text() +
                    " (" + join(rr.gfx, ", ") + ")");
  }
  return out;
}

void read_software(const HostFs& fs, Machine& m) {
  if (auto text = fs.read("/etc/os-release")) {
    auto kv = key_values(*text);
    m.os_id = kv["ID"];
    m.os_version = kv["VERSION_ID"];
  } else {
    m.notes.push_back("no /etc/os-release: OS unknown");
  }
  if (auto v = fs.read_attr("/opt/rocm/.info/version")) m.rocm = Version::parse(*v);
  for (const char* p :
       {"/usr/local/Ascend/ascend-toolkit/latest/version.cfg",
        "/usr/local/Ascend/ascend-toolkit/latest/x86_64-linux/ascend_toolkit_install.info",
        "/usr/local/Ascend/ascend-toolkit/latest/aarch64-linux/ascend_toolkit_install.info"}) {
    auto text = fs.read(p);
    if (!text) continue;
    auto kv = key_values(*text);
    std::string v = kv.count("version") ? kv["version"] : kv["toolkit_installed_version"];
    if (auto colon = v.find(':'); colon != std::string::npos) v = v.substr(0, colon);
    if (!v.empty() && v.front() == '[') v.erase(0, 1);
    m.cann = Version::parse(v);
    if (!m.cann.is_empty()) break;
  }
  // The Ascend driver package records its version as "Version=24.1.0".
  if (auto text = fs.read("/usr/local/Ascend/driver/version.info")) {
    auto kv = key_values(*text);
    m.npu_driver = Version::parse(kv.count("Version") ? kv["Version"] : kv["version"]);
  }
  if (auto a = fs.read_attr("/proc/sys/kernel/arch")) {
    m.arch = *a;
  } else if (fs.is_live()) {
    struct utsname u {};
    if (::uname(&u) == 0) m.arch = u.machine;
  }
  if (!fs.is_live()) {
    m.notes.push_back("recorded machine (--host-root): installed Python not checked");
    return;
  }
  ProcessOptions opts;
  opts.argv = {"python3", "--version"};
  opts.timeout = std::chrono::milliseconds(5000);
  auto r = run_process(opts);
  if (r && r->ok()) {
    m.python = python_series(r->out.empty() ? r->err : r->out);
  } else {
    m.notes.push_back("no python3 on PATH: Python chosen from the framework's range");
  }
}

}  // namespace aion::envcfg
