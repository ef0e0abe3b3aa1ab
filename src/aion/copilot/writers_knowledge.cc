// Answer writers for questions answered from aion's knowledge: fault codes and messages (the
// signature catalog), software environments (the resolver), tuning knobs and profiles, and
// how-to questions (the document index).
#include "aion/copilot/writers.h"

#include <set>

namespace aion::copilot {
namespace {

void say_signature(Draft& d, const Json& s) {
  d.say(str(s, "title") + " [" + str(s, "severity") + ", " + str(s, "component") + "]");
  if (!str(s, "meaning").empty()) d.say("Meaning: " + str(s, "meaning"));
  if (!str(s, "action").empty()) d.say("What to do: " + str(s, "action"));
  std::vector<std::string> ev;
  for (const auto& e : s.value("evidence", Json::array())) ev.push_back(e.get<std::string>());
  if (!ev.empty()) d.say("Collect: " + join_list(ev) + ".");
  if (!str(s, "playbook").empty())
    d.suggest("aion remediate <incident id> --playbook " + str(s, "playbook") + " --dry-run");
}

void xid_meaning(Draft& d) {
  const Json* r = d.use("fault_signature", {{"xid", d.q.xid}});
  if (!r) return;
  const auto list = r->value("signatures", Json::array());
  // The catalog's catch-all Xid entry is not an answer about this code.
  if (list.empty() || num(list[0], "xid", -1) != d.q.xid) {
    d.cannot("aion's signature catalog has no entry for Xid " + std::to_string(d.q.xid) +
             "; NVIDIA's Xid table (docs.nvidia.com/deploy/xid-errors) lists every code");
    return;
  }
  say_signature(d, list[0]);
}

void fault_meaning(Draft& d) {
  const Json* r = d.use("fault_signature", {{"query", d.q.text}});
  if (!r) return;
  const auto list = r->value("signatures", Json::array());
  if (list.empty()) {
    d.cannot(
        "nothing in aion's fault catalog matches this; ask about this node's hardware, "
        "jobs, incidents, environments or tuning, or search the documentation with "
        "`aion ask --docs-only`");
    return;
  }
  say_signature(d, list[0]);
  if (list.size() > 1) {
    std::vector<std::string> others;
    for (std::size_t i = 1; i < list.size(); ++i) others.push_back(str(list[i], "id"));
    d.say("Also close: " + join_list(others) + ".");
  }
}

// An error message from an AI environment: the environment doctor's signatures first (they
// explain it with this machine's driver and GPUs), then the fault catalog.
void env_error(Draft& d) {
  const Json* r = d.use("env_doctor", {{"log", d.q.text}});
  if (!r) return;
  const auto findings = r->value("findings", Json::array());
  if (findings.empty()) return fault_meaning(d);
  const Json& f = findings[0];
  d.say(str(f, "title") + ".");
  if (!str(f, "cause").empty()) d.say("Cause: " + str(f, "cause"));
  if (!str(f, "fix").empty()) d.say("Fix: " + str(f, "fix"));
  if (!str(f, "source").empty()) d.say("Source: " + str(f, "source"));
  std::vector<std::string> others;
  for (std::size_t i = 1; i < findings.size(); ++i) others.push_back(str(findings[i], "title"));
  if (!others.empty()) d.say("Also recognised: " + join_list(others) + ".");
  d.suggest("aion env doctor --log FILE");
}

void env_can_run(Draft& d) {
  if (d.q.framework.empty()) {
    d.cannot(
        "name the framework and, if it matters, its version, for example \"can this box run "
        "PyTorch 2.8?\"");
    return;
  }
  const Json* p = d.use("env_plan", {{"framework", d.q.framework}});
  if (!p) return;
  const std::string name = str(*p, "package").empty() ? d.q.framework : str(*p, "package");
  const std::string runtime = str(*p, "runtime").empty()
                                  ? ""
                                  : " with " +
                                        std::string(str(*p, "kind") == "rocm"   ? "ROCm "
                                                    : str(*p, "kind") == "cuda" ? "CUDA "
                                                                                : "") +
                                        str(*p, "runtime");
  if (p->value("ok", false)) {
    d.say("Yes: " + name + " " + str(*p, "version") +
          (str(*p, "variant").empty() ? "" : " (" + str(*p, "variant") + ")") + " runs here" +
          runtime + (str(*p, "python").empty() ? "" : ", Python " + str(*p, "python")) + ".");
    for (const auto& c : p->value("install", Json::array())) d.suggest(c.get<std::string>());
    const Json image = p->value("image", Json::object());
    if (image.is_object() && !str(image, "ref").empty())
      d.say("Container image: " + str(image, "ref") + ".");
    for (const auto& w : p->value("warnings", Json::array()))
      d.say("Note: " + (w.is_string() ? w.get<std::string>() : w.dump()));
    return;
  }
  d.say("No: " + d.q.framework + " does not run on this machine as it is.");
  for (const auto& f : p->value("failures", Json::array())) d.say("  " + f.get<std::string>());
  for (const auto& w : p->value("ways_out", Json::array())) {
    const std::string text = w.is_string()            ? w.get<std::string>()
                             : str(w, "text").empty() ? w.dump()
                                                      : str(w, "text");
    d.say("Way out: " + text);
  }
  d.suggest("aion env plan " + d.q.framework);
}

void cuda_version(Draft& d) {
  const Json* p = d.use("env_plan", {{"framework", "cuda"}});
  if (!p) return;
  if (!p->value("ok", false)) {
    d.say("No CUDA toolkit fits this machine as it is.");
    for (const auto& f : p->value("failures", Json::array())) d.say("  " + f.get<std::string>());
    return;
  }
  d.say("The newest CUDA toolkit that fits this machine's driver and GPUs: " + str(*p, "version") +
        (str(*p, "compatibility").empty() ? ""
                                          : " (" + str(*p, "compatibility") + " compatibility)") +
        ".");
  for (const auto& r : p->value("reasons", Json::array()))
    if (str(r, "topic") == "driver" || str(r, "topic") == "gpu") d.say("  " + str(r, "text"));
  d.suggest("aion env plan cuda   # install commands and the container image");
}

const Json* knob(Draft& d, const char* name) {
  const Json* t = d.use("tuning");
  if (!t) return nullptr;
  auto it = t->at("knobs").find(name);
  return it == t->at("knobs").end() ? nullptr : &*it;
}

std::string knob_value(const Json& k) {
  return k["value"].is_null() ? "not present on this machine" : k["value"].get<std::string>();
}

// The docs' best section for a how-to, cited; nothing when there is no index yet.
void docs_hint(Draft& d, const std::string& query) {
  const Json* r = d.try_use("docs", {{"query", query}, {"build", false}});
  if (!r) return;
  const auto hits = r->value("hits", Json::array());
  if (!hits.empty()) d.say("See " + str(hits[0], "doc") + ", " + str(hits[0], "section") + ".");
}

void numa_balancing(Draft& d) {
  const Json* k = knob(d, "numa_balancing");
  if (!k) return;
  d.say("Automatic NUMA balancing (" + str(*k, "path") + ") is " + knob_value(*k) +
        (knob_value(*k) == "0"   ? " (off)."
         : knob_value(*k) == "1" ? " (on)."
                                 : "."));
  d.say(
      "To turn it off now: sysctl -w kernel.numa_balancing=0; to keep it off across reboots, put "
      "kernel.numa_balancing = 0 in a file under /etc/sysctl.d/. aion's ai-training profile sets "
      "it with a snapshot to roll back.");
  d.suggest("sudo sysctl -w kernel.numa_balancing=0");
  d.suggest("aion tune diff ai-training");
  docs_hint(d, "numa balancing sysctl");
}

void thp(Draft& d) {
  const Json* k = knob(d, "thp_enabled");
  if (!k) return;
  d.say("Transparent hugepages (" + str(*k, "path") + "): " + knob_value(*k) +
        " (the mode in brackets is in force).");
  d.suggest("echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled");
  docs_hint(d, "transparent hugepage");
}

void swappiness(Draft& d) {
  const Json* k = knob(d, "swappiness");
  if (!k) return;
  d.say("vm.swappiness is " + knob_value(*k) + ".");
  d.suggest("sudo sysctl -w vm.swappiness=10");
}

void cpu_governor(Draft& d) {
  const Json* k = knob(d, "cpu_governor");
  if (!k) return;
  d.say("CPU frequency governor (CPU 0): " + knob_value(*k) + ".");
  d.suggest("aion tune diff throughput   # what applying it (with a snapshot) would change");
}

void tuning_status(Draft& d) {
  const Json* t = d.use("tuning");
  if (!t) return;
  d.say("Kernel tuning now:");
  for (const auto& [name, k] : t->at("knobs").items()) d.say("  " + name + " = " + knob_value(k));
  std::vector<std::string> names;
  for (const auto& p : t->value("profiles", Json::array()))
    names.push_back(str(p, "name") + " (" + str(p, "summary") + ")");
  if (!names.empty()) d.say("Profiles aion can apply: " + join_list(names) + ".");
  d.suggest("aion tune status");
  d.suggest("aion tune diff ai-training");
}

// What applying a profile named in the question would change here.
void tuning_diff(Draft& d) {
  const Json* t = d.use("tuning");
  if (!t) return;
  std::string profile;
  std::vector<std::string> names;
  for (const auto& p : t->value("profiles", Json::array())) {
    const std::string n = str(p, "name");
    names.push_back(n);
    if (!n.empty() && d.q.lower.find(lower(n)) != std::string::npos && n.size() > profile.size())
      profile = n;
  }
  if (profile.empty()) {
    d.cannot("name the profile, one of " + join_list(names));
    return;
  }
  const Json* diff = d.use("tuning_diff", {{"profile", profile}});
  if (!diff) return;
  // One line per setting: its attributes' values now and wanted, the first path as example.
  std::vector<std::string> changes, unsupported;
  std::size_t attributes = 0;
  for (const auto& s : diff->value("settings", Json::array())) {
    if (!str(s, "unsupported").empty()) {
      unsupported.push_back(str(s, "key") + " (" + str(s, "unsupported") + ")");
      continue;
    }
    std::vector<const Json*> changing;
    std::set<std::string> nows;
    const Json targets = s.value("targets", Json::array());
    for (const auto& tg : targets) {
      if (!tg.value("changes", false)) continue;
      changing.push_back(&tg);
      nows.insert(str(tg, "now"));
    }
    if (changing.empty()) continue;
    attributes += changing.size();
    const Json& first = *changing.front();
    std::string line =
        "  " + str(s, "key") + ": " +
        (nows.size() == 1 ? str(first, "now") : join_list({nows.begin(), nows.end()})) + " -> " +
        str(first, "want");
    line += changing.size() == 1 ? " (" + str(first, "path") + ")"
                                 : " on " + std::to_string(changing.size()) + " attributes (" +
                                       str(first, "path") + ", ...)";
    if (!str(s, "reason").empty()) line += ": " + str(s, "reason");
    changes.push_back(std::move(line));
  }
  if (changes.empty()) {
    d.say("Applying " + profile + " would change nothing: this machine has its settings already.");
  } else {
    d.say("Applying " + profile + " would change " + std::to_string(changes.size()) +
          " setting(s), " + std::to_string(attributes) + " attribute(s):");
    for (const auto& c : changes) d.say(c);
    d.suggest("sudo aion tune apply " + profile);
  }
  if (!unsupported.empty()) d.say("Not applied on this machine: " + join_list(unsupported) + ".");
  d.suggest("aion tune diff " + profile);
}

void howto(Draft& d) {
  const Json* r = d.use("docs", {{"query", d.q.text}});
  if (!r) return;
  const auto hits = r->value("hits", Json::array());
  if (hits.empty()) {
    d.cannot("nothing in the man pages and aion's manuals on this node matches the question");
    return;
  }
  d.say("From " + str(hits[0], "doc") + ", " + str(hits[0], "section") + ":");
  d.say(str(hits[0], "snippet"));
  std::vector<std::string> more;
  for (std::size_t i = 1; i < hits.size() && i < 4; ++i)
    more.push_back(str(hits[i], "doc") + " (" + str(hits[i], "section") + ")");
  if (!more.empty()) d.say("Also: " + join_list(more) + ".");
}

}  // namespace

const std::vector<WriterEntry>& knowledge_writers() {
  static const std::vector<WriterEntry> w = {
      {"xid_meaning", xid_meaning},       {"fault_meaning", fault_meaning},
      {"env_can_run", env_can_run},       {"cuda_version", cuda_version},
      {"numa_balancing", numa_balancing}, {"thp", thp},
      {"swappiness", swappiness},         {"cpu_governor", cpu_governor},
      {"tuning_status", tuning_status},   {"howto", howto},
      {"env_error", env_error},           {"tuning_diff", tuning_diff},
  };
  return w;
}

}  // namespace aion::copilot
