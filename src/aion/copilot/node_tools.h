// The tools that answer from this machine without aiond: its hardware and topology, the fault
// signature catalog, the environment resolver, the tuning knobs and profiles, and the
// documentation index. They read a NodeFacts gathered once per question (or per chat) by the
// program, so they work on a recorded machine (--host-root) as on the live one.
// NodeFacts is a plain value shared read-only by the tools; add_node_tools() is not
// thread-safe with calls on the same Toolbox.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "aion/copilot/tools.h"
#include "aion/core/config.h"
#include "aion/core/host_fs.h"
#include "aion/diagnose/catalog.h"
#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"
#include "aion/hw/inventory.h"
#include "aion/tune/profile.h"

namespace aion::copilot {

class DocIndex;

// The shipped catalogs and tables the tools answer from: loaded once (per command, or at
// aiond's start) and shared by every question; immutable, so thread-safe to read. A member
// that could not be loaded is null and its tools are left out.
struct NodeKnowledge {
  std::shared_ptr<const diagnose::Catalog> catalog;
  std::shared_ptr<const envcfg::Knowledge> knowledge;
  std::shared_ptr<const tune::ProfileCatalog> profiles;
};
// The signature catalog the config names, the environment tables and the tuning profiles
// (shipped ones and `host`'s /etc/aion/profiles).
NodeKnowledge load_node_knowledge(const Config& config, const std::filesystem::path& state_dir,
                                  const HostFs& host);

struct NodeFacts {
  hw::Inventory inventory;
  std::string machine_label = "this machine";  // or the host root a recorded tree sits in
  std::optional<HostFs> host;                  // for the tuning knobs; none: not read
  std::shared_ptr<const diagnose::Catalog> catalog;
  std::shared_ptr<const envcfg::Knowledge> knowledge;
  std::optional<envcfg::Machine> env_machine;  // built from the inventory and the host
  std::shared_ptr<const tune::ProfileCatalog> profiles;
  // Opens the document index on first use (building or updating it can take a while, and
  // most questions need no documents); with `build` false an index not built yet is
  // kNotFound rather than built (a hint beside an answer is not worth a first build).
  // Empty: no document search.
  std::function<Result<DocIndex*>(bool build)> docs;
};

// The facts of `host` with its hardware `inventory`: the label, the shared knowledge, and the
// environment resolver's view of the machine (its software read from `host`).
std::shared_ptr<NodeFacts> node_facts(hw::Inventory inventory, const HostFs& host,
                                      const NodeKnowledge& k);

// Adds hardware, topology, fault_signature, env_plan, tuning and docs (each only when its
// facts are present).
void add_node_tools(Toolbox& box, std::shared_ptr<const NodeFacts> facts);

// The tuning knobs aion reports, as host paths with a short name ("numa_balancing",
// "/proc/sys/kernel/numa_balancing").
struct Knob {
  std::string name;
  std::string path;
  std::string meaning;
};
const std::vector<Knob>& tuning_knobs();

}  // namespace aion::copilot
