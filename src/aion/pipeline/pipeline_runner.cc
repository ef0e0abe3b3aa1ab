#include "aion/pipeline/pipeline_runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <set>
#include <tuple>

#include "aion/core/fs_identity.h"
#include "aion/pipeline/dataset_walk.h"
#include "aion/pipeline/hash.h"
#include "aion/pipeline/pipeline_proxy.h"

namespace aion::pipeline {
namespace {

namespace fs = std::filesystem;

Result<HashResult> hash_file(FileHasher& h, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(errno_error(errno, "opening '" + path + "'"));
  auto r = h.hash_fd(fd, path);
  ::close(fd);
  return r;
}

// A file: its XXH3-128. A directory: XXH3-128 over its sorted "relpath\0size\0hash\n"
// entries (a symlink counts by the hash of its target text), so renaming, adding or changing
// any file below changes it.
Result<PathHash> hash_path_here(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return std::unexpected(errno_error(errno, "reading '" + path + "'"));
  }
  FileHasher h(false);
  if (S_ISREG(st.st_mode)) {
    auto r = hash_file(h, path);
    if (!r) return std::unexpected(r.error());
    return PathHash{r->xxh3.hex(), r->bytes, "file"};
  }
  if (!S_ISDIR(st.st_mode)) {
    return fail(ErrorCode::kInvalidArgument,
                "'" + path + "' is neither a regular file nor a directory");
  }
  std::vector<std::tuple<std::string, std::uint64_t, std::string>> entries;
  std::uint64_t total = 0;
  FileHasher fh(false);
  auto walked = walk_tree(
      path,
      [&](WalkEntry&& e) -> Status {
        if (e.kind == FileKind::kSymlink) {
          entries.emplace_back(e.path, 0, "link:" + fh.hash_bytes(e.link_target).xxh3.hex());
          return {};
        }
        auto r = hash_file(fh, (fs::path(path) / e.path).string());
        if (!r) return std::unexpected(r.error());
        total += r->bytes;
        entries.emplace_back(e.path, r->bytes, r->xxh3.hex());
        return {};
      },
      [](std::string_view, const Error&) {});
  if (!walked) return std::unexpected(walked.error());
  std::sort(entries.begin(), entries.end());
  std::string text;
  for (const auto& [p, size, hx] : entries) {
    text += p;
    text += '\0';
    text += std::to_string(size);
    text += '\0';
    text += hx;
    text += '\n';
  }
  return PathHash{h.hash_bytes(text).xxh3.hex(), total, "dir"};
}

// hash_path_here() with the run owner's file rights (this thread only): a path the owner
// cannot read is an error, never hashed with root's reach.
Result<PathHash> hash_path(const std::string& path, const RunRecord& owner) {
  ThreadFsIdentity as_owner(owner.owner_uid, owner.owner_gid);
  if (as_owner.failed()) {
    return fail(ErrorCode::kInternal, "cannot take uid " + std::to_string(owner.owner_uid) +
                                          "'s file rights to read " + path);
  }
  return hash_path_here(path);
}

bool exists_for(const std::string& path, const RunRecord& owner) {
  ThreadFsIdentity as_owner(owner.owner_uid, owner.owner_gid);
  if (as_owner.failed()) return false;
  std::error_code ec;
  return fs::exists(path, ec);
}

// The newest entry (file or directory) of `dir` by mtime, as the run's owner sees the
// directory; "" when none or unreadable.
std::string newest_entry(const std::string& dir, const RunRecord& owner) {
  ThreadFsIdentity as_owner(owner.owner_uid, owner.owner_gid);
  if (as_owner.failed()) return "";
  std::error_code ec;
  std::string best;
  fs::file_time_type best_t{};
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code ec2;
    auto t = fs::last_write_time(e.path(), ec2);
    if (ec2) continue;
    if (best.empty() || t > best_t || (t == best_t && e.path().string() > best)) {
      best = e.path().string();
      best_t = t;
    }
  }
  return best;
}

std::string stage_job_name(const StageRecord& st, int attempt) {
  std::string name = "pipeline-" + std::to_string(st.run_id) + "-" + st.stage + "-";
  if (st.generation > 0) name += "g" + std::to_string(st.generation) + "-";
  return name + std::to_string(attempt);
}

std::string phase_text(const JobStatus& s) {
  std::string m;
  switch (s.phase) {
    case JobPhase::kFailed: m = "exited with code " + std::to_string(s.exit_code); break;
    case JobPhase::kCancelled: m = "its job was cancelled"; break;
    case JobPhase::kGone: m = "its job is gone"; break;
    default: m = "its job ended"; break;
  }
  if (!s.reason.empty()) m += " (" + s.reason + ")";
  return m;
}

}  // namespace

struct PipelineService::LoadedRun {
  RunRecord rec;
  PipelineSpec spec;
  std::vector<StageRecord> stages;

