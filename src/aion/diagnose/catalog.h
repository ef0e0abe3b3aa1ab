// The fault signature catalog: what a kernel, driver or job log line (or a daemon event)
// means, which component it points at, how bad it is, what evidence to collect and what to
// do. Loaded from data/signatures/*.toml (schema_version 1, data/signatures/README.md) and
// validated at load: a missing key, an unknown severity, a regex RE2 rejects or a capture
// group aion does not know is an error naming the file and the entry. A Catalog is an
// immutable value after loading; thread-safe, share it between threads freely.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::diagnose {

inline constexpr int kCatalogSchemaVersion = 1;

// Named capture groups a pattern may use; each becomes a device reference of the hit, except
// `xid` (the Xid code) and `elapsed_ms` (how long the reported operation had been running
// when it was reported, e.g. a collective's "ran for 600123 milliseconds before timing out").
inline constexpr std::string_view kDeviceGroups[] = {"pci",  "gpu", "xid", "nic",
                                                     "disk", "pid", "job", "elapsed_ms"};

// Where a log line comes from, as the engine is told: the kernel (kmsg, or the journal's
// _TRANSPORT=kernel), any other journal entry, a tailed file, a job's own output.
inline constexpr std::string_view kLineOrigins[] = {"kernel", "journal", "file", "job"};

struct Signature {
  std::string id;         // "nvidia-xid-79", unique over the catalog
  std::string title;      // one line
  std::string component;  // "gpu", "pcie", "memory", "disk", "network", "job", ...
  std::string severity;   // info | warning | critical
  // Prior that this signature, when present, is the root cause (0..1): specific hardware
  // faults are high, symptoms (a job failed, a collective timed out) are low.
  double weight = 0.5;
  std::vector<std::string> patterns;  // RE2 syntax; empty for event-only signatures
  bool fallback = false;              // only counts when no non-fallback signature matched the line
  std::optional<std::uint64_t> xid;   // NVML Xid events with this code match too
  std::string event;                  // a derived daemon event kind this signature stands for
  // For symptoms (an NCCL timeout, a hung task): the components of the causes that explain
  // them ("network", "disk"...). Evidence of it that names no hardware device joins an
  // incident of such a cause in the window instead of opening one of its own; see Engine.
  std::vector<std::string> explained_by;
  std::string meaning;
  std::vector<std::string> evidence;  // what to collect
  std::string action;                 // what to do
  std::string playbook;               // remediation playbook id, "" = none
  // The origins of log lines its patterns may match (kLineOrigins): "kernel" by default,
  // since anyone can write a kernel-looking line to the journal or a file. Lines of other
  // origins are not evidence of it. Whatever this says, only kernel lines (and aiond's own
  // events) make its playbook a proposal; see Engine.
  std::vector<std::string> origins{"kernel"};
  std::string source;  // where the facts come from (URL)
  std::string file;    // the catalog file it came from
};

class Catalog {
 public:
  // Every *.toml in `dir`, in name order. kNotFound when the directory is missing, kConfig
  // naming file and entry for anything invalid, kConfig for duplicate ids across files.
  static Result<Catalog> load_dir(const std::filesystem::path& dir);
  // One TOML document; `file` names it in errors.
  static Result<Catalog> parse(std::string_view text, const std::string& file);

  const std::vector<Signature>& signatures() const { return signatures_; }
  const Signature* find(std::string_view id) const;
  const Signature* find_xid(std::uint64_t xid) const;
  const Signature* find_event(std::string_view event) const;
  // Adds another catalog's entries; kConfig on a duplicate id.
  Status merge(Catalog other);

 private:
  std::vector<Signature> signatures_;
};

}  // namespace aion::diagnose
