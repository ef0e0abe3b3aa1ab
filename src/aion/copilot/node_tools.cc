#include "aion/copilot/node_tools.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "aion/copilot/docs.h"
#include "aion/core/paths.h"
#include "aion/core/strings.h"
#include "aion/diagnose/service.h"
#include "aion/envcfg/doctor.h"
#include "aion/envcfg/resolver.h"
#include "aion/hw/inventory_json.h"
#include "aion/hw/topology.h"
#include "aion/tune/job_tuning.h"

namespace aion::copilot {
namespace {

// At most this many signatures answer a free-text query.
constexpr std::size_t kMaxSignatureHits = 3;
constexpr std::size_t kMaxDocHits = 5;

Json no_args() {
  return {{"type", "object"}, {"properties", Json::object()}};
}

// The inventory without the list of every PCI function (large, and nothing a question needs
// that the devices themselves do not carry).
Json hardware_json(const hw::Inventory& inv) {
  Json j = Json::parse(hw::to_json(inv, -1));
  j.erase("pci");
  return j;
}

Json signature_json(const diagnose::Signature& s) {
  Json j = {{"id", s.id},
            {"title", s.title},
            {"component", s.component},
            {"severity", s.severity},
            {"meaning", s.meaning},
            {"evidence", s.evidence},
            {"action", s.action},
            {"playbook", s.playbook},
            {"source", s.source},
            {"file", std::filesystem::path(s.file).filename().string()}};
  if (s.xid) j["xid"] = *s.xid;
  return j;
}

// Words that say nothing about which fault is meant.
bool stopword(const std::string& w) {
  static const std::set<std::string, std::less<>> s = {
      "the",  "and",   "for",    "what",    "does",     "mean",    "means", "meaning", "this",
      "that", "with",  "from",   "has",     "have",     "how",     "why",   "when",    "which",
      "who",  "error", "errors", "message", "messages", "warning", "log",   "logs",    "line",
      "see",  "get",   "got",    "are",     "was",      "were",    "can",   "should",  "about",
      "say",  "says",  "saying", "is",      "of",       "on",      "in",    "my",      "our"};
  return s.contains(w);
}

std::set<std::string> words_of(std::string_view text) {
  std::set<std::string> out;
  std::string w;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!w.empty()) {
      if (w.size() > 2 && !stopword(w)) out.insert(w);
      w.clear();
    }
  }
  if (w.size() > 2 && !stopword(w)) out.insert(w);
  return out;
}