  const StageSpec* spec_of(const std::string& name) const {
    for (const auto& s : spec.stages) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
  StageRecord* rec_of(const std::string& name) {
    for (auto& s : stages) {
      if (s.stage == name) return &s;
    }
    return nullptr;
  }
  // Every stage that depends on `name`, directly or transitively.
  std::set<std::string> dependents(const std::string& name) const {
    std::set<std::string> out{name};
    bool grew = true;
    while (grew) {
      grew = false;
      for (const auto& s : spec.stages) {
        if (out.contains(s.name)) continue;
        for (const auto& d : s.depends_on) {
          if (out.contains(d)) {
            out.insert(s.name);
            grew = true;
            break;
          }
        }
      }
    }
    out.erase(name);
    return out;
  }
};

PipelineService::PipelineService(store::Store& store, JobLauncher& jobs, DatasetResolver datasets,
                                 const Clock& clock)
    : store_(store), db_(store), jobs_(jobs), datasets_(std::move(datasets)), clock_(clock) {}

PipelineService::~PipelineService() {
  stop();
}

std::span<const store::Migration> PipelineService::migrations() {
  return PipelineStore::migrations();
}

std::int64_t PipelineService::now_ms() const {
  return to_unix_ms(clock_.wall());
}

Status PipelineService::start() {
  if (auto r = recover(); !r) return r;
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = false;
  }
  ticker_ = std::thread([this] {
    std::unique_lock lock(stop_mu_);
    while (!stopping_) {
      lock.unlock();
      tick();
      lock.lock();
      stop_cv_.wait_for(lock, std::chrono::milliseconds(kTickMs), [this] { return stopping_; });
    }
  });
  return {};
}

Status PipelineService::recover() {
  std::lock_guard lock(mu_);
  return recover_locked();
}

void PipelineService::stop() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  std::lock_guard lock(mu_);
  proxies_.clear();
}

Result<PipelineService::LoadedRun> PipelineService::load(std::int64_t run_id) {
  LoadedRun run;
  auto rec = db_.run(run_id);
  if (!rec) return std::unexpected(rec.error());
  run.rec = std::move(*rec);
  auto spec = spec_from_json(run.rec.spec_json);
  if (!spec) return std::unexpected(spec.error());
  run.spec = std::move(*spec);
  auto st = db_.stages(run_id);
  if (!st) return std::unexpected(st.error());
  run.stages = std::move(*st);
  return run;
}

Status PipelineService::recover_locked() {
  auto runs = db_.runs(std::nullopt, true);
  if (!runs) return std::unexpected(runs.error());
  for (const auto& r : *runs) {
    auto run = load(r.id);
    if (!run) {  // one damaged run does not hold up the others
      spdlog::error("event=pipeline_recover_failed run={} error=\"{}\"", r.id,
                    run.error().message());
      continue;
    }
    for (auto& st : run->stages) {
      if (st.state == StageState::kSubmitting) {
        auto found = jobs_.find(stage_job_name(st, st.attempt));
        if (found && *found) {
          st.state = StageState::kRunning;
          st.job_id = **found;
          if (auto w = db_.put_stage(st); !w) return w;
          spdlog::info("event=pipeline_recover run={} stage={} job={} found=submitted", st.run_id,
                       st.stage, st.job_id);
        }
        // Otherwise tick() submits the attempt again.
      } else if (st.state == StageState::kRunning) {
        auto s = jobs_.status(st.job_id);
        if (s && s->phase == JobPhase::kGone) {
          spdlog::warn("event=pipeline_recover run={} stage={} job={} found=gone", st.run_id,
                       st.stage, st.job_id);
          if (auto f = stage_failed(
                  *run, st,
                  "its job " + std::to_string(st.job_id) + " was lost while aiond was down", true);
              !f) {
            return f;
          }
        }
      }
    }
  }
  if (auto r = sweep_replaced_versions(); !r) return r;
  auto services = db_.services();
  if (!services) return std::unexpected(services.error());
  for (const auto& s : *services) {
    if (!proxy_for(s.pipeline, s.stage, s.port)) continue;
    proxies_[std::make_pair(s.pipeline, s.stage)]->set_backend(s.backend_port);
  }
  return {};
}

Result<std::int64_t> PipelineService::submit(PipelineSpec spec, Owner owner, RunOptions opts) {
  RunRecord rec;
  rec.name = spec.name;
  rec.spec_json = spec_to_json(spec);
  rec.owner_uid = owner.uid;
  rec.owner_gid = owner.gid;
  rec.user = owner.user;
  rec.state = RunState::kPending;
  rec.created_ms = rec.updated_ms = now_ms();
  rec.force = opts.force;
  std::vector<StageRecord> stages;
  for (const auto& s : spec.stages) {
    StageRecord st;
    st.stage = s.name;
    stages.push_back(std::move(st));
  }
  std::lock_guard lock(mu_);
  auto id = db_.insert_run(rec, stages);
  if (id) {
    spdlog::info("event=pipeline_submit run={} name={} stages={} user={}", *id, spec.name,
                 spec.stages.size(), owner.user);
  }
  return id;
}

void PipelineService::set_hash_observer(std::function<void(const std::string&)> observer) {
  hash_observer_ = std::move(observer);
}

