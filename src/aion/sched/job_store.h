// JobStore: jobs in the state database (table `jobs`, module "sched"). The queue survives a
// daemon crash: a job is acknowledged to its submitter only after its row is committed. Ids
// are never reused (AUTOINCREMENT). Thread-safe through store::Store.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aion/sched/job.h"
#include "aion/store/retention.h"
#include "aion/store/store.h"

namespace aion::sched {

struct JobFilter {
  std::vector<JobState> states;  // empty = any
  std::optional<std::uint32_t> uid;
  int limit = 0;  // 0 = no limit; newest first when set
};

struct GpuDrain {
  std::string pci_address;
  std::string why;
  std::int64_t since_ms = 0;
};

// SQL that, run on a copy of the state database, removes the private fields of every job
// whose uid is not in `keep_uids`: its command line (replaced by one "[scrubbed]" word so the
// spec still loads), environment and working directory. For backups asked for by someone
// who may not read other users' jobs.
std::string scrub_private_jobs_sql(const std::vector<std::uint32_t>& keep_uids);

class JobStore {
 public:
  explicit JobStore(store::Store& store) : store_(store) {}
  static std::span<const store::Migration> migrations();

  // Inserts a new job (its id is assigned and written back).
  Status insert(Job& job);
  // Writes every mutable field of an existing job.
  Status update(const Job& job);
  // Updates many in one transaction.
  Status update_all(std::span<const Job> jobs);
  Result<std::optional<Job>> get(std::int64_t id);
  Result<std::vector<Job>> list(const JobFilter& filter);

  // Drained GPUs (JobManager::set_gpu_drained): saved, removed, listed by PCI address.
  Status save_drain(const std::string& pci_address, const std::string& why, std::int64_t since_ms);
  Status remove_drain(const std::string& pci_address);
  Result<std::vector<GpuDrain>> drains();

  // Deletes finished jobs (completed, failed, cancelled, preempted, lost) beyond `retention`
  // as of `now_ms`, by end time; pending and running jobs are never touched. Returns the ids
  // deleted, so that the caller can remove their directories.
  Result<std::vector<std::int64_t>> prune(const store::Retention& retention, std::int64_t now_ms);

 private:
  store::Store& store_;
};

}  // namespace aion::sched
