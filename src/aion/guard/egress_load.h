// The libbpf side of the egress monitor (egress.h): loading a fresh copy of the embedded
// egress BPF object, and saying precisely why the kernel refused it (no cgroup2, no bpf(),
// no privilege, a kernel without these program types, the verifier). Internal to guard.
//
// Thread-safe. libbpf's message hook is process-wide: it is set once, the first time a
// function here runs, and sends libbpf's warnings to a buffer of the calling thread while one
// of these functions runs (they become part of its error), and drops them otherwise.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"

struct bpf_object;

namespace aion::guard::detail {

struct BpfObjectCloser {
  void operator()(bpf_object* object) const;
};
using BpfObject = std::unique_ptr<bpf_object, BpfObjectCloser>;

// Opens and loads (verifies) the embedded egress object: new maps, new programs, attached
// nowhere. On failure, the error of check_kernel_support() when it finds what is missing,
// else the tail of the verifier's log.
Result<BpfObject> load_egress_object();

// The mount point of the cgroup2 file system in /proc/self/mounts (the first one; a pure
// cgroup v2 machine's /sys/fs/cgroup is preferred). kUnsupported when none is mounted.
Result<std::string> cgroup2_mount(const HostFs& fs);

// Tries bpf() with trivial programs of each type and attach type the egress programs use,
// and a ring buffer map; the first refusal as an error naming what is missing and the fix.
Status check_kernel_support();

// An error for a bpf() call on a cgroup (attach, query) that failed with `err`.
Error cgroup_bpf_error(int err, std::string_view what, std::string_view dir);

}  // namespace aion::guard::detail
