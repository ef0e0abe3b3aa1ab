#include "aion/envcfg/resolver.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "aion/core/json.h"
#include "aion/core/strings.h"
#include "aion/envcfg/base_image.h"
#include "aion/envcfg/toolkit.h"

namespace aion::envcfg {
namespace {

// Python series of a release, newest first: 3.13, 3.12, ...
std::vector<std::string> python_series_of(const Release& r) {
  std::vector<std::string> out;
  if (r.python_min.major() != r.python_max.major()) return {r.python_max.major_minor()};
  for (int minor = r.python_max.minor(); minor >= r.python_min.minor(); --minor)
    out.push_back(std::to_string(r.python_max.major()) + "." + std::to_string(minor));
  return out;
}

bool python_in(const Release& r, const std::string& py) {
  Version v = Version::parse(py);
  return v >= Version::parse(r.python_min.major_minor()) &&
         v <= Version::parse(r.python_max.major_minor());
}

std::string python_range(const Release& r) {
  return r.python_min.major_minor() + "-" + r.python_max.major_minor();
}

struct Failure {
  std::string kind;  // "python" | "driver" | "arch" | "rocm" | "cann" | "npu_driver" | "runtime"
  std::string text;
  Version need;  // driver / ROCm / CANN that would fix it; empty when none can
};

struct Candidate {
  const Release* rel = nullptr;
  const Variant* var = nullptr;
  std::string python;
  std::string python_reason;
  CudaCompat cuda;
  std::vector<Failure> failures;
  std::vector<Reason> reasons;

  bool ok() const { return failures.empty(); }
  bool fails_only_on(std::string_view kind) const {
    return !failures.empty() && std::all_of(failures.begin(), failures.end(),
                                            [&](const Failure& f) { return f.kind == kind; });
  }
  std::string label() const { return rel->framework + " " + rel->version.text() + "+" + var->name; }
  std::string failure_text() const {
    std::vector<std::string> t;
    for (const auto& f : failures) t.push_back(f.text);
    return join(t, "; ");
  }
};

struct Query {
  const Framework* fw = nullptr;
  VersionSpec spec;
  std::string python;              // hard
  std::string variant;             // name or kind, as asked
  std::optional<Backend> backend;  // when `variant` names a kind
};

class Resolver {
 public:
  Resolver(const Knowledge& kb, const Machine& m) : kb_(kb), m_(m) {}

  // Every build of the query's releases that the machine could use, evaluated; viable ones
  // sorted best first.
  std::vector<Candidate> search(const Query& q) const {
    std::vector<Candidate> all;
    for (const Release* rel : kb_.releases_of(q.fw->name)) {
      if (!q.spec.matches(rel->version)) continue;
      for (const auto& var : rel->variants) {
        if (!allowed(var, q)) continue;
        all.push_back(evaluate(*q.fw, *rel, var, q.python));
      }
    }
    std::stable_sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
      if (a.ok() != b.ok()) return a.ok();
      bool fa = a.ok() && a.cuda.mode == "forward", fb = b.ok() && b.cuda.mode == "forward";
      if (fa != fb) return !fa;
      if (a.rel->version != b.rel->version) return a.rel->version > b.rel->version;
      if (a.var->is_default != b.var->is_default) return a.var->is_default;
      bool full_a = a.cuda.mode == "full", full_b = b.cuda.mode == "full";
      if (full_a != full_b) return full_a;
      return a.var->runtime > b.var->runtime;
    });
    return all;
  }

  bool allowed(const Variant& v, const Query& q) const {
    if (!q.variant.empty()) return q.backend ? v.kind == *q.backend : v.name == q.variant;
    return v.kind == m_.accelerator_kind() || v.kind == Backend::kOpenVino;
  }

  Candidate evaluate(const Framework& fw, const Release& rel, const Variant& var,
                     const std::string& hard_python) const {
    Candidate c;
    c.rel = &rel;
    c.var = &var;
    choose_python(rel, hard_python, c);
    if (var.kind == Backend::kCuda) {
      check_cuda_build(fw, var, c);
    } else if (var.kind == Backend::kRocm) {
      check_rocm_build(var, c);
    } else if (var.kind == Backend::kNpu) {
      check_npu_build(var, c);
    }
    return c;
  }

