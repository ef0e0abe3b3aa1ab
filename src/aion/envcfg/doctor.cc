#include "aion/envcfg/doctor.h"

#include <map>
#include <sstream>

#include "aion/core/json.h"
#include "aion/core/strings.h"

namespace aion::envcfg {
namespace {

constexpr std::size_t kMaxLine = 4096;  // longer lines are cut before matching

// "12.4" -> 12.4; a CUDA driver API number "11040" -> 11.4.
Version cuda_version_of(const std::string& text) {
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (digits && text.size() >= 4 && text.size() <= 6) {
    int n = std::stoi(text);
    return Version::parse(std::to_string(n / 1000) + "." + std::to_string((n % 1000) / 10));
  }
  return Version::parse(text);
}

std::map<std::string, std::string> machine_vars(const Knowledge& kb, const Machine& m) {
  std::map<std::string, std::string> v;
  v["driver"] = m.nvidia_driver.is_empty() ? "(no NVIDIA driver loaded)" : m.nvidia_driver.text();
  const Toolkit* tk = m.nvidia_driver.is_empty() ? nullptr : kb.newest_toolkit_for(m.nvidia_driver);
  v["driver_cuda"] = tk ? tk->version.text() : "(none)";
  // A machine without accelerators is described by its (absent) NVIDIA GPUs.
  const std::string_view vendor = gpu_vendor(m.accelerator_kind());
  v["gpus"] = m.describe_gpus(vendor.empty() ? "nvidia" : vendor);
  std::string cc, sm, gfx;
  for (const auto& g : m.gpus) {
    if (!g.cc.empty()) {
      Version c = Version::parse(g.cc);
      cc += (cc.empty() ? "" : ", ") + g.cc;
      sm += (sm.empty() ? "" : ", ") +
            ("sm_" + std::to_string(c.major()) + std::to_string(c.minor()));
    }
    if (!g.gfx.empty()) gfx += (gfx.empty() ? "" : ", ") + g.gfx;
  }
  v["cc"] = cc.empty() ? "(unknown)" : cc;
  v["sm"] = sm.empty() ? "the GPU's architecture" : sm;
  v["gfx"] = gfx.empty() ? "the GPU's gfx target" : gfx;
  v["rocm"] = m.rocm.is_empty() ? "(unknown)" : m.rocm.text();
  v["python"] = m.python.empty() ? "(unknown)" : m.python;
  return v;
}

}  // namespace

DoctorReport diagnose(std::string_view log, const Knowledge& kb, const Machine& m) {
  DoctorReport report;
  std::vector<DoctorFinding> found(kb.signatures.size());
  std::vector<std::smatch> first_match(kb.signatures.size());
  std::vector<std::string> first_line(kb.signatures.size());
  std::istringstream in{std::string(log)};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.size() > kMaxLine) line.resize(kMaxLine);
    for (std::size_t i = 0; i < kb.signatures.size(); ++i) {
      const Signature& sig = kb.signatures[i];
      for (const auto& re : sig.regexes) {
        std::smatch mt;
        if (!std::regex_search(line, mt, re)) continue;
        if (found[i].matches++ == 0) {
          found[i].line = n;
          first_line[i] = line;
          // Keep the captures: the smatch refers into first_line[i].
          std::regex_search(first_line[i], first_match[i], re);
        }
        break;
      }
    }
  }
  report.lines = static_cast<std::size_t>(n);
  auto base = machine_vars(kb, m);
  for (std::size_t i = 0; i < kb.signatures.size(); ++i) {
    if (found[i].matches == 0) continue;
    const Signature& sig = kb.signatures[i];
    auto vars = base;
    const std::smatch& mt = first_match[i];
    for (std::size_t g = 1; g < 10; ++g)
      vars[std::to_string(g)] = g < mt.size() && mt[g].matched ? mt[g].str() : "(not in the log)";
    vars["need_cuda"] = "(not in the log)";
    vars["need_driver"] = "(unknown)";
    if (sig.cuda_group > 0 && static_cast<std::size_t>(sig.cuda_group) < mt.size() &&
        mt[sig.cuda_group].matched) {
      Version need = cuda_version_of(mt[sig.cuda_group].str());
      vars["need_cuda"] = need.text();
      if (const Toolkit* tk = kb.toolkit(need)) vars["need_driver"] = tk->min_driver.text();
    }
    DoctorFinding f = found[i];
    f.id = sig.id;
    f.title = sig.title;
    f.excerpt = first_line[i];
    f.cause = fill_placeholders(sig.cause, vars);
    f.fix = fill_placeholders(sig.fix, vars);
    f.source = sig.source;
    f.diagnosis = report.findings.empty();
    report.findings.push_back(std::move(f));
  }
  return report;
}

std::string doctor_to_json(const DoctorReport& r, int indent) {
  Json f = Json::array();
  for (const auto& x : r.findings) {
    f.push_back({{"id", x.id},
                 {"title", x.title},
                 {"diagnosis", x.diagnosis},
                 {"line", x.line},
                 {"matches", x.matches},
                 {"excerpt", x.excerpt},
                 {"cause", x.cause},
                 {"fix", x.fix},
                 {"source", x.source}});
  }
  Json j = {{"lines", r.lines}, {"recognized", !r.findings.empty()}, {"findings", f}};
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace aion::envcfg