std::vector<PipelineService::HashKey> PipelineService::paths_to_hash() {
  std::vector<HashKey> out;
  std::set<HashKey> seen;
  auto runs = db_.runs(std::nullopt, true);
  if (!runs) return out;
  for (const auto& r : *runs) {
    auto run = load(r.id);
    if (!run) continue;
    auto add = [&](const std::string& path) {
      HashKey k{run->rec.owner_uid, run->rec.owner_gid, path};
      if (seen.insert(k).second) out.push_back(std::move(k));
    };
    for (const auto& st : run->stages) {
      const StageSpec* spec = run->spec_of(st.stage);
      if (!spec) continue;
      if (st.state == StageState::kPending) {
        const bool ready =
            std::all_of(spec->depends_on.begin(), spec->depends_on.end(), [&](const auto& d) {
              const StageRecord* dep = run->rec_of(d);
              return dep &&
                     (dep->state == StageState::kSucceeded || dep->state == StageState::kSkipped);
            });
        if (!ready) continue;
        for (const auto& in : spec->inputs)
          if (!in.path.empty()) add(in.path);
      } else if (st.state == StageState::kRunning && !spec->service && st.job_id != 0) {
        auto s = jobs_.status(st.job_id);
        if (s && s->phase == JobPhase::kSucceeded) {
          for (const auto& o : spec->outputs) add(o);
        }
      }
    }
  }
  return out;
}

Result<PathHash> PipelineService::hash_for(const std::string& path, const RunRecord& owner) {
  auto it = prehashed_.find(HashKey{owner.owner_uid, owner.owner_gid, path});
  if (it != prehashed_.end()) return it->second;
  return hash_path(path, owner);
}

void PipelineService::tick() {
  // The hashing first, without mu_: a stage reading or writing many gigabytes must not hold
  // up the calls that change runs.
  std::vector<HashKey> wanted;
  {
    std::lock_guard lock(mu_);
    wanted = paths_to_hash();
  }
  std::map<HashKey, Result<PathHash>> hashed;
  for (const auto& k : wanted) {
    if (hash_observer_) hash_observer_(std::get<2>(k));
    RunRecord owner;
    owner.owner_uid = std::get<0>(k);
    owner.owner_gid = std::get<1>(k);
    const auto started = std::chrono::steady_clock::now();
    auto h = hash_path(std::get<2>(k), owner);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (h && s >= 1.0) {  // worth a line: where a stage's start or end went
      spdlog::info("event=pipeline_hashed path=\"{}\" bytes={} seconds={:.1f}",
                   display_path(std::get<2>(k)), h->size, s);
    }
    hashed.emplace(k, std::move(h));
  }
  std::lock_guard lock(mu_);
  prehashed_ = std::move(hashed);
  tick_locked();
  prehashed_.clear();
}

void PipelineService::tick_locked() {
  auto runs = db_.runs(std::nullopt, true);
  if (!runs) {
    spdlog::warn("event=pipeline_tick_failed error=\"{}\"", runs.error().message());
    return;
  }
  // Oldest first, so earlier runs take their turn first.
  for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
    if (auto r = tick_run(it->id); !r) {
      spdlog::warn("event=pipeline_tick_failed run={} error=\"{}\"", it->id, r.error().message());
    }
  }
  if (auto r = tick_services(); !r) {
    spdlog::warn("event=pipeline_services_failed error=\"{}\"", r.error().message());
  }
}

Status PipelineService::tick_run(std::int64_t run_id) {
  auto run = load(run_id);
  if (!run) return std::unexpected(run.error());
  if (run->rec.state == RunState::kPending) {
    if (auto r = db_.set_run_state(run_id, RunState::kRunning, "", now_ms()); !r) return r;
    run->rec.state = RunState::kRunning;
  }
  for (std::size_t i = 0; i < run->stages.size(); ++i) {
    // step_stage may rewrite other stages (downstream cancels): work on the loaded copy.
    if (auto r = step_stage(*run, run->stages[i]); !r) return r;
  }
  return finish_run_if_done(*run);
}

Status PipelineService::step_stage(LoadedRun& run, StageRecord& st) {
  const StageSpec* spec = run.spec_of(st.stage);
  if (!spec) return fail(ErrorCode::kCorrupt, "stored run lacks stage '" + st.stage + "'");
  switch (st.state) {
    case StageState::kPending: {
      for (const auto& d : spec->depends_on) {
        const StageRecord* dep = run.rec_of(d);
        if (!dep) return fail(ErrorCode::kCorrupt, "stored run lacks stage '" + d + "'");
        if (dep->state == StageState::kFailed || dep->state == StageState::kCancelled) {
          st.state = StageState::kCancelled;
          st.message = "not run: '" + d + "' " +
                       (dep->state == StageState::kFailed ? "failed" : "was cancelled");
          st.ended_ms = now_ms();
          return db_.put_stage(st);
        }
        if (dep->state != StageState::kSucceeded && dep->state != StageState::kSkipped) {
          return {};
        }
      }
      return start_stage(run, st);
    }
    case StageState::kWaiting:
      if (now_ms() < st.next_try_ms) return {};
      return submit_attempt(run, st, st.attempt + 1);
    case StageState::kSubmitting: return submit_attempt(run, st, std::max(st.attempt, 1));
    case StageState::kRunning: return spec->service ? follow_service(run, st) : follow_job(run, st);
    default: return {};
  }
}

