// The environment a job runs with: the submitter's variables plus what aion sets from the
// job's allocation (AION_* and each vendor's visible-devices variables, GPU share limits). A
// pure function of the job, its allocation and the node model; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "aion/sched/job.h"
#include "aion/sched/placement.h"

namespace aion::sched {

// A vendor's variable (CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES, ...) is set whenever the
// node has that vendor's GPUs, empty when the job got none of them, so a CPU job never lands
// on a GPU by default.
std::map<std::string, std::string> job_env(const Job& job, const Allocation& a,
                                           const NodeModel& model);

// "0-3,8": ascending CPU ids as a cpuset list.
std::string cpuset_list(const std::vector<int>& ids);

}  // namespace aion::sched