 private:
  void choose_python(const Release& rel, const std::string& hard, Candidate& c) const {
    if (!hard.empty()) {
      if (python_in(rel, hard)) {
        c.python = hard;
        c.python_reason = "Python " + hard + " as asked (" + rel.framework + " " +
                          rel.version.text() + " supports " + python_range(rel) + ")";
      } else {
        c.failures.push_back({"python",
                              "Python " + hard + " is outside " + rel.framework + " " +
                                  rel.version.text() + "'s range " + python_range(rel),
                              {}});
      }
      return;
    }
    if (!m_.python.empty() && python_in(rel, m_.python)) {
      c.python = m_.python;
      c.python_reason = "Python " + m_.python + ": the machine's python3 (" + rel.framework + " " +
                        rel.version.text() + " supports " + python_range(rel) + ")";
      return;
    }
    Version cap = Version::parse(kb_.python_default_cap);
    auto series = python_series_of(rel);
    c.python = series.empty() ? rel.python_max.major_minor() : series.front();
    for (const auto& s : series) {
      if (Version::parse(s) <= cap) {
        c.python = s;
        break;
      }
    }
    c.python_reason = "Python " + c.python + ": the newest " + rel.framework + " " +
                      rel.version.text() + " supports (" + python_range(rel) + ") up to " +
                      kb_.python_default_cap + " (platforms.toml python_default_cap)";
    if (!m_.python.empty())
      c.python_reason += "; the machine's python3 is " + m_.python +
                         ", outside that range: use the container, or a venv made with "
                         "`uv venv --python " +
                         c.python + "`";
  }

  void check_cuda_build(const Framework& fw, const Variant& var, Candidate& c) const {
    c.cuda = check_cuda(kb_, m_, var.runtime, var.archs);
    if (!c.cuda.arch_ok) c.failures.push_back({"arch", c.cuda.arch_detail, {}});
    if (c.cuda.mode.empty()) c.failures.push_back({"driver", c.cuda.detail, c.cuda.need_driver});
    if (!fw.min_cc.empty()) {
      for (const auto* g : m_.gpus_of("nvidia")) {
        if (!g->cc.empty() && Version::parse(g->cc) < Version::parse(fw.min_cc))
          c.failures.push_back({"arch",
                                fw.display + " needs compute capability >= " + fw.min_cc + "; " +
                                    g->model + " has " + g->cc,
                                {}});
      }
    }
  }

  void check_rocm_build(const Variant& var, Candidate& c) const {
    const RocmRelease* rr = kb_.rocm_release(var.runtime);
    if (!rr) {
      c.failures.push_back({"runtime",
                            "ROCm " + var.runtime.major_minor() + " is not in rocm.toml (covers " +
                                kb_.rocm.front().version.text() + "-" +
                                kb_.rocm.back().version.text() + ")",
                            {}});
      return;
    }
    for (auto& gap : rocm_gfx_gaps(m_, *rr)) c.failures.push_back({"arch", std::move(gap), {}});
    if (!m_.rocm.is_empty() &&
        Version::parse(var.runtime.major_minor()) > Version::parse(m_.rocm.major_minor())) {
      c.failures.push_back({"rocm",
                            "the build needs ROCm >= " + var.runtime.major_minor() +
                                " on the host; this machine has ROCm " + m_.rocm.text(),
                            Version::parse(var.runtime.major_minor())});
    }
  }