Result<std::string> PipelineService::fingerprint(const LoadedRun& run, const StageSpec& stage,
                                                 std::string* inputs_json) {
  Json inputs = Json::array();
  for (const auto& in : stage.inputs) {
    if (!in.path.empty()) {
      auto h = hash_for(in.path, run.rec);
      if (!h) return std::unexpected(h.error().context("input of stage '" + stage.name + "'"));
      inputs.push_back({{"path", in.path}, {"xxh3", h->xxh3}, {"kind", h->kind}});
    } else {
      if (!datasets_) {
        return fail(ErrorCode::kUnsupported,
                    "stage '" + stage.name + "': dataset inputs are not available here");
      }
      auto d = datasets_(run.rec.owner_uid, in.dataset, in.dataset_version);
      if (!d) {
        return std::unexpected(
            Error(d.error()).context("stage '" + stage.name + "': dataset '" + in.dataset + "'"));
      }
      inputs.push_back({{"dataset", in.dataset},
                        {"version", d->version},
                        {"version_id", d->version_id},
                        {"manifest_id", d->manifest_id},
                        {"root", d->root}});
    }
  }
  Json canon = {{"command", stage.command},
                {"env", stage.env},
                {"cwd", stage.cwd},
                {"inputs", inputs},
                {"outputs", stage.outputs}};
  if (inputs_json) *inputs_json = inputs.dump();
  FileHasher h(false);
  return h.hash_bytes(canon.dump()).xxh3.hex();
}

Result<bool> PipelineService::unchanged(const LoadedRun& run, const StageSpec& stage,
                                        const std::string& fp, std::string* message) {
  auto prior = db_.find_succeeded(run.rec.name, stage.name, fp, run.rec.id);
  if (!prior) return std::unexpected(prior.error());
  if (!*prior) return false;
  auto arts = db_.stage_artifacts((*prior)->run_id, stage.name);
  if (!arts) return std::unexpected(arts.error());
  for (const auto& out : stage.outputs) {
    auto a = std::find_if(arts->begin(), arts->end(), [&](const auto& x) { return x.path == out; });
    if (a == arts->end()) return false;
    auto h = hash_for(out, run.rec);
    if (!h || h->xxh3 != a->xxh3) return false;
  }
  *message = "unchanged since run " + std::to_string((*prior)->run_id);
  return true;
}

Status PipelineService::start_stage(LoadedRun& run, StageRecord& st) {
  const StageSpec& spec = *run.spec_of(st.stage);
  std::string inputs_json;
  auto fp = fingerprint(run, spec, &inputs_json);
  if (!fp) {
    st.fingerprint.clear();
    st.started_ms = now_ms();
    return stage_failed(run, st, fp.error().message(), false);
  }
  st.fingerprint = *fp;
  st.inputs_json = inputs_json;
  if (!run.rec.force && !spec.service) {
    std::string msg;
    auto same = unchanged(run, spec, *fp, &msg);
    if (!same) return std::unexpected(same.error());
    if (*same) {
      st.state = StageState::kSkipped;
      st.message = msg;
      st.started_ms = st.ended_ms = now_ms();
      spdlog::info("event=pipeline_stage_skipped run={} stage={} {}", st.run_id, st.stage, msg);
      return db_.put_stage(st);
    }
  }
  return submit_attempt(run, st, 1);
}

sched::JobSpec PipelineService::job_spec(const LoadedRun& run, const StageSpec& stage,
                                         const StageRecord& st, int attempt, int service_port) {
  sched::JobSpec j;
  j.name = stage_job_name(st, attempt);
  j.command = stage.command;
  j.env = stage.env;
  j.cwd = stage.cwd;
  j.resources.gpus = stage.gpus;
  j.resources.gpu_fraction = stage.gpu_share;
  j.resources.cpus = stage.cpus;
  j.resources.memory_bytes = stage.memory_bytes;
  j.uid = run.rec.owner_uid;
  j.gid = run.rec.owner_gid;
  j.user = run.rec.user;
  j.env["AION_PIPELINE_RUN"] = std::to_string(run.rec.id);
  j.env["AION_STAGE"] = stage.name;
  j.env["AION_ATTEMPT"] = std::to_string(attempt);
  if (attempt > 1 && !stage.checkpoint_dir.empty()) {
    std::string ck = newest_entry(stage.checkpoint_dir, run.rec);
    if (!ck.empty()) j.env["AION_RESUME_FROM"] = ck;
  }
  if (service_port > 0) j.env["PORT"] = std::to_string(service_port);
  // Where each dataset input lies: AION_DATASET_<NAME> (upper case, other characters '_').
  for (const auto& in : stage.inputs) {
    if (in.dataset.empty() || !datasets_) continue;
    auto d = datasets_(run.rec.owner_uid, in.dataset, in.dataset_version);
    if (!d) continue;  // resolved for the fingerprint just before; a failure there stops first
    std::string key = "AION_DATASET_";
    for (char c : in.dataset) {
      key += std::isalnum(static_cast<unsigned char>(c))
                 ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                 : '_';
    }
    j.env[key] = d->root;
  }
  return j;
}

