// The egress BPF object file (bpf/egress.bpf.c compiled for the BPF target), embedded in
// the library at build time by egress.cmake. Immutable bytes; thread-safe.
#pragma once

#include <cstddef>

namespace aion::guard::detail {

extern const unsigned char kEgressBpfObject[];
extern const std::size_t kEgressBpfObjectSize;

}  // namespace aion::guard::detail
