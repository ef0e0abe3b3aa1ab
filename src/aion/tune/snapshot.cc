#include "aion/tune/snapshot.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "aion/core/host_fs.h"
#include "aion/core/json.h"

namespace aion::tune {
namespace fs = std::filesystem;

namespace {

constexpr int kSnapshotSchemaVersion = 1;

Json to_json(const Snapshot& s) {
  Json entries = Json::array();
  for (const auto& e : s.entries) {
    entries.push_back({{"setting", e.setting},
                       {"path", e.path},
                       {"kind", e.kind},
                       {"existed", e.existed},
                       {"original", e.original},
                       {"restore", e.restore},
                       {"value_kind", e.value_kind}});
  }
  return {{"schema_version", kSnapshotSchemaVersion},
          {"id", s.id},
          {"profile", s.profile},
          {"host_root", s.host_root},
          {"created", s.created},
          {"created_ms", s.created_ms},
          {"state", s.state},
          {"note", s.note},
          {"entries", entries}};
}

Result<Snapshot> from_json(const std::string& text, const std::string& file) {
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("schema_version", 0) != kSnapshotSchemaVersion)
    return fail(ErrorCode::kCorrupt, file + ": not an aion tune snapshot (schema version 1)");
  try {
    Snapshot s;
    s.id = j.at("id").get<std::string>();
    s.profile = j.at("profile").get<std::string>();
    s.host_root = j.at("host_root").get<std::string>();
    s.created = j.at("created").get<std::string>();
    s.created_ms = j.at("created_ms").get<std::int64_t>();
    s.state = j.at("state").get<std::string>();
    s.note = j.value("note", "");
    for (const auto& e : j.at("entries")) {
      SnapshotEntry x;
      x.setting = e.at("setting").get<std::string>();
      x.path = e.at("path").get<std::string>();
      x.kind = e.at("kind").get<std::string>();
      x.existed = e.at("existed").get<bool>();
      x.original = e.at("original").get<std::string>();
      x.restore = e.at("restore").get<std::string>();
      x.value_kind = e.value("value_kind", "word");
      s.entries.push_back(std::move(x));
    }
    return s;
  } catch (const Json::exception& e) {
    return fail(ErrorCode::kCorrupt, file + ": malformed snapshot: " + e.what());
  }
}

}  // namespace

fs::path snapshot_dir(const fs::path& state_dir) {
  return state_dir / "tune" / "snapshots";
}

std::string SnapshotStore::new_id(const std::string& profile, std::int64_t unix_ms) const {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  std::string base = std::string(buf) + "-" + profile;
  std::string id = base;
  std::error_code ec;
  for (int n = 2; fs::exists(dir_ / (id + ".json"), ec); ++n) id = base + "-" + std::to_string(n);
  return id;
}

Status SnapshotStore::save(const Snapshot& s) const {
  std::error_code ec;
  if (!fs::exists(dir_, ec)) {
    fs::create_directories(dir_, ec);
    if (ec) return std::unexpected(errno_error(ec.value(), "creating " + dir_.string()));
    fs::permissions(dir_, fs::perms::owner_all, ec);
  }
  return HostFs("/").write_atomic((dir_ / (s.id + ".json")).string(), to_json(s).dump(2) + "\n",
                                  0600);
}

Result<Snapshot> SnapshotStore::load(const std::string& id) const {
  if (id.empty() || id.find('/') != std::string::npos || id.starts_with("."))
    return fail(ErrorCode::kInvalidArgument, "'" + id + "' is not a snapshot id");
  fs::path p = dir_ / (id + ".json");
  auto text = HostFs("/").read(p.string());
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound)
      return fail(ErrorCode::kNotFound,
                  "no snapshot '" + id + "' in " + dir_.string() + " (see `aion tune status`)");
    return std::unexpected(text.error());
  }
  return from_json(*text, p.string());
}

Status SnapshotStore::remove(const std::string& id) const {
  return HostFs("/").remove((dir_ / (id + ".json")).string());
}

Result<std::vector<Snapshot>> SnapshotStore::list() const {
  std::vector<Snapshot> out;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() != ".json") continue;
    auto s = load(e.path().stem().string());
    if (!s) return std::unexpected(s.error());
    out.push_back(std::move(*s));
  }
  if (ec) return std::unexpected(errno_error(ec.value(), "listing " + dir_.string()));
  std::sort(out.begin(), out.end(), [](const Snapshot& a, const Snapshot& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
  });
  return out;
}

Result<std::optional<Snapshot>> SnapshotStore::latest_active(const std::string& host_root) const {
  auto all = list();
  if (!all) return std::unexpected(all.error());
  for (auto it = all->rbegin(); it != all->rend(); ++it) {
    if (it->state != "rolled-back" && it->host_root == host_root)
      return std::optional<Snapshot>(*it);
  }
  return std::optional<Snapshot>();
}

}  // namespace aion::tune
