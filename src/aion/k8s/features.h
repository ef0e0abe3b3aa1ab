// Node labels for Kubernetes, in node-feature-discovery's "local" source format: one
// `name=value` line per label in a file under /etc/kubernetes/node-feature-discovery/
// features.d/, which NFD's worker turns into node labels (names without a domain get
// NFD's prefix; ours carry aion.io/ so they appear as written).
//
// Labels (every value is a valid Kubernetes label value: at most 63 characters of
// [A-Za-z0-9._-], starting and ending with a letter or digit):
//   aion.io/gpu.count               accelerators on the node (0 on a node without any: the
//                                   only label then)
//   aion.io/gpu.vendor              nvidia | amd | intel | huawei | other
//   aion.io/gpu.model               "NVIDIA-A100-SXM4-80GB"; the most common model when they
//                                   differ (then also aion.io/gpu.mixed=true)
//   aion.io/gpu.memory-gib          memory of one accelerator in GiB, to the nearest (a
//                                   "24 GB" card reports 23.99 GiB)
//   aion.io/gpu.compute-capability  NVIDIA "8.0"
//   aion.io/gpu.gfx-target          AMD "gfx90a"
//   aion.io/gpu.driver              driver version ("535.104.05"), else the kernel driver
//   aion.io/gpu.nvlink-island-size  the largest set of accelerators every two of which
//                                   share a direct NVLink (NVSwitch counts) or XGMI link;
//                                   0 when no two do
// A label whose value is unknown is left out. Pure functions of an Inventory; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aion/hw/inventory.h"

namespace aion::k8s {

struct Feature {
  std::string name;  // "aion.io/gpu.count"
  std::string value;
};

std::vector<Feature> node_features(const hw::Inventory& inv);

// The NFD local-source file: "name=value\n" per feature, in the given order.
std::string features_file(const std::vector<Feature>& features);

// Largest clique of accelerators linked pairwise by NVLink or XGMI (0 when no pair is).
// Exact for up to 20 accelerators, greedy above.
int nvlink_island_size(const hw::Inventory& inv);

// `text` as a label value: invalid characters become '-', runs of '-' collapse, leading and
// trailing non-alphanumerics go, at most 63 characters.
std::string label_value(std::string_view text);

}  // namespace aion::k8s