// Signatures ranked by how many of the query's words their id, title and meaning share.
Json search_signatures(const diagnose::Catalog& cat, std::string_view query) {
  const auto q = words_of(query);
  std::vector<std::pair<int, const diagnose::Signature*>> scored;
  for (const auto& s : cat.signatures()) {
    const auto w = words_of(s.id + " " + s.title + " " + s.meaning);
    int n = 0;
    for (const auto& x : q) n += static_cast<int>(w.count(x));
    // At least half of the query's telling words must be there, so that one common word
    // ("gpu") does not make an answer.
    if (n > 0 && 2 * n >= static_cast<int>(q.size())) scored.emplace_back(n, &s);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  Json out = Json::array();
  for (std::size_t i = 0; i < scored.size() && i < kMaxSignatureHits; ++i)
    out.push_back(signature_json(*scored[i].second));
  return out;
}

Result<ToolOutput> fault_signature(const diagnose::Catalog& cat, const Json& args) {
  const long long xid = int_arg(args, "xid", -1);
  const std::string id = string_arg(args, "id");
  const std::string query = string_arg(args, "query");
  if (xid >= 0) {
    const auto* s = cat.find_xid(static_cast<std::uint64_t>(xid));
    Json list = Json::array();
    if (s) list.push_back(signature_json(*s));
    return ToolOutput{{{"xid", xid}, {"signatures", list}},
                      s ? "data/signatures/" + list[0]["file"].get<std::string>() + ": " + s->id
                        : "data/signatures (no entry for Xid " + std::to_string(xid) + ")"};
  }
  if (!id.empty()) {
    const auto* s = cat.find(id);
    if (!s) return fail(ErrorCode::kNotFound, "no fault signature '" + id + "' in the catalog");
    Json j = signature_json(*s);
    return ToolOutput{{{"signatures", Json::array({j})}},
                      "data/signatures/" + j["file"].get<std::string>() + ": " + s->id};
  }
  if (query.empty()) {
    return fail(ErrorCode::kInvalidArgument, "fault_signature needs xid, id or query");
  }
  Json list = search_signatures(cat, query);
  std::string source = "data/signatures";
  for (const auto& s : list)
    source += (source == "data/signatures" ? ": " : ", ") + s["id"].get<std::string>();
  return ToolOutput{{{"query", query}, {"signatures", list}}, source};
}

Json read_knobs(const HostFs& host) {
  Json out = Json::object();
  for (const Knob& k : tuning_knobs()) {
    auto v = host.read_attr(k.path);
    out[k.name] = {{"path", k.path},
                   {"value", v ? Json(std::string(trim(*v))) : Json(nullptr)},
                   {"meaning", k.meaning}};
  }
  return out;
}

Json profiles_json(const tune::ProfileCatalog& cat) {
  Json out = Json::array();
  for (const auto& p : cat.profiles()) {
    Json settings = Json::array();
    for (const auto& s : p.settings)
      settings.push_back({{"key", s.key}, {"value", s.value}, {"reason", s.reason}});
    out.push_back({{"name", p.name},
                   {"summary", p.summary},
                   {"inherits", p.inherits},
                   {"settings", settings},
                   {"origin", p.origin}});
  }
  return out;
}

void add_hardware_tools(Toolbox& box, const std::shared_ptr<const NodeFacts>& f) {
  box.add({"hardware",
           "This machine's hardware: CPU model, sockets, cores; NUMA nodes with CPUs and memory; "
           "memory and hugepages; every accelerator (index, vendor, kind, model, memory, driver, "
           "compute capability, UUID, MIG mode, NUMA node, PCI address and link, NVLink links, "
           "state); NICs (speed, RDMA device, NUMA node); NVMe devices and disks; the kernel.",
           no_args()},
          [f](const Json&) -> Result<ToolOutput> {
            return ToolOutput{hardware_json(f->inventory), "aion hw (" + f->machine_label + ")"};
          });
  box.add({"topology",
           "The device topology matrix like nvidia-smi topo -m: for every pair of GPUs and "
           "NICs the link between them (X, NV<n> NVLink, PIX, PXB, PHB, NODE, SYS), and each "
           "device's CPU affinity and NUMA node.",
           no_args()},
          [f](const Json&) -> Result<ToolOutput> {
            return ToolOutput{Json::parse(hw::to_json(hw::build_topology(f->inventory), -1)),
                              "aion hw topo (" + f->machine_label + ")"};
          });
}

void add_knowledge_tools(Toolbox& box, const std::shared_ptr<const NodeFacts>& f) {
  if (f->catalog) {
    box.add({"fault_signature",
             "Looks up aion's catalog of kernel, GPU and job fault signatures: what an NVIDIA "
             "Xid code, an error message or a fault means, how severe it is, what evidence to "
             "collect and the action to take. Give xid (a number), id, or query (free text).",
             {{"type", "object"},
              {"properties",
               {{"xid", {{"type", "integer"}}},
                {"id", {{"type", "string"}}},
                {"query", {{"type", "string"}}}}}}},
            [f](const Json& args) { return fault_signature(*f->catalog, args); });
  }
  if (f->knowledge && f->env_machine) {
    box.add({"env_plan",
             "Resolves a working software stack on this machine for a framework or toolkit "
             "request such as 'pytorch', 'torch==2.8', 'tensorflow', 'jax', 'vllm', 'cuda==12.4' "
             "or 'rocm==6.2': whether it can run, the build, CUDA/ROCm runtime, Python, the pip "
             "command and container image, or why not and the ways out.",
             {{"type", "object"},
              {"properties", {{"framework", {{"type", "string"}}}}},
              {"required", {"framework"}}}},
            [f](const Json& args) -> Result<ToolOutput> {
              const std::string fw = string_arg(args, "framework");
              auto plan = envcfg::make_plan(*f->knowledge, *f->env_machine, {fw, "", ""});
              if (!plan) return std::unexpected(plan.error());
              return ToolOutput{Json::parse(envcfg::plan_to_json(*plan, -1)),
                                "aion env plan " + fw + " (" + f->machine_label + ")"};
            });
    box.add({"env_doctor",
             "Recognises AI-environment failures in an error message or log excerpt (driver too "
             "old for the CUDA runtime, no kernel image for the GPU, missing cuDNN or cudart, "
             "NVML mismatch, undefined symbols from mixed wheels, pip finding no build, ...) and "
             "explains each with this machine's driver and GPUs: cause and fix.",
             {{"type", "object"},
              {"properties", {{"log", {{"type", "string"}}}}},
              {"required", {"log"}}}},
            [f](const Json& args) -> Result<ToolOutput> {
              const std::string log = string_arg(args, "log");
              if (log.empty()) return fail(ErrorCode::kInvalidArgument, "log: the text to check");
              const auto report = envcfg::diagnose(log, *f->knowledge, *f->env_machine);
              return ToolOutput{Json::parse(envcfg::doctor_to_json(report, -1)),
                                "aion env doctor (" + f->machine_label + ")"};
            });
  }
}

void add_tuning_and_docs(Toolbox& box, const std::shared_ptr<const NodeFacts>& f) {
  if (f->host) {
    box.add({"tuning",
             "The kernel tuning knobs as they are now (NUMA balancing, transparent hugepages, "
             "swappiness, max_map_count, hugepages, CPU governor) and the tuning profiles aion "
             "can apply with their settings and reasons.",
             no_args()},
            [f](const Json&) -> Result<ToolOutput> {
              Json j = {{"knobs", read_knobs(*f->host)}};
              if (f->profiles) j["profiles"] = profiles_json(*f->profiles);
              return ToolOutput{j, "/proc/sys and /sys (" + f->machine_label + "), data/profiles"};
            });
  }
  if (f->host) {
    box.add({"tuning_diff",
             "What applying one of aion's tuning profiles (see the tuning tool) would change on "
             "this machine: each setting's attributes with their value now and the value wanted, "
             "and settings that do not apply here with why. Reads only.",
             {{"type", "object"},
              {"properties", {{"profile", {{"type", "string"}}}}},
              {"required", {"profile"}}}},
            [f](const Json& args) -> Result<ToolOutput> {
              const std::string name = string_arg(args, "profile");
              auto plan = tune::plan_profile(name, *f->host, f->inventory);
              if (!plan) return std::unexpected(plan.error());
              Json settings = Json::array();
              for (const auto& s : plan->settings) {
                Json targets = Json::array();
                for (const auto& t : s.targets) {
                  targets.push_back({{"path", t.path},
                                     {"now", t.current},
                                     {"want", t.want},
                                     {"changes", t.needs_change()}});
                }
                settings.push_back({{"key", s.setting.key},
                                    {"value", s.setting.value},
                                    {"reason", s.setting.reason},
                                    {"changes", s.needs_change()},
                                    {"unsupported", s.unsupported},
                                    {"targets", targets}});
              }
              return ToolOutput{{{"profile", plan->profile},
                                 {"changes", plan->needs_change()},
                                 {"settings", settings}},
                                "aion tune diff " + name + " (" + f->machine_label + ")"};
            });
  }
  if (f->docs) {
    box.add({"docs",
             "Searches the documentation on this node: installed man pages, aion's manuals and "
             "its data catalogs. Returns the best sections with the document and section to cite.",
             {{"type", "object"},
              {"properties", {{"query", {{"type", "string"}}}}},
              {"required", {"query"}}}},
            [f](const Json& args) -> Result<ToolOutput> {
              auto index = f->docs(args.value("build", true));
              if (!index) return std::unexpected(index.error());
              auto hits = (*index)->search(string_arg(args, "query"), kMaxDocHits);
              if (!hits) return std::unexpected(hits.error());
              Json list = Json::array();
              std::string source;
              for (const auto& h : *hits) {
                list.push_back({{"doc", h.doc},
                                {"section", h.section},
                                {"title", h.title},
                                {"snippet", h.snippet},
                                {"score", h.score}});
                source += (source.empty() ? "" : "; ") + h.doc + ", " + h.section;
              }
              return ToolOutput{{{"hits", list}}, source.empty() ? "document index" : source};
            });
  }
}

}  // namespace