Status PipelineService::submit_attempt(LoadedRun& run, StageRecord& st, int attempt) {
  const StageSpec& spec = *run.spec_of(st.stage);
  const std::int64_t now = now_ms();
  st.state = StageState::kSubmitting;
  st.attempt = attempt;
  st.job_id = 0;
  st.attempt_start_ms = 0;
  st.next_try_ms = 0;
  if (st.started_ms == 0) st.started_ms = now;
  if (spec.service) {
    auto port = pick_free_port();
    if (!port) return stage_failed(run, st, port.error().message(), true);
    st.backend_port = *port;
  }
  if (auto w = db_.put_stage(st); !w) return w;
  auto id = jobs_.submit(job_spec(run, spec, st, attempt, spec.service ? st.backend_port : 0));
  if (!id) {
    return stage_failed(run, st, "could not submit its job: " + id.error().message(), true);
  }
  st.state = StageState::kRunning;
  st.job_id = *id;
  st.message.clear();
  spdlog::info("event=pipeline_stage_submitted run={} stage={} attempt={} job={}", st.run_id,
               st.stage, attempt, *id);
  return db_.put_stage(st);
}

Status PipelineService::follow_job(LoadedRun& run, StageRecord& st) {
  const StageSpec& spec = *run.spec_of(st.stage);
  auto s = jobs_.status(st.job_id);
  if (!s) {
    spdlog::warn("event=pipeline_job_status_failed job={} error=\"{}\"", st.job_id,
                 s.error().message());
    return {};
  }
  const std::int64_t now = now_ms();
  switch (s->phase) {
    case JobPhase::kPending: return {};
    case JobPhase::kRunning:
      if (st.attempt_start_ms == 0) {
        st.attempt_start_ms = now;
        return db_.put_stage(st);
      }
      if (spec.timeout_s > 0 && now - st.attempt_start_ms >= spec.timeout_s * 1000LL) {
        if (auto c = jobs_.cancel(st.job_id); !c) {
          spdlog::warn("event=pipeline_cancel_failed job={} error=\"{}\"", st.job_id,
                       c.error().message());
        }
        return stage_failed(run, st, "timed out after " + std::to_string(spec.timeout_s) + " s",
                            true);
      }
      return {};
    case JobPhase::kSucceeded: return stage_succeeded(run, st);
    default: return stage_failed(run, st, phase_text(*s), true);
  }
}

Status PipelineService::stage_failed(LoadedRun& run, StageRecord& st, const std::string& why,
                                     bool may_retry) {
  const StageSpec& spec = *run.spec_of(st.stage);
  const std::int64_t now = now_ms();
  const int attempts = spec.retries + 1;
  if (may_retry && st.attempt >= 1 && st.attempt < attempts) {
    const int delay_s = backoff_seconds(spec.backoff_s, st.attempt);
    st.state = StageState::kWaiting;
    st.next_try_ms = now + delay_s * 1000LL;
    st.message = "attempt " + std::to_string(st.attempt) + " of " + std::to_string(attempts) +
                 " failed: " + why + "; next attempt in " + std::to_string(delay_s) + " s";
    spdlog::info("event=pipeline_stage_retry run={} stage={} attempt={} delay_s={}", st.run_id,
                 st.stage, st.attempt, delay_s);
    return db_.put_stage(st);
  }
  st.state = StageState::kFailed;
  st.ended_ms = now;
  st.next_try_ms = 0;
  st.message =
      st.attempt > 1 ? "failed after " + std::to_string(st.attempt) + " attempts: " + why : why;
  spdlog::warn("event=pipeline_stage_failed run={} stage={} attempt={} why=\"{}\"", st.run_id,
               st.stage, st.attempt, why);
  std::vector<StageRecord> changed{st};
  for (const auto& name : run.dependents(st.stage)) {
    StageRecord* d = run.rec_of(name);
    if (!d || is_terminal(d->state)) continue;
    d->state = StageState::kCancelled;
    d->message = "not run: '" + st.stage + "' failed";
    d->ended_ms = now;
    changed.push_back(*d);
  }
  // Keep the loaded copy in step with what is written.
  if (StageRecord* self = run.rec_of(st.stage); self && self != &st) *self = st;
  return db_.put_stages(changed);
}

Status PipelineService::stage_succeeded(LoadedRun& run, StageRecord& st,
                                        const std::optional<ServiceRecord>& service) {
  const StageSpec& spec = *run.spec_of(st.stage);
  const std::int64_t now = now_ms();
  std::string inputs_json = st.inputs_json;
  if (inputs_json.empty()) {  // started before inputs were recorded: hash them now
    auto fp = fingerprint(run, spec, &inputs_json);
    if (!fp) inputs_json = "[]";
  }
  std::vector<ArtifactRecord> arts;
  for (const auto& out : spec.outputs) {
    if (!exists_for(out, run.rec)) {
      return stage_failed(run, st, "declared output " + out + " was not written", false);
    }
    auto h = hash_for(out, run.rec);
    if (!h) return stage_failed(run, st, "hashing output: " + h.error().message(), false);
    ArtifactRecord a;
    a.run_id = st.run_id;
    a.stage = st.stage;
    a.path = out;
    a.size = h->size;
    a.xxh3 = h->xxh3;
    a.kind = h->kind;
    a.fingerprint = st.fingerprint;
    a.command_json = Json(spec.command).dump();
    a.inputs_json = inputs_json;
    a.created_ms = now;
    arts.push_back(std::move(a));
  }
  st.state = StageState::kSucceeded;
  st.ended_ms = now;
  st.message.clear();
  spdlog::info("event=pipeline_stage_succeeded run={} stage={} attempt={} artifacts={}", st.run_id,
               st.stage, st.attempt, arts.size());
  return db_.finish_stage(st, arts, service);
}