  void check_npu_build(const Variant& var, Candidate& c) const {
    if (!m_.cann.is_empty() &&
        Version::parse(var.runtime.major_minor()) > Version::parse(m_.cann.major_minor())) {
      c.failures.push_back({"cann",
                            "the build needs CANN >= " + var.runtime.major_minor() +
                                "; this machine has CANN " + m_.cann.text(),
                            Version::parse(var.runtime.major_minor())});
    }
    // The CANN the build needs runs on NPU drivers from its release's floor on.
    const CannRelease* cr = kb_.cann_release(var.runtime);
    if (cr && !cr->min_driver.is_empty() && !m_.npu_driver.is_empty() &&
        m_.npu_driver < cr->min_driver) {
      c.failures.push_back({"npu_driver",
                            "CANN " + cr->version.text() +
                                " needs NPU driver (Ascend HDK) >= " + cr->min_driver.text() +
                                "; this machine has " + m_.npu_driver.text(),
                            cr->min_driver});
    }
  }

  const Knowledge& kb_;
  const Machine& m_;
};

std::string fill(std::string text, const std::map<std::string, std::string>& vars) {
  text = fill_placeholders(std::move(text), vars);
  std::string out;
  for (char ch : text) {
    if (ch == ' ' && !out.empty() && out.back() == ' ') continue;
    out += ch;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The known name (or alias) fewest edits away from `name`, case-insensitively.
std::string nearest_alias(const Knowledge& kb, const std::string& name) {
  std::string best;
  std::size_t best_d = SIZE_MAX;
  for (const auto& f : kb.frameworks) {
    for (const auto& alias : f.aliases) {
      const std::size_t d = edit_distance(lower(name), lower(alias));
      if (d < best_d) {
        best_d = d;
        best = alias;
      }
    }
  }
  return best;
}

Error unknown_framework(const Knowledge& kb, const std::string& name) {
  std::vector<std::string> names;
  for (const auto& f : kb.frameworks) names.push_back(join(f.aliases, "/"));
  std::string best = nearest_alias(kb, name);
  return Error(ErrorCode::kInvalidArgument,
               "unknown framework '" + name + "'" +
                   (best.empty() ? "" : "; did you mean '" + best + "'?") +
                   " (known: " + join(names, ", ") + ")");
}

// The request as a query: a known framework, a satisfiable version constraint some release
// matches, a Python 3 series, a variant the framework had. Errors as make_plan() documents.
Result<Query> parse_query(const Knowledge& kb, const PlanRequest& req, const Requirement& rq) {
  Query q;
  q.fw = kb.find_framework(rq.name);
  if (!q.fw) return std::unexpected(unknown_framework(kb, rq.name));
  auto spec = VersionSpec::parse(rq.spec);
  if (!spec) return std::unexpected(spec.error());
  if (auto why = spec->contradiction())
    return fail(ErrorCode::kInvalidArgument,
                "impossible version constraint '" + req.framework + "': " + *why);
  q.spec = *spec;
  auto releases = kb.releases_of(q.fw->name);
  if (std::none_of(releases.begin(), releases.end(),
                   [&](const Release* r) { return q.spec.matches(r->version); })) {
    std::vector<std::string> known;
    for (const auto* r : releases) known.push_back(r->version.text());
    return fail(ErrorCode::kNotFound, "no " + q.fw->display + " release in the tables matches '" +
                                          rq.spec + "' (known: " + join(known, ", ") +
                                          "; tables as of " + kb.as_of() + ")");
  }
  if (!req.python.empty()) {
    q.python = python_series(req.python);
    if (q.python.empty() || q.python.rfind("3.", 0) != 0)
      return fail(ErrorCode::kInvalidArgument,
                  "--python '" + req.python + "' is not a Python 3 version such as 3.11");
  }
  q.variant = req.variant;
  q.backend = parse_backend(q.variant);
  if (!q.variant.empty() && !q.backend) {
    std::set<std::string> names;
    for (const auto* r : releases)
      for (const auto& v : r->variants) names.insert(v.name);
    if (!names.contains(q.variant))
      return fail(ErrorCode::kInvalidArgument,
                  q.fw->display + " has no build '" + q.variant + "' (known: " +
                      join(std::vector<std::string>(names.begin(), names.end()), ", ") +
                      ", or a kind: cuda, rocm, cpu, npu, openvino)");
  }
  return q;
}

// What every plan says, fitting or not.
Plan plan_header(const Knowledge& kb, const Machine& m, const Query& q, const PlanRequest& req) {
  Plan p;
  p.request = req.framework;
  p.framework = q.fw->name;
  p.display = q.fw->display;
  p.package = q.fw->package;
  p.kb_as_of = kb.as_of();
  p.warnings = m.notes;
  if (m.arch != "x86_64")
    p.warnings.push_back("the tables describe x86_64 wheels; availability for " + m.arch +
                         " was not checked");
  for (const auto& v : kb.vendor_stacks)
    if (v.status != "published" && !m.gpus_of(v.vendor).empty())
      p.warnings.push_back(v.stack + " (" + v.status + "): " + v.what + " [" + v.source + "]");
  return p;
}

// The chosen build's fields and its pip lines.
void fill_build(const Query& q, const Candidate& c, Plan& p) {
  const Release& rel = *c.rel;
  const Variant& var = *c.var;
  p.ok = true;
  p.version = rel.version.text();
  p.variant = var.name;
  p.kind = var.kind;
  p.runtime = var.runtime.is_empty() ? "" : var.runtime.text();
  p.cudnn = var.cudnn;
  p.python = c.python;
  p.compatibility = c.cuda.mode;
  p.forward_package = c.cuda.forward_package;
  p.requires_torch = rel.requires_torch;
  p.index = var.index;
  p.companions = rel.companions;
  std::map<std::string, std::string> vars = {{"version", rel.version.text()},
                                             {"index", var.index},
                                             {"companions", join(rel.companions, " ")},
                                             {"requires", rel.requires_torch}};
  for (const auto& line : var.install.empty() ? q.fw->install : var.install)
    p.install.push_back(fill(line, vars));
}

// Why this build runs on the accelerator: driver and GPU code, ROCm, CANN, or the variant.
void add_runtime_reason(const Knowledge& kb, const Machine& m, const Candidate& c, Plan& p) {
  const Release& rel = *c.rel;
  const Variant& var = *c.var;
  std::string variant_text = var.name + " (" + std::string(to_string(var.kind)) +
                             (p.runtime.empty() ? "" : " " + p.runtime) + ")";
  if (var.kind == Backend::kCuda) {
    p.reasons.push_back({"driver", variant_text + ": " + c.cuda.detail,
                         kb.toolkit(var.runtime) ? kb.toolkit(var.runtime)->source : ""});
    if (!c.cuda.arch_detail.empty()) p.reasons.push_back({"gpu", c.cuda.arch_detail, rel.source});
  } else if (var.kind == Backend::kRocm) {
    const RocmRelease* rr = kb.rocm_release(var.runtime);
    p.reasons.push_back({"gpu",
                         variant_text + ": ROCm " + var.runtime.major_minor() + " supports " +
                             m.describe_gpus("amd") +
                             (m.rocm.is_empty() ? " (host ROCm version unknown: the host's "
                                                  "amdgpu driver must come from ROCm >= " +
                                                      var.runtime.major_minor() + ")"
                                                : "; host ROCm " + m.rocm.text() +
                                                      " >= " + var.runtime.major_minor()),
                         rr ? rr->source : ""});
  } else if (var.kind == Backend::kNpu) {
    p.reasons.push_back(
        {"runtime",
         variant_text + ": needs CANN >= " + var.runtime.major_minor() +
             (m.cann.is_empty() ? " (host CANN version unknown)" : "; host CANN " + m.cann.text()),
         rel.source});
  } else {
    p.reasons.push_back({"variant",
                         variant_text + (m.accelerator_kind() == Backend::kCpu
                                             ? ": no supported accelerator on this machine"
                                             : ": as asked"),
                         rel.source});
  }
}

// The reasons for the chosen build, topic by topic, and the table row's confidence.
void add_choice_reasons(const Knowledge& kb, const Machine& m, const Query& q,
                        const Requirement& rq, const Candidate& c, Plan& p) {
  const Release& rel = *c.rel;
  const Variant& var = *c.var;
  std::string which = q.spec.empty() ? "the newest release in the tables"
                                     : "the newest release matching '" + rq.spec + "'";
  p.reasons.push_back({"version",
                       q.fw->display + " " + rel.version.text() + ": " + which +
                           " that runs on this machine (tables as of " + p.kb_as_of + ")",
                       rel.source});
  add_runtime_reason(kb, m, c, p);
  if (!rel.requires_torch.empty())
    p.reasons.push_back({"torch",
                         q.fw->display + " " + rel.version.text() + " is built against torch " +
                             rel.requires_torch + "; pip installs that exact version with it",
                         rel.source});
  p.reasons.push_back({"python", c.python_reason, rel.source});
  if (!var.cudnn.empty())
    p.reasons.push_back(
        {"cudnn",
         "cuDNN " + var.cudnn + ": the version this build was made with" +
             std::string(q.fw->name == "onnxruntime" ? " (install it beside; ONNX Runtime does not "
                                                       "bundle it)"
                                                     : " (pulled in as a pip dependency)"),
         rel.source});
  if (rel.confidence == "approximate")
    p.warnings.push_back(q.fw->display + " " + rel.version.text() +
                         ": this table row is marked approximate; check it against " + rel.source);
}

// Why newer builds were not chosen: the first few that fail, and a newer one that would run
// only with forward compatibility.
void add_skipped_reasons(const std::vector<Candidate>& all, const Release& rel, Plan& p) {
  int shown = 0;
  for (const auto& other : all) {
    if (other.ok() || other.rel->version <= rel.version || shown >= 4) continue;
    p.reasons.push_back({"skipped", other.label() + " not chosen: " + other.failure_text(), ""});
    ++shown;
  }
  for (const auto& other : all) {
    if (other.ok() && other.cuda.mode == "forward" && other.rel->version > rel.version) {
      p.reasons.push_back({"skipped",
                           other.label() + " would run with forward compatibility (" +
                               other.cuda.forward_package +
                               "); builds that run natively come first (ask for it "
                               "with --variant " +
                               other.var->name + ")",
                           ""});
      break;
    }
  }
}

// What fails, per build considered; with no build of the kind at all, the frameworks that
// have one (each a way out, checked like the others).
void add_failures(const Knowledge& kb, const Machine& m, const Query& q, const Requirement& rq,
                  const PlanRequest& req, const std::vector<Candidate>& all, Plan& p) {
  for (const auto& c : all) {
    if (p.failures.size() >= 10) break;
    p.failures.push_back(c.label() + ": " + c.failure_text());
  }
  if (!all.empty()) return;
  const std::optional<Backend> backend = q.variant.empty() ? m.accelerator_kind() : q.backend;
  const std::string kind = q.variant.empty() ? std::string(to_string(*backend)) : q.variant;
  p.failures.push_back(q.fw->display + " has no " + kind + " build in the tables" +
                       (q.spec.empty() ? "" : " matching '" + rq.spec + "'"));
  for (const auto& f : kb.frameworks) {
    for (const auto* r : kb.releases_of(f.name)) {
      if (std::any_of(r->variants.begin(), r->variants.end(),
                      [&](const Variant& v) { return v.kind == backend; })) {
        WayOut w{"framework", "frameworks with " + kind + " builds: ", req};
        w.request.framework = f.aliases.front();
        w.request.variant = to_string(*backend);
        p.ways_out.push_back(std::move(w));
        break;
      }
    }
  }
}

// The request pinned to a candidate's release when the candidate came from a loosened
// search (another version than asked).
PlanRequest request_for(const PlanRequest& req, const Query& q, const Candidate& c,
                        bool other_version) {
  PlanRequest r = req;
  if (other_version) r.framework = q.fw->aliases.front() + "==" + c.rel->version.text();
  return r;
}

std::string also_version(bool other_version) {
  return other_version ? " (another version than asked)" : "";
}

// Driver upgrades: the newest build a driver upgrade unlocks and the smallest upgrade, from
// the request's builds or, when none can be unlocked, from any version. Why forward
// compatibility does not help, and hardware no driver helps, are failures, not ways out.
void add_driver_ways_out(const std::vector<Candidate>& all, const std::vector<Candidate>& loose,
                         const Query& q, const PlanRequest& req, Plan& p) {
  auto fixable = [](const Candidate& c) {
    return c.fails_only_on("driver") && !c.cuda.need_driver.is_empty();
  };
  const bool other = std::none_of(all.begin(), all.end(), fixable);
  const std::vector<Candidate>& pool = other ? loose : all;
  const Candidate* newest = nullptr;
  const Candidate* cheapest = nullptr;
  for (const auto& c : pool) {
    if (!fixable(c)) continue;
    if (!newest) newest = &c;
    if (!cheapest || c.cuda.need_driver < cheapest->cuda.need_driver) cheapest = &c;
  }
  auto driver_way = [&](const Candidate& c) {
    WayOut w{"driver",
             "upgrade the NVIDIA driver to >= " + c.cuda.need_driver.text() + " (branch R" +
                 std::to_string(c.cuda.need_driver.major()) + " or newer): then " + c.label() +
                 " runs" + also_version(other),
             request_for(req, q, c, other)};
    w.driver = c.cuda.need_driver;
    p.ways_out.push_back(std::move(w));
  };
  if (newest) driver_way(*newest);
  if (cheapest && cheapest != newest && cheapest->cuda.need_driver < newest->cuda.need_driver)
    driver_way(*cheapest);
  for (const auto& c : all) {
    if (c.fails_only_on("driver") && !c.cuda.forward_detail.empty() && !c.cuda.below_floor) {
      p.failures.push_back("forward compatibility for " + c.label() +
                           " does not help: " + c.cuda.forward_detail);
      break;
    }
  }
  for (const auto& c : all) {
    if (!c.fails_only_on("driver") || !c.cuda.need_driver.is_empty()) continue;
    p.failures.push_back("no driver upgrade helps " + c.label() + ": " + c.cuda.detail);
    break;
  }
}

// CANN is user space: an image that brings the CANN a build needs runs it on the host's NPU
// driver, whatever CANN the host has. Offered for the newest build that fails only on the
// host's CANN and has such an image.
void add_container_way_out(const Knowledge& kb, const PlanRequest& req,
                           const std::vector<Candidate>& all, Plan& p) {
  for (const auto& c : all) {
    if (!c.fails_only_on("cann")) continue;
    for (const auto& im : kb.images) {
      if (im.kind != Backend::kNpu || im.runtime.major_minor() != c.var->runtime.major_minor())
        continue;
      WayOut w{"container",
               "run it in " + im.ref + " (CANN " + im.runtime.text() +
                   " inside; the host keeps its NPU driver): then " + c.label() + " runs",
               req};
      w.cann = im.runtime;
      w.image = im.ref;
      p.ways_out.push_back(std::move(w));
      return;
    }
  }
}

// Host ROCm or CANN upgrades (from the request's builds, else from any version), and a Python
// the build supports.
void add_host_ways_out(const Knowledge& kb, const Query& q, const PlanRequest& req,
                       const std::vector<Candidate>& all, const std::vector<Candidate>& loose,
                       Plan& p) {
  struct HostPart {
    const char* kind;
    const char* what;
    Version WayOut::*field;
  };
  static const HostPart kParts[] = {{"rocm", "the host's ROCm", &WayOut::rocm},
                                    {"cann", "the host's CANN", &WayOut::cann},
                                    {"npu_driver", "the NPU driver", &WayOut::npu_driver}};
  for (const auto& part : kParts) {
    const bool other = std::none_of(all.begin(), all.end(),
                                    [&](const Candidate& c) { return c.fails_only_on(part.kind); });
    for (const auto& c : other ? loose : all) {
      if (!c.fails_only_on(part.kind)) continue;
      const Version need = c.failures.front().need;
      WayOut w{part.kind,
               std::string("upgrade ") + part.what + " to >= " + need.text() + ": then " +
                   c.label() + " runs" + also_version(other),
               request_for(req, q, c, other)};
      w.*part.field = need;
      p.ways_out.push_back(std::move(w));
      break;
    }
  }
  add_container_way_out(kb, req, all, p);
  if (q.python.empty()) return;
  for (const auto& c : all) {
    if (!c.fails_only_on("python")) continue;
    auto series = python_series_of(*c.rel);
    std::string pick = series.empty() ? "" : series.front();
    for (const auto& s : series)
      if (Version::parse(s) <= Version::parse(kb.python_default_cap)) {
        pick = s;
        break;
      }
    WayOut w{"python",
             "pick Python " + pick + " (--python " + pick + "): " + c.label() + " supports " +
                 python_range(*c.rel),
             req};
    w.request.python = pick;
    p.ways_out.push_back(std::move(w));
    break;
  }
}

// Loosened requests that would resolve: any version, any variant, any Python, CPU only.
void add_retry_ways_out(const Resolver& resolver, const Machine& m, const Query& q,
                        const PlanRequest& req, Plan& p) {
  auto retry = [&](Query changed, const std::string& kind, const std::string& lead,
                   PlanRequest asked) {
    auto again = resolver.search(changed);
    if (again.empty() || !again.front().ok()) return;
    p.ways_out.push_back(
        {kind,
         lead + again.front().label() +
             (again.front().cuda.mode.empty() ? ""
                                              : " (" + again.front().cuda.mode + " compatibility)"),
         std::move(asked)});
  };
  if (!q.spec.empty()) {
    Query any = q;
    any.spec = VersionSpec();
    PlanRequest asked = req;
    asked.framework = q.fw->aliases.front();
    retry(any, "version", "use another version: the newest that runs here is ", asked);
  }
  if (!q.variant.empty() && q.backend != Backend::kCpu) {
    Query any = q;
    any.variant.clear();
    any.backend.reset();
    PlanRequest asked = req;
    asked.variant.clear();
    retry(any, "variant", "drop --variant " + q.variant + ": ", asked);
  }
  if (!q.python.empty()) {
    Query any = q;
    any.python.clear();
    PlanRequest asked = req;
    asked.python.clear();
    retry(any, "python", "drop --python " + q.python + ": ", asked);
  }
  if (m.accelerator_kind() != Backend::kCpu && q.backend != Backend::kCpu) {
    Query cpu = q;
    cpu.backend = Backend::kCpu;
    cpu.variant = to_string(*cpu.backend);
    PlanRequest asked = req;
    asked.variant = cpu.variant;
    retry(cpu, "cpu", "CPU-only build, without GPU acceleration: ", asked);
  }
}

// One plan, without checking its ways out (make_plan() does that).
Result<Plan> plan_once(const Knowledge& kb, const Machine& m, const PlanRequest& req) {
  Requirement rq = split_requirement(req.framework);
  if (is_toolkit_request(rq.name)) return make_toolkit_plan(kb, m, req);
  auto q = parse_query(kb, req, rq);
  if (!q) return std::unexpected(q.error());
  Resolver resolver(kb, m);
  std::vector<Candidate> all = resolver.search(*q);
  Plan p = plan_header(kb, m, *q, req);
  if (!all.empty() && all.front().ok()) {
    const Candidate& c = all.front();
    fill_build(*q, c, p);
    add_choice_reasons(kb, m, *q, rq, c, p);
    add_skipped_reasons(all, *c.rel, p);
    const ChosenBuild chosen{*c.rel, *c.var, c.python, c.cuda};
    choose_image(kb, m, *q->fw, chosen, p);
    choose_alternative(kb, m, chosen, p);
    return p;
  }
  // Nothing fits: what fails, and the nearest ways out.
  p.ok = false;
  std::vector<Candidate> loose;
  if (!q->spec.empty()) {
    Query any = *q;
    any.spec = VersionSpec();
    loose = resolver.search(any);
  }
  add_failures(kb, m, *q, rq, req, all, p);
  add_driver_ways_out(all, loose, *q, req, p);
  add_host_ways_out(kb, *q, req, all, loose, p);
  add_retry_ways_out(resolver, m, *q, req, p);
  return p;
}

// Keeps the ways out that resolve when re-planned on the changed machine; the frameworks
// offered instead are merged into one way out.
void check_ways_out(const Knowledge& kb, const Machine& m, Plan& p) {
  std::vector<WayOut> kept;
  std::vector<std::string> frameworks;
  for (auto& w : p.ways_out) {
    auto again = plan_once(kb, apply_way_out(m, w), w.request);
    if (!again || !again->ok) {
      ++p.ways_out_dropped;
      continue;
    }
    if (w.kind == "framework") {
      frameworks.push_back(w.request.framework);
      if (frameworks.size() > 1) continue;
    }
    kept.push_back(std::move(w));
  }
  for (auto& w : kept)
    if (w.kind == "framework") w.text += join(frameworks, ", ");
  p.ways_out = std::move(kept);
}

}  // namespace

Machine apply_way_out(const Machine& m, const WayOut& w) {
  Machine out = m;
  if (!w.driver.is_empty()) out.nvidia_driver = w.driver;
  if (!w.rocm.is_empty()) out.rocm = w.rocm;
  if (!w.cann.is_empty()) out.cann = w.cann;
  if (!w.npu_driver.is_empty()) out.npu_driver = w.npu_driver;
  return out;
}

Result<Plan> make_plan(const Knowledge& kb, const Machine& m, const PlanRequest& req) {
  return make_plan(kb, m, req, today_utc());
}

Result<Plan> make_plan(const Knowledge& kb, const Machine& m, const PlanRequest& req,
                       std::string_view today) {
  auto p = plan_once(kb, m, req);
  if (!p) return p;
  if (!p->ok) check_ways_out(kb, m, *p);
  // A driver that cannot drive the GPU is the first thing the answer says.
  if (DriverFloor floor = driver_floor(kb, m); floor.below) {
    auto& lines = p->ok ? p->warnings : p->failures;
    lines.insert(lines.begin(), floor.detail);
  }
  if (std::string stale = staleness_warning(kb, today); !stale.empty())
    p->warnings.push_back(stale);
  return p;
}

std::string plan_to_json(const Plan& p, int indent) {
  Json reasons = Json::array();
  for (const auto& r : p.reasons)
    reasons.push_back({{"topic", r.topic}, {"text", r.text}, {"source", r.source}});
  Json ways = Json::array();
  for (const auto& w : p.ways_out) {
    Json host = Json::object();
    if (!w.driver.is_empty()) host["nvidia_driver"] = w.driver.text();
    if (!w.rocm.is_empty()) host["rocm"] = w.rocm.text();
    if (!w.cann.is_empty()) host["cann"] = w.cann.text();
    if (!w.npu_driver.is_empty()) host["npu_driver"] = w.npu_driver.text();
    if (!w.image.empty()) host["container_image"] = w.image;
    ways.push_back({{"kind", w.kind},
                    {"text", w.text},
                    {"upgrade", host},
                    {"request",
                     {{"framework", w.request.framework},
                      {"python", w.request.python},
                      {"variant", w.request.variant}}}});
  }
  Json j = {{"ok", p.ok},           {"request", p.request},       {"framework", p.framework},
            {"package", p.package}, {"tables_as_of", p.kb_as_of}, {"warnings", p.warnings}};
  if (p.ok) {
    j["version"] = p.version;
    j["variant"] = p.variant;
    j["kind"] = std::string(to_string(p.kind));
    j["runtime"] = p.runtime;
    j["cudnn"] = p.cudnn;
    j["python"] = p.python;
    j["compatibility"] = p.compatibility;
    j["forward_compat_package"] = p.forward_package;
    j["requires_torch"] = p.requires_torch;
    j["index_url"] = p.index;
    j["companions"] = p.companions;
    j["install"] = p.install;
    j["image"] = {{"ref", p.image},
                  {"os", p.image_os},
                  {"python_from", p.image_python},
                  {"disable_require", p.image_disable_require},
                  {"run_args", p.run_args},
                  {"run_note", p.run_note},
                  {"alternative", p.alternative_image}};
    j["reasons"] = reasons;
  } else {
    j["failures"] = p.failures;
    j["ways_out"] = ways;
    j["ways_out_dropped"] = p.ways_out_dropped;
  }
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace aion::envcfg
