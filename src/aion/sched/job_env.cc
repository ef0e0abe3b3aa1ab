#include "aion/sched/job_env.h"

#include "aion/core/strings.h"
#include "aion/hw/vendors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace aion::sched {

namespace {

// Each vendor's visible-devices variables for the GPUs the job got.
void add_visible_devices(std::map<std::string, std::string>& env, const NodeModel& model,
                         const Allocation& a) {
  std::map<std::string, std::vector<const GpuSlot*>> by_vendor;
  std::set<std::string> vendors;
  for (const auto& g : model.gpus) vendors.insert(g.vendor);
  for (int gi : a.gpus)
    by_vendor[model.gpus[static_cast<std::size_t>(gi)].vendor].push_back(
        &model.gpus[static_cast<std::size_t>(gi)]);
  auto indices = [](const std::vector<const GpuSlot*>& gs) {
    std::vector<std::string> v;
    for (const auto* g : gs) v.push_back(std::to_string(g->vendor_index));
    return join(v, ",");
  };
  for (const auto& vendor : vendors) {
    const auto& gs = by_vendor[vendor];
    if (vendor == "nvidia") {
      bool uuids = !gs.empty();
      for (const auto* g : gs) uuids = uuids && g->uuid.rfind("GPU-", 0) == 0;
      std::vector<std::string> ids;
      for (const auto* g : gs) ids.push_back(uuids ? g->uuid : std::to_string(g->vendor_index));
      env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
      env["CUDA_VISIBLE_DEVICES"] = join(ids, ",");
      env["NVIDIA_VISIBLE_DEVICES"] = gs.empty() ? "none" : join(ids, ",");
    } else if (vendor == "amd") {
      env["ROCR_VISIBLE_DEVICES"] = indices(gs);
      env["HIP_VISIBLE_DEVICES"] = indices(gs);
    } else if (vendor == "intel") {
      env["ZE_AFFINITY_MASK"] = indices(gs);
    } else if (vendor == "huawei") {
      env["ASCEND_VISIBLE_DEVICES"] = indices(gs);
      env["ASCEND_RT_VISIBLE_DEVICES"] = indices(gs);
    } else if (const auto& table = hw::shipped_vendor_table()) {
      // Every other vendor: the variable its row names, with device indices or module ids
      // (a variable of UUIDs, or module ids the driver did not report, is not guessed at).
      const hw::VendorInfo* row = table->find(vendor);
      if (row && !row->visible_env.empty() && row->visible_by == "index")
        env[row->visible_env] = indices(gs);
      if (row && !row->visible_env.empty() && row->visible_by == "module_id") {
        std::vector<std::string> ids;
        for (const auto* g : gs)
          if (g->module_id >= 0) ids.push_back(std::to_string(g->module_id));
        if (ids.size() == gs.size()) env[row->visible_env] = join(ids, ",");
      }
    }
  }
}

// A GPU share's fraction and memory cap, in aion's variables and those the runtimes read.
void add_share_limits(std::map<std::string, std::string>& env, const Allocation& a) {
  char frac[16];
  std::snprintf(frac, sizeof frac, "%.3f", a.gpu_fraction);
  env["AION_GPU_FRACTION"] = frac;
  env["AION_GPU_MEMORY_LIMIT_BYTES"] = std::to_string(a.gpu_memory_bytes);
  // NVIDIA MPS: a share of the SMs and a cap on device memory (device 0 = the visible one).
  env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] =
      std::to_string(std::max(1L, std::lround(a.gpu_fraction * 100)));
  env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] =
      "0=" + std::to_string(std::max<std::uint64_t>(1, a.gpu_memory_bytes >> 20)) + "M";
  // Frameworks that size their memory pool by a fraction (JAX/XLA).
  env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = frac;
}

}  // namespace

std::string cpuset_list(const std::vector<int>& ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(ids[i]);
    if (j > i) out += '-' + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

std::map<std::string, std::string> job_env(const Job& job, const Allocation& a,
                                           const NodeModel& model) {
  std::map<std::string, std::string> env = job.spec.env;
  env["AION_JOB_ID"] = std::to_string(job.id);
  env["AION_JOB_NAME"] = job.spec.name;
  env["AION_CPUS"] = cpuset_list(a.cpus);
  std::vector<std::string> mems;
  for (int m : a.mems) mems.push_back(std::to_string(m));
  env["AION_MEMS"] = join(mems, ",");
  if (!env.contains("OMP_NUM_THREADS")) env["OMP_NUM_THREADS"] = std::to_string(a.cpus.size());
  add_visible_devices(env, model, a);
  std::vector<std::string> addrs;
  for (int gi : a.gpus) addrs.push_back(model.gpus[static_cast<std::size_t>(gi)].pci_address);
  env["AION_GPUS"] = join(addrs, ",");
  if (a.gpu_fraction > 0) add_share_limits(env, a);
  return env;
}

}  // namespace aion::sched