Status PipelineService::finish_run_if_done(LoadedRun& run) {
  bool all_done = true, ok = true;
  std::string why;
  for (const auto& s : run.stages) {
    if (!is_terminal(s.state)) all_done = false;
    if (s.state == StageState::kFailed || s.state == StageState::kCancelled) {
      ok = false;
      if (why.empty() && s.state == StageState::kFailed) why = "stage '" + s.stage + "' failed";
    }
  }
  if (!all_done) return {};
  const RunState state = ok ? RunState::kSucceeded : RunState::kFailed;
  spdlog::info("event=pipeline_run_done run={} state={}", run.rec.id, to_string(state));
  return db_.set_run_state(run.rec.id, state, why, now_ms());
}

// ---- services ----

ServiceProxy* PipelineService::proxy_for(const std::string& pipeline, const std::string& stage,
                                         int port) {
  auto key = std::make_pair(pipeline, stage);
  auto it = proxies_.find(key);
  if (it != proxies_.end()) {
    if (it->second->port() == port) return it->second.get();
    proxies_.erase(it);  // the stable port changed: a new front
  }
  auto p = ServiceProxy::open(port, 0);
  if (!p) {
    spdlog::warn("event=pipeline_proxy_failed pipeline={} stage={} port={} error=\"{}\"", pipeline,
                 stage, port, p.error().message());
    return nullptr;
  }
  ServiceProxy* raw = p->get();
  proxies_[key] = std::move(*p);
  return raw;
}

Status PipelineService::follow_service(LoadedRun& run, StageRecord& st) {
  const StageSpec& spec = *run.spec_of(st.stage);
  auto s = jobs_.status(st.job_id);
  if (!s) return {};
  const std::int64_t now = now_ms();
  if (s->phase != JobPhase::kPending && s->phase != JobPhase::kRunning) {
    return stage_failed(run, st, "the service ended before it was healthy: " + phase_text(*s),
                        true);
  }
  if (s->phase == JobPhase::kPending) return {};
  if (st.attempt_start_ms == 0) {
    st.attempt_start_ms = now;
    if (auto w = db_.put_stage(st); !w) return w;
  }
  if (!http_health_ok(st.backend_port, spec.svc.health_path, kHealthProbeTimeoutMs)) {
    if (now - st.attempt_start_ms >= spec.svc.health_timeout_s * 1000LL) {
      if (auto c = jobs_.cancel(st.job_id); !c) {
        spdlog::warn("event=pipeline_cancel_failed job={} error=\"{}\"", st.job_id,
                     c.error().message());
      }
      return stage_failed(run, st,
                          "not healthy within " + std::to_string(spec.svc.health_timeout_s) +
                              " s (GET " + spec.svc.health_path + " on port " +
                              std::to_string(st.backend_port) + ")",
                          true);
    }
    return {};
  }
  // Healthy: record the new live version, switch the proxy, then stop the old version.
  ServiceProxy* proxy = proxy_for(run.rec.name, st.stage, spec.svc.port);
  if (!proxy) {
    if (auto c = jobs_.cancel(st.job_id); !c) {
      spdlog::warn("event=pipeline_cancel_failed job={}", st.job_id);
    }
    return stage_failed(run, st,
                        "port " + std::to_string(spec.svc.port) +
                            " cannot be opened for the service's proxy (in use?)",
                        false);
  }
  // One transaction makes this version the live one (service record + stage succeeded);
  // then the proxy switches, then the replaced version is stopped by the sweep. A kill between
  // the write and the sweep leaves the old job running: recover() sweeps again.
  st.live_job_id = st.job_id;
  ServiceRecord rec{run.rec.name, st.stage, spec.svc.port, st.backend_port, st.job_id,
                    run.rec.id,   now};
  if (auto w = stage_succeeded(run, st, rec); !w) return w;
  if (st.state != StageState::kSucceeded) return {};
  proxy->set_backend(st.backend_port);
  spdlog::info("event=pipeline_service_live pipeline={} stage={} port={} backend={} job={}",
               run.rec.name, st.stage, spec.svc.port, st.backend_port, st.job_id);
  return sweep_replaced_versions();
}

bool PipelineService::still_serving(const StageRecord& old) {
  const auto key = std::make_pair(old.run_id, old.stage);
  auto run = db_.run(old.run_id);
  auto proxy = run ? proxies_.find(std::make_pair(run->name, old.stage)) : proxies_.end();
  if (proxy == proxies_.end() || proxy->second->connections_to(old.backend_port) == 0) {
    draining_since_.erase(key);
    return false;
  }
  const std::int64_t now = now_ms();
  auto [since, first] = draining_since_.emplace(key, now);
  if (first) {
    spdlog::info("event=pipeline_service_draining run={} stage={} job={} connections={}",
                 old.run_id, old.stage, old.live_job_id,
                 proxy->second->connections_to(old.backend_port));
  }
  if (now - since->second < kDrainMs) return true;
  spdlog::warn("event=pipeline_service_drain_timeout run={} stage={} job={}", old.run_id, old.stage,
               old.live_job_id);
  draining_since_.erase(since);
  return false;
}

