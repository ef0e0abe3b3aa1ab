#include "aion/tune/holds.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <spdlog/spdlog.h>

#include "aion/core/host_fs.h"
#include "aion/core/json.h"

namespace aion::tune {
namespace fs = std::filesystem;

namespace {

constexpr int kHoldsSchemaVersion = 1;

// An exclusive flock held for the object's lifetime.
class FileLock {
 public:
  static Result<FileLock> take(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return std::unexpected(errno_error(errno, "opening " + file.string()));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return std::unexpected(errno_error(e, "locking " + file.string()));
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

Status ensure_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) return {};
  fs::create_directories(dir, ec);
  if (ec) return std::unexpected(errno_error(ec.value(), "creating " + dir.string()));
  fs::permissions(dir, fs::perms::owner_all, ec);
  return {};
}

Result<std::optional<Hold>> load(const fs::path& file) {
  auto text = HostFs("/").read(file.string());
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound) return std::optional<Hold>{};
    return std::unexpected(text.error());
  }
  Json j = Json::parse(*text, nullptr, false);
  if (!j.is_object() || j.value("schema_version", 0) != kHoldsSchemaVersion)
    return fail(ErrorCode::kCorrupt,
                file.string() +
                    ": not an aion tuning hold file (schema version 1); remove it "
                    "after checking `aion tune status`");
  if (!j.contains("hold") || j["hold"].is_null()) return std::optional<Hold>{};
  try {
    const Json& h = j.at("hold");
    Hold hold;
    hold.profile = h.at("profile").get<std::string>();
    hold.snapshot_id = h.at("snapshot_id").get<std::string>();
    hold.boot_id = h.at("boot_id").get<std::string>();
    hold.jobs = h.at("jobs").get<std::vector<std::string>>();
    return std::optional<Hold>{std::move(hold)};
  } catch (const Json::exception& e) {
    return fail(ErrorCode::kCorrupt, file.string() + ": " + e.what());
  }
}

Status save(const fs::path& file, const std::optional<Hold>& hold) {
  Json h = nullptr;
  if (hold) {
    h = {{"profile", hold->profile},
         {"snapshot_id", hold->snapshot_id},
         {"boot_id", hold->boot_id},
         {"jobs", hold->jobs}};
  }
  Json j = {{"schema_version", kHoldsSchemaVersion}, {"hold", h}};
  return HostFs("/").write_atomic(file.string(), j.dump(2) + "\n", 0600);
}

// The state, read under the lock, which is held until this is destroyed.
struct Locked {
  FileLock lock;
  fs::path file;
  std::optional<Hold> hold;
};

Result<Locked> lock_and_load(const fs::path& dir) {
  if (auto ok = ensure_dir(dir); !ok) return std::unexpected(ok.error());
  auto lock = FileLock::take(dir / "holds.lock");
  if (!lock) return std::unexpected(lock.error());
  fs::path file = dir / "holds.json";
  auto held = load(file);
  if (!held) return std::unexpected(held.error());
  return Locked{std::move(*lock), std::move(file), std::move(*held)};
}

}  // namespace

std::string_view to_string(AcquireOutcome o) {
  switch (o) {
    case AcquireOutcome::kApplied: return "applied";
    case AcquireOutcome::kJoined: return "joined";
    case AcquireOutcome::kConflict: return "conflict";
    case AcquireOutcome::kFailed: return "failed";
  }
  return "?";
}

HoldStore::HoldStore(fs::path dir, std::string boot_id)
    : dir_(std::move(dir)), boot_id_(std::move(boot_id)) {}

Result<AcquireResult> HoldStore::acquire(
    const std::string& job, const std::string& profile,
    const std::function<Result<ApplyReport>()>& apply_profile) const {
  auto state = lock_and_load(dir_);
  if (!state) return std::unexpected(state.error());
  const fs::path& file = state->file;
  std::optional<Hold>& held = state->hold;
  AcquireResult r;
  if (held && held->boot_id != boot_id_) {
    held.reset();  // its settings went with the reboot
    r.dropped_stale = true;
  }
  if (held) {
    Hold& h = *held;
    if (h.profile != profile) {
      r.outcome = AcquireOutcome::kConflict;
      r.hold = h;
      if (r.dropped_stale) {
        if (auto ok = save(file, held); !ok) return std::unexpected(ok.error());
      }
      return r;
    }
    if (std::find(h.jobs.begin(), h.jobs.end(), job) == h.jobs.end()) h.jobs.push_back(job);
    if (auto ok = save(file, held); !ok) return std::unexpected(ok.error());
    r.outcome = AcquireOutcome::kJoined;
    r.hold = h;
    return r;
  }
  auto report = apply_profile();
  if (!report) {
    if (r.dropped_stale) {
      if (auto ok = save(file, std::nullopt); !ok) {
        spdlog::warn("event=tune_hold_save_failed file={} error=\"{}\"", file.string(),
                     ok.error().message());
      }
    }
    return std::unexpected(report.error());
  }
  r.report = *report;
  if (!report->ok) {
    r.outcome = AcquireOutcome::kFailed;
    if (auto ok = save(file, std::nullopt); !ok) return std::unexpected(ok.error());
    return r;
  }
  Hold h{profile, report->snapshot_id, boot_id_, {job}};
  if (auto ok = save(file, h); !ok) return std::unexpected(ok.error());
  r.outcome = AcquireOutcome::kApplied;
  r.hold = std::move(h);
  return r;
}

Result<ReleaseResult> HoldStore::release(
    const std::string& job,
    const std::function<Result<RollbackReport>(const std::string&)>& rollback_snapshot) const {
  auto state = lock_and_load(dir_);
  if (!state) return std::unexpected(state.error());
  const fs::path& file = state->file;
  std::optional<Hold>& held = state->hold;
  ReleaseResult r;
  if (!held) return r;
  Hold& h = *held;
  r.hold = h;
  auto it = std::find(h.jobs.begin(), h.jobs.end(), job);
  if (it == h.jobs.end()) return r;
  r.held = true;
  h.jobs.erase(it);
  if (!h.jobs.empty()) {
    if (auto ok = save(file, held); !ok) return std::unexpected(ok.error());
    return r;
  }
  r.last = true;
  if (!h.snapshot_id.empty() && h.boot_id == boot_id_) {
    auto rb = rollback_snapshot(h.snapshot_id);
    if (!rb) return std::unexpected(rb.error());  // the hold stays: the epilog can be rerun
    r.rollback = *rb;
  }
  if (auto ok = save(file, std::nullopt); !ok) return std::unexpected(ok.error());
  return r;
}

Result<std::optional<Hold>> HoldStore::current() const {
  auto held = load(dir_ / "holds.json");
  if (!held) return std::unexpected(held.error());
  if (*held && (*held)->boot_id != boot_id_) return std::optional<Hold>{};
  return held;
}

}  // namespace aion::tune