const std::vector<Knob>& tuning_knobs() {
  static const std::vector<Knob> knobs = {
      {"numa_balancing", "/proc/sys/kernel/numa_balancing",
       "automatic NUMA balancing: 1 on, 0 off"},
      {"thp_enabled", "/sys/kernel/mm/transparent_hugepage/enabled",
       "transparent hugepages: the mode in brackets is in force"},
      {"thp_defrag", "/sys/kernel/mm/transparent_hugepage/defrag",
       "when the kernel compacts memory for transparent hugepages"},
      {"swappiness", "/proc/sys/vm/swappiness", "how readily the kernel swaps (0-200)"},
      {"max_map_count", "/proc/sys/vm/max_map_count", "memory map areas a process may have"},
      {"nr_hugepages", "/proc/sys/vm/nr_hugepages", "persistent hugepages of the default size"},
      {"cpu_governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
       "CPU frequency governor (of CPU 0)"},
  };
  return knobs;
}

NodeKnowledge load_node_knowledge(const Config& config, const std::filesystem::path& state_dir,
                                  const HostFs& host) {
  NodeKnowledge k;
  if (auto opts = diagnose::diagnose_options(config, state_dir)) {
    if (auto d = diagnose::load_knowledge(*opts))
      k.catalog = std::make_shared<const diagnose::Catalog>(std::move((*d)->catalog));
  }
  if (auto kb = envcfg::load_knowledge(data_dir() / "envcfg"))
    k.knowledge = std::make_shared<const envcfg::Knowledge>(std::move(*kb));
  if (auto p = tune::ProfileCatalog::load(tune::builtin_profile_dir(), host))
    k.profiles = std::make_shared<const tune::ProfileCatalog>(std::move(*p));
  return k;
}

std::shared_ptr<NodeFacts> node_facts(hw::Inventory inventory, const HostFs& host,
                                      const NodeKnowledge& k) {
  auto f = std::make_shared<NodeFacts>();
  f->inventory = std::move(inventory);
  f->machine_label = host.is_live() ? "this machine" : host.root().string();
  f->host = host;
  f->catalog = k.catalog;
  f->profiles = k.profiles;
  if (k.knowledge) {
    envcfg::Machine m = envcfg::machine_from_inventory(f->inventory, *k.knowledge);
    m.source = f->machine_label;
    envcfg::read_software(host, m);
    f->env_machine = std::move(m);
    f->knowledge = k.knowledge;
  }
  return f;
}

void add_node_tools(Toolbox& box, std::shared_ptr<const NodeFacts> facts) {
  add_hardware_tools(box, facts);
  add_knowledge_tools(box, facts);
  add_tuning_and_docs(box, facts);
}

}  // namespace aion::copilot