Status PipelineService::sweep_replaced_versions() {
  auto stale = db_.stale_live_versions();
  if (!stale) return std::unexpected(stale.error());
  for (const auto& s : *stale) {
    auto status = jobs_.status(s.live_job_id);
    if (status && (status->phase == JobPhase::kPending || status->phase == JobPhase::kRunning)) {
      // Requests it is still answering finish first; the next ticks look again.
      if (still_serving(s)) continue;
      spdlog::info("event=pipeline_service_replaced run={} stage={} job={}", s.run_id, s.stage,
                   s.live_job_id);
      if (auto c = jobs_.cancel(s.live_job_id); !c) {
        spdlog::warn("event=pipeline_cancel_failed job={} error=\"{}\"", s.live_job_id,
                     c.error().message());
        continue;  // tried again at the next sweep
      }
    }
    if (auto r = db_.clear_live(s.run_id, s.stage); !r) return r;
  }
  return {};
}

Status PipelineService::tick_services() {
  if (auto r = sweep_replaced_versions(); !r) return r;
  auto services = db_.services();
  if (!services) return std::unexpected(services.error());
  for (auto& svc : *services) {
    auto s = jobs_.status(svc.job_id);
    if (!s) continue;
    if (s->phase == JobPhase::kPending || s->phase == JobPhase::kRunning) continue;
    auto run = load(svc.run_id);
    if (!run) return std::unexpected(run.error());
    const StageSpec* spec = run->spec_of(svc.stage);
    StageRecord* st = run->rec_of(svc.stage);
    if (!spec || !st || !spec->svc.restart) {
      spdlog::warn("event=pipeline_service_ended pipeline={} stage={} job={} {}", svc.pipeline,
                   svc.stage, svc.job_id, phase_text(*s));
      if (auto r = db_.remove_service(svc.pipeline, svc.stage); !r) return r;
      proxies_.erase(std::make_pair(svc.pipeline, svc.stage));
      continue;
    }
    // Restart: the stage goes back to waiting under a fresh attempt count (a restart does
    // not use up the stage's retries) and the run re-opens; follow_service makes the new
    // version live once healthy. A stage that failed or was cancelled since is not restarted.
    if (st->state == StageState::kRunning || st->state == StageState::kSubmitting ||
        st->state == StageState::kWaiting) {
      continue;
    }
    if (st->state != StageState::kSucceeded) {
      if (auto r = db_.remove_service(svc.pipeline, svc.stage); !r) return r;
      proxies_.erase(std::make_pair(svc.pipeline, svc.stage));
      continue;
    }
    const int delay_s = backoff_seconds(spec->backoff_s, 1);
    spdlog::warn("event=pipeline_service_restart pipeline={} stage={} job={} delay_s={} {}",
                 svc.pipeline, svc.stage, svc.job_id, delay_s, phase_text(*s));
    st->state = StageState::kWaiting;
    st->attempt = 0;
    st->generation += 1;
    st->next_try_ms = now_ms() + delay_s * 1000LL;
    st->message = "restarting: the live version " + phase_text(*s);
    st->ended_ms = 0;
    if (auto w = db_.put_stages({*st}, RunState::kRunning, now_ms(), "service restarting"); !w) {
      return w;
    }
  }
  return {};
}

// ---- queries and control ----

Result<Json> PipelineService::list(std::optional<std::uint32_t> only_uid) {
  auto runs = db_.runs(only_uid);
  if (!runs) return std::unexpected(runs.error());
  Json out = Json::array();
  for (const auto& r : *runs) {
    Json j = to_json(r);
    auto st = db_.stages(r.id);
    if (!st) return std::unexpected(st.error());
    j["stages"] = Json::array();
    for (const auto& s : *st)
      j["stages"].push_back({{"stage", s.stage}, {"state", to_string(s.state)}});
    out.push_back(std::move(j));
  }
  return out;
}

Result<Json> PipelineService::get(std::int64_t run_id) {
  auto run = db_.run(run_id);
  if (!run) return std::unexpected(run.error());
  auto st = db_.stages(run_id);
  if (!st) return std::unexpected(st.error());
  auto arts = db_.artifacts(run_id);
  if (!arts) return std::unexpected(arts.error());
  Json j;
  j["run"] = to_json(*run);
  j["stages"] = Json::array();
  for (const auto& s : *st) j["stages"].push_back(to_json(s));
  j["artifacts"] = Json::array();
  for (const auto& a : *arts) j["artifacts"].push_back(to_json(a));
  return j;
}

