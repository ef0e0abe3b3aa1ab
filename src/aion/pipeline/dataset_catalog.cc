#include "aion/pipeline/dataset_catalog.h"

#include <sys/stat.h>
#include <xxhash.h>

#include <array>
#include <cstring>
#include <system_error>

namespace aion::pipeline {

namespace {

// Module "datasets" of datasets.db. Append migrations; never edit a shipped one.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE datasets(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL,
  next_version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE dataset_versions(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  source BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL,
  files INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  links INTEGER NOT NULL,
  skipped_special INTEGER NOT NULL,
  unreadable INTEGER NOT NULL,
  sha256 INTEGER NOT NULL,
  manifest_id BLOB NOT NULL,
  UNIQUE(dataset_id, version)
);
CREATE TABLE dataset_files(
  version_id INTEGER NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
  path BLOB NOT NULL,
  kind INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  xxh3 BLOB NOT NULL,
  sha256 BLOB,
  modality INTEGER NOT NULL,
  format TEXT NOT NULL,
  link_target BLOB,
  PRIMARY KEY(version_id, path)
) WITHOUT ROWID;
CREATE INDEX dataset_files_content ON dataset_files(xxh3, size);
CREATE TABLE dataset_modalities(
  version_id INTEGER NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
  modality INTEGER NOT NULL,
  files INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY(version_id, modality)
) WITHOUT ROWID;
CREATE TABLE stage_cache(
  version_id INTEGER PRIMARY KEY REFERENCES dataset_versions(id) ON DELETE CASCADE,
  dir BLOB NOT NULL,
  bytes INTEGER NOT NULL,
  staged_at_ms INTEGER NOT NULL,
  last_used_ms INTEGER NOT NULL
);
)sql";

constexpr store::Migration kMigrations[] = {
    {"datasets", 1, "datasets, versions, manifests, stage cache", kSchemaV1},
};

constexpr std::string_view kVersionColumns =
    "SELECT v.id, d.name, v.version, v.source, v.created_at_ms, v.files, v.bytes, v.links, "
    "v.skipped_special, v.unreadable, v.sha256, v.manifest_id FROM dataset_versions v "
    "JOIN datasets d ON d.id = v.dataset_id ";

std::string_view sha_view(const Sha256& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

FileEntry read_entry(const store::Statement& s) {
  FileEntry e;
  e.path = s.column_text(0);
  e.kind = s.column_int(1) == 1 ? FileKind::kSymlink : FileKind::kFile;
  e.size = static_cast<std::uint64_t>(s.column_int(2));
  e.mtime_ns = s.column_int(3);
  e.mode = static_cast<std::uint32_t>(s.column_int(4));
  e.xxh3 = Xxh128::from_bytes(s.column_text(5)).value_or(Xxh128{});
  if (!s.column_is_null(6)) {
    std::string b = s.column_text(6);
    if (b.size() == 32) {
      Sha256 d;
      std::memcpy(d.data(), b.data(), 32);
      e.sha256 = d;
    }
  }
  e.modality = modality_from_index(s.column_int(7)).value_or(Modality::kOther);
  e.format = s.column_text(8);
  if (!s.column_is_null(9)) e.link_target = s.column_text(9);
  return e;
}

constexpr std::string_view kFileColumns =
    "SELECT path, kind, size, mtime_ns, mode, xxh3, sha256, modality, format, link_target "
    "FROM dataset_files ";

}  // namespace

std::filesystem::path DatasetCatalog::default_file(const std::filesystem::path& state_dir) {
  return state_dir / "datasets.db";
}

Result<std::unique_ptr<DatasetCatalog>> DatasetCatalog::open(const std::filesystem::path& file,
                                                             const Clock* clock) {
  if (file.has_parent_path()) {
    std::error_code ec;
    if (std::filesystem::create_directories(file.parent_path(), ec)) {
      ::chmod(file.parent_path().c_str(), 0700);
    }
    if (ec) {
      return fail(ErrorCode::kIo, "cannot create the directory of the dataset catalog " +
                                      file.parent_path().string() + ": " + ec.message());
    }
  }
  store::DatabaseOptions o;
  o.path = file;
  o.clock = clock;
  auto db = store::Database::open(o, kMigrations);
  if (!db) {
    Error e = db.error();
    e.context("opening the dataset catalog " + file.string());
    return std::unexpected(e);
  }
  return std::unique_ptr<DatasetCatalog>(
      new DatasetCatalog(std::move(*db), clock ? clock : &Clock::system()));
}

Result<std::unique_ptr<DatasetCatalog>> DatasetCatalog::open_read_only(
    const std::filesystem::path& file) {
  store::DatabaseOptions o;
  o.path = file;
  o.read_only = true;
  auto db = store::Database::open(o, kMigrations);
  if (!db) {
    Error e = db.error();
    e.context("opening the dataset catalog " + file.string());
    return std::unexpected(e);
  }
  return std::unique_ptr<DatasetCatalog>(new DatasetCatalog(std::move(*db), &Clock::system()));
}

// --- writing a version

Result<DatasetCatalog::Writer> DatasetCatalog::begin_version(std::string_view name,
                                                             const std::string& source) {
  if (auto ok = check_dataset_name(name); !ok) return std::unexpected(ok.error());
  auto tx = db_->begin();
  if (!tx) return std::unexpected(tx.error());
  const std::int64_t now = to_unix_ms(clock_->wall());
  auto ins = db_->prepare(
      "INSERT INTO datasets(name, created_at_ms) VALUES(?1, ?2) ON CONFLICT(name) DO NOTHING");
  if (!ins) return std::unexpected(ins.error());
  if (auto ok = (*ins)->bind(1, name).bind(2, now).run(); !ok) return std::unexpected(ok.error());
  auto sel = db_->prepare("SELECT id, next_version FROM datasets WHERE name = ?1");
  if (!sel) return std::unexpected(sel.error());
  (*sel)->bind(1, name);
  auto row = (*sel)->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(ErrorCode::kInternal, "dataset row vanished inside its transaction");
  const std::int64_t dataset_id = (*sel)->column_int(0);
  const int version = static_cast<int>((*sel)->column_int(1));
  (*sel)->reset();
  auto vins = db_->prepare(
      "INSERT INTO dataset_versions(dataset_id, version, source, created_at_ms, files, bytes, "
      "links, skipped_special, unreadable, sha256, manifest_id) "
      "VALUES(?1, ?2, ?3, ?4, 0, 0, 0, 0, 0, 0, x'')");
  if (!vins) return std::unexpected(vins.error());
  if (auto ok =
          (*vins)->bind(1, dataset_id).bind(2, version).bind_blob(3, source).bind(4, now).run();
      !ok) {
    return std::unexpected(ok.error());
  }
  VersionInfo info;
  info.id = db_->last_insert_rowid();
  info.dataset = std::string(name);
  info.version = version;
  info.source = source;
  info.created_at_ms = now;
  return Writer(this, std::move(*tx), std::move(info));
}

Status DatasetCatalog::Writer::add(const FileEntry& e) {
  auto ins = cat_->db_->prepare(
      "INSERT INTO dataset_files(version_id, path, kind, size, mtime_ns, mode, xxh3, sha256, "
      "modality, format, link_target) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!ins) return std::unexpected(ins.error());
  store::Statement& s = **ins;
  s.bind(1, info_.id)
      .bind_blob(2, e.path)
      .bind(3, static_cast<int>(e.kind))
      .bind(4, static_cast<std::int64_t>(e.size))
      .bind(5, e.mtime_ns)
      .bind(6, static_cast<std::int64_t>(e.mode))
      .bind_blob(7, e.xxh3.view())
      .bind(9, static_cast<int>(e.modality))
      .bind(10, e.format);
  if (e.sha256) {
    s.bind_blob(8, sha_view(*e.sha256));
  } else {
    s.bind_null(8);
  }
  if (e.kind == FileKind::kSymlink) {
    s.bind_blob(11, e.link_target);
  } else {
    s.bind_null(11);
  }
  auto ok = s.run();
  if (!ok && ok.error().message().find("UNIQUE") != std::string::npos) {
    return fail(ErrorCode::kInternal, "path '" + display_path(e.path) + "' recorded twice");
  }
  return ok;
}

Result<Xxh128> DatasetCatalog::Writer::manifest_id() {
  auto sel = cat_->db_->prepare(
      "SELECT path, kind, xxh3 FROM dataset_files WHERE version_id = ?1 ORDER BY path");
  if (!sel) return std::unexpected(sel.error());
  (*sel)->bind(1, info_.id);
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  for (;;) {
    auto row = (*sel)->step();
    if (!row) {
      XXH3_freeState(st);
      return std::unexpected(row.error());
    }
    if (!*row) break;
    std::string path = (*sel)->column_text(0);
    std::uint64_t len = path.size();
    std::uint8_t kind = static_cast<std::uint8_t>((*sel)->column_int(1));
    std::string h = (*sel)->column_text(2);
    XXH3_128bits_update(st, &len, sizeof len);
    XXH3_128bits_update(st, path.data(), path.size());
    XXH3_128bits_update(st, &kind, 1);
    XXH3_128bits_update(st, h.data(), h.size());
  }
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
  XXH3_freeState(st);
  Xxh128 d;
  std::memcpy(d.bytes.data(), c.digest, 16);
  return d;
}

Result<VersionInfo> DatasetCatalog::Writer::commit(const VersionInfo& counts) {
  auto id = manifest_id();
  if (!id) return std::unexpected(id.error());
  VersionInfo v = counts;
  v.id = info_.id;
  v.dataset = info_.dataset;
  v.version = info_.version;
  v.source = info_.source;
  v.created_at_ms = info_.created_at_ms;
  v.manifest_id = *id;
  store::Database& db = *cat_->db_;
  auto up = db.prepare(
      "UPDATE dataset_versions SET files = ?2, bytes = ?3, links = ?4, skipped_special = ?5, "
      "unreadable = ?6, sha256 = ?7, manifest_id = ?8 WHERE id = ?1");
  if (!up) return std::unexpected(up.error());
  (*up)
      ->bind(1, v.id)
      .bind(2, static_cast<std::int64_t>(v.files))
      .bind(3, static_cast<std::int64_t>(v.bytes))
      .bind(4, static_cast<std::int64_t>(v.links))
      .bind(5, static_cast<std::int64_t>(v.skipped_special))
      .bind(6, static_cast<std::int64_t>(v.unreadable))
      .bind(7, v.sha256 ? 1 : 0)
      .bind_blob(8, v.manifest_id.view());
  if (auto ok = (*up)->run(); !ok) return std::unexpected(ok.error());
  auto next = db.prepare(
      "UPDATE datasets SET next_version = ?2 + 1 WHERE id = "
      "(SELECT dataset_id FROM dataset_versions WHERE id = ?1)");
  if (!next) return std::unexpected(next.error());
  if (auto ok = (*next)->bind(1, v.id).bind(2, v.version).run(); !ok) {
    return std::unexpected(ok.error());
  }
  auto mod = db.prepare(
      "INSERT INTO dataset_modalities(version_id, modality, files, bytes) VALUES(?1, ?2, ?3, ?4)");
  if (!mod) return std::unexpected(mod.error());
  for (std::size_t i = 0; i < kModalityCount; ++i) {
    if (v.totals.files[i] == 0) continue;
    auto ok = (*mod)
                  ->bind(1, v.id)
                  .bind(2, static_cast<int>(i))
                  .bind(3, static_cast<std::int64_t>(v.totals.files[i]))
                  .bind(4, static_cast<std::int64_t>(v.totals.bytes[i]))
                  .run();
    if (!ok) return std::unexpected(ok.error());
  }
  if (auto ok = tx_.commit(); !ok) return std::unexpected(ok.error());
  return v;
}

Status DatasetCatalog::Writer::commit_sha256_into(std::int64_t target_version_id) {
  store::Database& db = *cat_->db_;
  // Runs `sql` with ?1 bound to `first` and, when given, ?2 to `second`.
  auto run = [&](std::string_view sql, std::int64_t first,
                 std::optional<std::int64_t> second = std::nullopt) -> Status {
    auto st = db.prepare(sql);
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, first);
    if (second) (*st)->bind(2, *second);
    return (*st)->run();
  };
  if (auto ok = run("UPDATE dataset_files SET sha256 = (SELECT n.sha256 FROM dataset_files n "
                    "WHERE n.version_id = ?1 AND n.path = dataset_files.path) "
                    "WHERE version_id = ?2",
                    info_.id, target_version_id);
      !ok)
    return ok;
  if (auto ok = run("UPDATE dataset_versions SET sha256 = 1 WHERE id = ?1", target_version_id); !ok)
    return ok;
  // The version being written goes: its rows, then itself (its number was never taken).
  if (auto ok = run("DELETE FROM dataset_files WHERE version_id = ?1", info_.id); !ok) return ok;
  if (auto ok = run("DELETE FROM dataset_versions WHERE id = ?1", info_.id); !ok) return ok;
  return tx_.commit();
}

// --- reading

Status DatasetCatalog::load_totals(VersionInfo& v) {
  auto sel =
      db_->prepare("SELECT modality, files, bytes FROM dataset_modalities WHERE version_id = ?1");
  if (!sel) return std::unexpected(sel.error());
  (*sel)->bind(1, v.id);
  for (;;) {
    auto row = (*sel)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto m = modality_from_index((*sel)->column_int(0));
    if (!m) continue;
    v.totals.files[static_cast<std::size_t>(*m)] =
        static_cast<std::uint64_t>((*sel)->column_int(1));
    v.totals.bytes[static_cast<std::size_t>(*m)] =
        static_cast<std::uint64_t>((*sel)->column_int(2));
  }
  return {};
}

Result<std::vector<VersionInfo>> DatasetCatalog::query_versions(std::string_view where,
                                                                std::string_view arg,
                                                                std::int64_t id_arg) {
  std::string sql =
      std::string(kVersionColumns) + std::string(where) + " ORDER BY d.name, v.version";
  auto sel = db_->prepare(sql);
  if (!sel) return std::unexpected(sel.error());
  if (where.find("?1") != std::string_view::npos) (*sel)->bind(1, arg);
  if (where.find("?2") != std::string_view::npos) (*sel)->bind(2, id_arg);
  std::vector<VersionInfo> out;
  for (;;) {
    auto row = (*sel)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    const store::Statement& s = **sel;
    VersionInfo v;
    v.id = s.column_int(0);
    v.dataset = s.column_text(1);
    v.version = static_cast<int>(s.column_int(2));
    v.source = s.column_text(3);
    v.created_at_ms = s.column_int(4);
    v.files = static_cast<std::uint64_t>(s.column_int(5));
    v.bytes = static_cast<std::uint64_t>(s.column_int(6));
    v.links = static_cast<std::uint64_t>(s.column_int(7));
    v.skipped_special = static_cast<std::uint64_t>(s.column_int(8));
    v.unreadable = static_cast<std::uint64_t>(s.column_int(9));
    v.sha256 = s.column_int(10) != 0;
    v.manifest_id = Xxh128::from_bytes(s.column_text(11)).value_or(Xxh128{});
    out.push_back(std::move(v));
  }
  (*sel)->reset();
  for (auto& v : out) {
    if (auto ok = load_totals(v); !ok) return std::unexpected(ok.error());
  }
  return out;
}

Result<std::vector<VersionInfo>> DatasetCatalog::list() {
  return query_versions("WHERE 1 = 1", "", 0);
}

Result<std::vector<VersionInfo>> DatasetCatalog::versions(std::string_view name) {
  return query_versions("WHERE d.name = ?1", name, 0);
}

Result<VersionInfo> DatasetCatalog::by_id(std::int64_t version_id) {
  auto vs = query_versions("WHERE v.id = ?2", "", version_id);
  if (!vs) return std::unexpected(vs.error());
  if (vs->empty()) {
    return fail(ErrorCode::kNotFound, "no dataset version has id " + std::to_string(version_id) +
                                          " in " + path().string());
  }
  return std::move(vs->front());
}

Result<VersionInfo> DatasetCatalog::resolve(const VersionRef& ref) {
  auto vs = versions(ref.name);
  if (!vs) return std::unexpected(vs.error());
  if (vs->empty()) {
    return fail(ErrorCode::kNotFound, "no dataset named '" + ref.name +
                                          "' (see `aion data ls`; add one with `aion data add " +
                                          ref.name + " DIR`)");
  }
  if (!ref.version) return std::move(vs->back());
  for (auto& v : *vs) {
    if (v.version == *ref.version) return std::move(v);
  }
  std::string have;
  for (const auto& v : *vs) have += (have.empty() ? "" : ", ") + std::to_string(v.version);
  return fail(ErrorCode::kNotFound, "dataset '" + ref.name + "' has no version " +
                                        std::to_string(*ref.version) + " (it has " + have + ")");
}

Status DatasetCatalog::for_each_file(std::int64_t version_id,
                                     const std::function<Status(FileEntry&&)>& fn) {
  auto sel = db_->prepare(std::string(kFileColumns) + "WHERE version_id = ?1 ORDER BY path");
  if (!sel) return std::unexpected(sel.error());
  (*sel)->bind(1, version_id);
  for (;;) {
    auto row = (*sel)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    if (auto ok = fn(read_entry(**sel)); !ok) {
      (*sel)->reset();
      return ok;
    }
  }
  return {};
}

Result<std::optional<FileEntry>> DatasetCatalog::find_file(std::int64_t version_id,
                                                           std::string_view path) {
  auto sel = db_->prepare(std::string(kFileColumns) + "WHERE version_id = ?1 AND path = ?2");
  if (!sel) return std::unexpected(sel.error());
  (*sel)->bind(1, version_id).bind_blob(2, path);
  auto row = (*sel)->step();
  if (!row) return std::unexpected(row.error());
  std::optional<FileEntry> out;
  if (*row) out = read_entry(**sel);
  (*sel)->reset();
  return out;
}

namespace {

Result<DiffList> collect_paths(store::Database& db, std::string_view sql, std::int64_t from,
                               std::int64_t to, std::size_t max_listed) {
  auto sel = db.prepare(sql);
  if (!sel) return std::unexpected(sel.error());
  (*sel)->bind(1, from).bind(2, to);
  DiffList out;
  for (;;) {
    auto row = (*sel)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    if (out.paths.size() < max_listed) out.paths.push_back((*sel)->column_text(0));
    ++out.count;
  }
  return out;
}

}  // namespace

Result<Diff> DatasetCatalog::diff(std::int64_t from, std::int64_t to, std::size_t max_listed) {
  Diff d;
  auto added = collect_paths(*db_,
                             "SELECT n.path FROM dataset_files n WHERE n.version_id = ?2 AND NOT "
                             "EXISTS (SELECT 1 FROM dataset_files o WHERE o.version_id = ?1 AND "
                             "o.path = n.path) ORDER BY n.path",
                             from, to, max_listed);
  if (!added) return std::unexpected(added.error());
  auto removed = collect_paths(*db_,
                               "SELECT o.path FROM dataset_files o WHERE o.version_id = ?1 AND "
                               "NOT EXISTS (SELECT 1 FROM dataset_files n WHERE n.version_id = "
                               "?2 AND n.path = o.path) ORDER BY o.path",
                               from, to, max_listed);
  if (!removed) return std::unexpected(removed.error());
  auto changed = collect_paths(*db_,
                               "SELECT n.path FROM dataset_files n JOIN dataset_files o ON "
                               "o.version_id = ?1 AND o.path = n.path WHERE n.version_id = ?2 "
                               "AND (n.xxh3 != o.xxh3 OR n.kind != o.kind OR n.size != o.size) "
                               "ORDER BY n.path",
                               from, to, max_listed);
  if (!changed) return std::unexpected(changed.error());
  d.added = std::move(*added);
  d.removed = std::move(*removed);
  d.changed = std::move(*changed);
  return d;
}

Result<DuplicateReport> DatasetCatalog::duplicates(std::optional<std::int64_t> version_id,
                                                   std::size_t max_groups, std::size_t max_copies) {
  // Groups of content that more than one dataset holds, largest first.
  const std::string_view all_sql =
      "SELECT f.xxh3, f.size FROM dataset_files f JOIN dataset_versions v ON v.id = "
      "f.version_id WHERE f.kind = 0 AND f.size > 0 GROUP BY f.xxh3, f.size HAVING "
      "COUNT(DISTINCT v.dataset_id) > 1 ORDER BY f.size DESC, f.xxh3";
  const std::string_view one_sql =
      "SELECT f.xxh3, f.size FROM dataset_files f WHERE f.version_id = ?1 AND f.kind = 0 AND "
      "f.size > 0 AND EXISTS (SELECT 1 FROM dataset_files g JOIN dataset_versions w ON w.id = "
      "g.version_id WHERE g.xxh3 = f.xxh3 AND g.size = f.size AND w.dataset_id != (SELECT "
      "dataset_id FROM dataset_versions WHERE id = ?1)) GROUP BY f.xxh3, f.size "
      "ORDER BY f.size DESC, f.xxh3";
  auto sel = db_->prepare(version_id ? one_sql : all_sql);
  if (!sel) return std::unexpected(sel.error());
  if (version_id) (*sel)->bind(1, *version_id);
  DuplicateReport report;
  for (;;) {
    auto row = (*sel)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    const auto size = static_cast<std::uint64_t>((*sel)->column_int(1));
    ++report.total_groups;
    report.total_bytes += size;
    if (report.groups.size() < max_groups) {
      DuplicateGroup g;
      g.xxh3 = Xxh128::from_bytes((*sel)->column_text(0)).value_or(Xxh128{});
      g.size = size;
      report.groups.push_back(std::move(g));
    }
  }
  auto copies = db_->prepare(
      "SELECT d.name, v.version, f.path FROM dataset_files f JOIN dataset_versions v ON v.id = "
      "f.version_id JOIN datasets d ON d.id = v.dataset_id WHERE f.xxh3 = ?1 AND f.size = ?2 "
      "AND f.kind = 0 ORDER BY d.name, v.version, f.path");
  if (!copies) return std::unexpected(copies.error());
  for (auto& g : report.groups) {
    (*copies)->bind_blob(1, g.xxh3.view()).bind(2, static_cast<std::int64_t>(g.size));
    for (;;) {
      auto row = (*copies)->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      ++g.total_copies;
      if (g.copies.size() < max_copies) {
        g.copies.push_back({(*copies)->column_text(0), static_cast<int>((*copies)->column_int(1)),
                            (*copies)->column_text(2)});
      }
    }
    (*copies)->reset();
  }
  return report;
}

Result<std::vector<VersionInfo>> DatasetCatalog::remove(const VersionRef& ref) {
  std::vector<VersionInfo> removed;
  if (ref.version) {
    auto v = resolve(ref);
    if (!v) return std::unexpected(v.error());
    removed.push_back(std::move(*v));
  } else {
    auto vs = versions(ref.name);
    if (!vs) return std::unexpected(vs.error());
    if (vs->empty()) {
      return fail(ErrorCode::kNotFound, "no dataset named '" + ref.name + "' (see `aion data ls`)");
    }
    removed = std::move(*vs);
  }
  auto tx = db_->begin();
  if (!tx) return std::unexpected(tx.error());
  auto del = db_->prepare("DELETE FROM dataset_versions WHERE id = ?1");
  if (!del) return std::unexpected(del.error());
  for (const auto& v : removed) {
    if (auto ok = (*del)->bind(1, v.id).run(); !ok) return std::unexpected(ok.error());
  }
  auto empty = db_->prepare(
      "DELETE FROM datasets WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM dataset_versions v "
      "WHERE v.dataset_id = datasets.id)");
  if (!empty) return std::unexpected(empty.error());
  if (auto ok = (*empty)->bind(1, ref.name).run(); !ok) return std::unexpected(ok.error());
  if (auto ok = tx->commit(); !ok) return std::unexpected(ok.error());
  return removed;
}

// --- stage cache rows

Result<std::vector<StagedCopy>> DatasetCatalog::staged() {
  auto sel = db_->prepare(
      "SELECT version_id, dir, bytes, staged_at_ms, last_used_ms FROM stage_cache "
      "ORDER BY last_used_ms, version_id");
  if (!sel) return std::unexpected(sel.error());
  std::vector<StagedCopy> out;
  for (;;) {
    auto row = (*sel)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    out.push_back({(*sel)->column_int(0), (*sel)->column_text(1),
                   static_cast<std::uint64_t>((*sel)->column_int(2)), (*sel)->column_int(3),
                   (*sel)->column_int(4)});
  }
  return out;
}

Result<std::optional<StagedCopy>> DatasetCatalog::staged(std::int64_t version_id) {
  auto all = staged();
  if (!all) return std::unexpected(all.error());
  for (auto& c : *all) {
    if (c.version_id == version_id) return std::optional<StagedCopy>(std::move(c));
  }
  return std::optional<StagedCopy>();
}

Status DatasetCatalog::record_staged(const StagedCopy& c) {
  auto ins = db_->prepare(
      "INSERT OR REPLACE INTO stage_cache(version_id, dir, bytes, staged_at_ms, last_used_ms) "
      "VALUES(?1, ?2, ?3, ?4, ?5)");
  if (!ins) return std::unexpected(ins.error());
  return (*ins)
      ->bind(1, c.version_id)
      .bind_blob(2, c.dir)
      .bind(3, static_cast<std::int64_t>(c.bytes))
      .bind(4, c.staged_at_ms)
      .bind(5, c.last_used_ms)
      .run();
}

Status DatasetCatalog::touch_staged(std::int64_t version_id) {
  auto up = db_->prepare("UPDATE stage_cache SET last_used_ms = ?2 WHERE version_id = ?1");
  if (!up) return std::unexpected(up.error());
  return (*up)->bind(1, version_id).bind(2, to_unix_ms(clock_->wall())).run();
}

Status DatasetCatalog::forget_staged(std::int64_t version_id) {
  auto del = db_->prepare("DELETE FROM stage_cache WHERE version_id = ?1");
  if (!del) return std::unexpected(del.error());
  return (*del)->bind(1, version_id).run();
}

}  // namespace aion::pipeline