Status PipelineService::cancel(std::int64_t run_id) {
  std::lock_guard lock(mu_);
  auto run = load(run_id);
  if (!run) return std::unexpected(run.error());
  // Live services of this run stop with it.
  auto services = db_.services();
  if (!services) return std::unexpected(services.error());
  bool stopped_service = false;
  for (const auto& s : *services) {
    if (s.run_id != run_id) continue;
    if (auto c = jobs_.cancel(s.job_id); !c) {
      spdlog::warn("event=pipeline_cancel_failed job={} error=\"{}\"", s.job_id,
                   c.error().message());
    }
    if (auto r = db_.remove_service(s.pipeline, s.stage); !r) return r;
    proxies_.erase(std::make_pair(s.pipeline, s.stage));
    stopped_service = true;
  }
  if (is_terminal(run->rec.state)) {
    if (stopped_service) return {};
    return fail(ErrorCode::kConflict, "pipeline run " + std::to_string(run_id) + " already " +
                                          std::string(to_string(run->rec.state)));
  }
  const std::int64_t now = now_ms();
  // Written first, then the jobs are cancelled: a kill in between leaves cancelled stages whose
  // jobs still run (the scheduler finishes them), never a cancelled job taken for a failure
  // and retried.
  std::vector<StageRecord> changed;
  std::vector<std::int64_t> to_cancel;
  for (auto& st : run->stages) {
    if (is_terminal(st.state)) continue;
    if ((st.state == StageState::kRunning || st.state == StageState::kSubmitting) &&
        st.job_id != 0) {
      to_cancel.push_back(st.job_id);
    }
    st.state = StageState::kCancelled;
    st.message = "cancelled by user";
    st.ended_ms = now;
    changed.push_back(st);
  }
  Status written = changed.empty()
                       ? db_.set_run_state(run_id, RunState::kCancelled, "cancelled by user", now)
                       : db_.put_stages(changed, RunState::kCancelled, now, "cancelled by user");
  if (!written) return written;
  for (auto id : to_cancel) {
    if (auto c = jobs_.cancel(id); !c) {
      spdlog::warn("event=pipeline_cancel_failed job={} error=\"{}\"", id, c.error().message());
    }
  }
  spdlog::info("event=pipeline_run_cancelled run={} jobs={}", run_id, to_cancel.size());
  return {};
}

Status PipelineService::retry(std::int64_t run_id, const std::string& stage) {
  std::lock_guard lock(mu_);
  auto run = load(run_id);
  if (!run) return std::unexpected(run.error());
  if (run->rec.state != RunState::kFailed && run->rec.state != RunState::kCancelled) {
    return fail(ErrorCode::kConflict, "pipeline run " + std::to_string(run_id) + " is " +
                                          std::string(to_string(run->rec.state)) +
                                          "; only a failed or cancelled run can be retried");
  }
  std::set<std::string> reset;
  for (const auto& st : run->stages) {
    const bool chosen =
        stage.empty() ? (st.state == StageState::kFailed || st.state == StageState::kCancelled)
                      : st.stage == stage;
    if (!chosen) continue;
    reset.insert(st.stage);
    reset.merge(run->dependents(st.stage));
  }
  if (!stage.empty() && reset.empty()) {
    return fail(ErrorCode::kNotFound,
                "pipeline run " + std::to_string(run_id) + " has no stage '" + stage + "'");
  }
  std::vector<StageRecord> changed;
  for (auto& st : run->stages) {
    if (!reset.contains(st.stage)) continue;
    StageRecord fresh;
    fresh.run_id = st.run_id;
    fresh.stage = st.stage;
    fresh.generation = st.generation + 1;
    changed.push_back(fresh);
  }
  spdlog::info("event=pipeline_run_retry run={} stage={} reset={}", run_id, stage, changed.size());
  return db_.put_stages(changed, RunState::kRunning, now_ms(), "");
}

Result<Json> PipelineService::artifacts(std::optional<std::int64_t> run_id) {
  auto arts = db_.artifacts(run_id);
  if (!arts) return std::unexpected(arts.error());
  Json out = Json::array();
  for (const auto& a : *arts) out.push_back(to_json(a));
  return out;
}

Result<Json> PipelineService::lineage(const std::string& path) {
  return db_.lineage(path);
}

Result<Json> PipelineService::services() {
  auto s = db_.services();
  if (!s) return std::unexpected(s.error());
  Json out = Json::array();
  for (const auto& r : *s) out.push_back(to_json(r));
  return out;
}

// ---- sockets ----

bool http_health_ok(int port, const std::string& path, int timeout_ms) {
  if (port <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int fd = connect_loopback(port, timeout_ms);
  if (fd < 0) return false;
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  std::size_t sent = 0;
  std::string reply;
  bool ok = false;
  while (std::chrono::steady_clock::now() < deadline) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    pollfd p{fd, static_cast<short>(sent < req.size() ? POLLOUT : POLLIN), 0};
    if (::poll(&p, 1, std::max(left, 1)) != 1) break;
    if (sent < req.size()) {
      ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
      continue;
    }
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
    auto eol = reply.find("\r\n");
    if (eol == std::string::npos) eol = reply.find('\n');
    if (eol != std::string::npos || reply.size() > 256) {
      std::string line = reply.substr(0, eol);
      ok = line.starts_with("HTTP/1.") && line.size() >= 12 && line.substr(9, 3) == "200";
      break;
    }
  }
  ::close(fd);
  return ok;
}

Result<int> pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(errno_error(errno, "making a socket for a service port"));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int e = errno;
    ::close(fd);
    return std::unexpected(errno_error(e, "picking a free loopback port for a service"));
  }
  ::close(fd);
  return static_cast<int>(ntohs(a.sin_port));
}

}  // namespace aion::pipeline
