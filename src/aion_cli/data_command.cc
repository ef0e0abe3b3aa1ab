// aion data add | ls | show | verify | stage | rm: datasets, as versioned content-addressed
// manifests in the invoking user's catalog (aion/pipeline). No daemon needed: the catalog is
// a SQLite file in the user's state directory, like `aion env plan` reads only files.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "aion/core/clock.h"
#include "aion/core/config.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/core/settings.h"
#include "aion/hw/discovery.h"
#include "aion/pipeline/dataset.h"
#include "aion/pipeline/dataset_add.h"
#include "aion/pipeline/dataset_catalog.h"
#include "aion/pipeline/dataset_config.h"
#include "aion/pipeline/dataset_verify.h"
#include "aion/pipeline/fast_storage.h"
#include "aion/pipeline/stage.h"
#include "cli.h"
#include "command.h"
#include "daemon_client.h"
#include "machine.h"
#include "table.h"

namespace aion::cli {
namespace {

namespace pl = aion::pipeline;

struct DataEnv {
  pl::DatasetSettings settings;
  std::unique_ptr<pl::DatasetCatalog> catalog;
  bool stage_dir_configured = false;  // datasets.stage_dir set: never moved to an NVMe
};

// The node's configuration with the [datasets] section, and the user's catalog.
std::optional<DataEnv> open_env(Context& ctx) {
  // The node's config file: its [datasets] section is part of the node schema.
  auto cfg = load_config(ctx);
  if (!cfg) return std::nullopt;
  DataEnv env;
  env.settings = pl::dataset_settings(*cfg, settings_from(*cfg).state_dir);
  env.stage_dir_configured = !cfg->get_string("datasets.stage_dir").empty();
  auto cat = pl::DatasetCatalog::open(env.settings.catalog);
  if (!cat) {
    report(ctx, cat.error());
    return std::nullopt;
  }
  env.catalog = std::move(*cat);
  return env;
}

std::optional<pl::VersionRef> parse_ref(Context& ctx, const std::string& text) {
  auto ref = pl::parse_version_ref(text);
  if (!ref) {
    report(ctx, ref.error());
    return std::nullopt;
  }
  return *ref;
}

// The version NAME[@VERSION] names in the catalog; on error reports it and returns nullopt.
std::optional<pl::VersionInfo> resolve_ref(Context& ctx, DataEnv& env, const std::string& text) {
  auto ref = parse_ref(ctx, text);
  if (!ref) return std::nullopt;
  auto v = env.catalog->resolve(*ref);
  if (!v) {
    report(ctx, v.error());
    return std::nullopt;
  }
  return *v;
}

std::string time_text(std::int64_t ms) {
  return format_rfc3339(Clock::Wall(std::chrono::milliseconds(ms)));
}

// "12,345 files  1.2 GiB  310 MB/s" on stderr, redrawn in place, when stderr is a terminal.
std::function<void(const pl::Progress&)> progress_printer(Context& ctx) {
  if (!::isatty(STDERR_FILENO) || ctx.json) return {};
  auto start =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [start](const pl::Progress& p) {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - *start).count();
    double rate = s > 0 ? static_cast<double>(p.bytes) / s / 1e6 : 0;
    std::fprintf(stderr, "\r\033[K  %llu/%llu files  %s  %.0f MB/s",
                 static_cast<unsigned long long>(p.files),
                 static_cast<unsigned long long>(p.total_files), pl::format_bytes(p.bytes).c_str(),
                 rate);
  };
}

void end_progress(const std::function<void(const pl::Progress&)>& p) {
  if (p) std::fprintf(stderr, "\r\033[K");
}

Json totals_json(const pl::ModalityTotals& t) {
  Json out = Json::object();
  for (auto m : pl::kAllModalities) {
    auto i = static_cast<std::size_t>(m);
    if (t.files[i] == 0) continue;
    out[std::string(pl::to_string(m))] = {{"files", t.files[i]}, {"bytes", t.bytes[i]}};
  }
  return out;
}

Json version_json(const pl::VersionInfo& v) {
  return {{"id", v.id},
          {"dataset", v.dataset},
          {"version", v.version},
          {"ref", v.dataset + "@" + std::to_string(v.version)},
          {"source", pl::display_path(v.source)},
          {"created_at", time_text(v.created_at_ms)},
          {"files", v.files},
          {"bytes", v.bytes},
          {"links", v.links},
          {"skipped_special", v.skipped_special},
          {"unreadable", v.unreadable},
          {"sha256", v.sha256},
          {"manifest_id", v.manifest_id.hex()},
          {"modalities", totals_json(v.totals)}};
}

Json paths_json(const pl::DiffList& l) {
  Json paths = Json::array();
  for (const auto& p : l.paths) paths.push_back(pl::display_path(p));
  return {{"count", l.count}, {"paths", paths}};
}

Json diff_json(const pl::Diff& d) {
  return {{"added", paths_json(d.added)},
          {"removed", paths_json(d.removed)},
          {"changed", paths_json(d.changed)}};
}

Json duplicates_json(const pl::DuplicateReport& r) {
  Json groups = Json::array();
  for (const auto& g : r.groups) {
    Json copies = Json::array();
    for (const auto& c : g.copies) {
      copies.push_back(
          {{"dataset", c.dataset}, {"version", c.version}, {"path", pl::display_path(c.path)}});
    }
    groups.push_back(
        {{"xxh3", g.xxh3.hex()}, {"size", g.size}, {"copies", g.total_copies}, {"listed", copies}});
  }
  return {{"groups", r.total_groups}, {"bytes", r.total_bytes}, {"listed", groups}};
}

std::string modality_text(const pl::ModalityTotals& t) {
  std::string out;
  for (auto m : pl::kAllModalities) {
    auto i = static_cast<std::size_t>(m);
    if (t.files[i] == 0) continue;
    out += (out.empty() ? "" : ", ") + std::string(pl::to_string(m)) + " " +
           std::to_string(t.files[i]);
  }
  return out.empty() ? "-" : out;
}

void print_diff_list(const char* sign, const pl::DiffList& l) {
  for (const auto& p : l.paths) std::printf("  %s %s\n", sign, pl::display_path(p).c_str());
  if (l.count > l.paths.size()) {
    std::printf("  %s ... and %llu more\n", sign,
                static_cast<unsigned long long>(l.count - l.paths.size()));
  }
}

// --- add

struct AddArgs {
  std::string name, dir;
  bool sha256 = false;
  bool rehash = false;
  int threads = 0;
  int limit = 50;
};

void cmd_add(Context& ctx, const AddArgs& a) {
  auto env = open_env(ctx);
  if (!env) return;
  auto modalities = pl::ModalityTable::load(pl::ModalityTable::builtin_file());
  if (!modalities) return report(ctx, modalities.error());
  pl::AddOptions o;
  o.sha256 = a.sha256;
  o.rehash = a.rehash;
  o.strict = ctx.strict;
  o.threads = a.threads > 0 ? a.threads : env->settings.hash_threads;
  o.max_listed = static_cast<std::size_t>(a.limit);
  o.progress = progress_printer(ctx);
  auto r = pl::add_dataset(*env->catalog, *modalities, a.name, a.dir, o);
  end_progress(o.progress);
  if (!r) return report(ctx, r.error());
  for (const auto& p : r->unreadable) {
    warn(ctx, "not recorded: '" + pl::display_path(p.path) + "': " + p.what);
  }
  if (r->unreadable_count > r->unreadable.size()) {
    warn(ctx, std::to_string(r->unreadable_count - r->unreadable.size()) +
                  " more unreadable paths not recorded");
  }
  const auto& v = r->version;
  const std::string ref = v.dataset + "@" + std::to_string(v.version);
  if (ctx.json) {
    Json out = {{"created", r->created},         {"version", version_json(v)},
                {"special_skipped", r->special}, {"unreadable", r->unreadable_count},
                {"reused", r->reused},           {"sha256_added", r->sha256_added},
                {"seconds", r->seconds}};
    if (r->diff) out["diff"] = diff_json(*r->diff);
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  if (!r->created) {
    std::printf("%s: unchanged since %s (manifest %s); no new version\n", a.name.c_str(),
                ref.c_str(), v.manifest_id.hex().c_str());
    if (r->sha256_added) {
      std::printf("SHA-256 recorded for the %llu files of %s\n",
                  static_cast<unsigned long long>(v.files), ref.c_str());
    }
    return;
  }
  std::printf("%s: %llu files, %llu links, %s (%s) in %.1f s\n", ref.c_str(),
              static_cast<unsigned long long>(v.files), static_cast<unsigned long long>(v.links),
              pl::format_bytes(v.bytes).c_str(), modality_text(v.totals).c_str(), r->seconds);
  if (r->reused > 0) {
    std::printf(
        "%llu files unchanged in size and time since version %d were not read again "
        "(--rehash reads them)\n",
        static_cast<unsigned long long>(r->reused), v.version - 1);
  }
  if (r->special > 0) {
    std::printf("skipped %llu special files (FIFOs, sockets, devices)\n",
                static_cast<unsigned long long>(r->special));
  }
  if (r->diff) {
    std::printf("changes since version %d: %llu added, %llu removed, %llu changed\n", v.version - 1,
                static_cast<unsigned long long>(r->diff->added.count),
                static_cast<unsigned long long>(r->diff->removed.count),
                static_cast<unsigned long long>(r->diff->changed.count));
    print_diff_list("+", r->diff->added);
    print_diff_list("-", r->diff->removed);
    print_diff_list("~", r->diff->changed);
  }
}

// --- ls

void cmd_ls(Context& ctx, bool duplicates, int limit) {
  auto env = open_env(ctx);
  if (!env) return;
  if (duplicates) {
    auto d = env->catalog->duplicates(std::nullopt, static_cast<std::size_t>(limit), 20);
    if (!d) return report(ctx, d.error());
    if (ctx.json) {
      std::printf("%s\n", Json{{"duplicates", duplicates_json(*d)}}.dump(2).c_str());
      return;
    }
    if (d->total_groups == 0) {
      std::printf("no file content is held by more than one dataset\n");
      return;
    }
    Table t({"SIZE", "XXH3", "COPIES", "WHERE"});
    for (const auto& g : d->groups) {
      bool first = true;
      for (const auto& c : g.copies) {
        const std::string where =
            c.dataset + "@" + std::to_string(c.version) + ":" + pl::display_path(c.path);
        if (first) {
          t.add({pl::format_bytes(g.size), g.xxh3.hex().substr(0, 16),
                 std::to_string(g.total_copies), where});
        } else {
          t.add({"", "", "", where});
        }
        first = false;
      }
    }
    t.print();
    std::printf("%llu contents held by more than one dataset, %s\n",
                static_cast<unsigned long long>(d->total_groups),
                pl::format_bytes(d->total_bytes).c_str());
    return;
  }
  auto all = env->catalog->list();
  if (!all) return report(ctx, all.error());
  if (ctx.json) {
    Json out = Json::array();
    for (const auto& v : *all) out.push_back(version_json(v));
    std::printf(
        "%s\n",
        Json{{"catalog", env->catalog->path().string()}, {"versions", out}}.dump(2).c_str());
    return;
  }
  if (all->empty()) {
    std::printf("no datasets yet (catalog %s); add one with `aion data add NAME DIR`\n",
                env->catalog->path().c_str());
    return;
  }
  Table t({"DATASET", "VERSION", "ID", "FILES", "SIZE", "MODALITIES", "ADDED"});
  for (const auto& v : *all) {
    t.add({v.dataset, std::to_string(v.version), std::to_string(v.id), std::to_string(v.files),
           pl::format_bytes(v.bytes), modality_text(v.totals), time_text(v.created_at_ms)});
  }
  t.print();
}

// --- show

struct ShowArgs {
  std::string ref;
  bool files = false;
  int limit = 50;
};

void cmd_show(Context& ctx, const ShowArgs& a) {
  auto env = open_env(ctx);
  if (!env) return;
  auto v = resolve_ref(ctx, *env, a.ref);
  if (!v) return;
  auto versions = env->catalog->versions(v->dataset);
  if (!versions) return report(ctx, versions.error());
  auto dups = env->catalog->duplicates(v->id, static_cast<std::size_t>(a.limit), 10);
  if (!dups) return report(ctx, dups.error());
  Json files = Json::array();
  Table ft({"PATH", "KIND", "SIZE", "MODALITY", "FORMAT", "XXH3"});
  std::size_t listed = 0;
  if (a.files) {
    auto ok = env->catalog->for_each_file(v->id, [&](pl::FileEntry&& e) -> Status {
      if (a.limit > 0 && listed >= static_cast<std::size_t>(a.limit)) return {};
      ++listed;
      const bool link = e.kind == pl::FileKind::kSymlink;
      if (ctx.json) {
        Json f = {{"path", pl::display_path(e.path)},
                  {"kind", link ? "symlink" : "file"},
                  {"size", e.size},
                  {"mtime_ns", e.mtime_ns},
                  {"modality", std::string(pl::to_string(e.modality))},
                  {"format", e.format},
                  {"xxh3", e.xxh3.hex()}};
        if (e.sha256) f["sha256"] = pl::to_hex(*e.sha256);
        if (link) f["target"] = pl::display_path(e.link_target);
        files.push_back(std::move(f));
      } else {
        ft.add({pl::display_path(e.path) + (link ? " -> " + pl::display_path(e.link_target) : ""),
                link ? "link" : "file", std::to_string(e.size),
                link ? "-" : std::string(pl::to_string(e.modality)),
                e.format.empty() ? "-" : e.format, e.xxh3.hex()});
      }
      return {};
    });
    if (!ok) return report(ctx, ok.error());
  }
  if (ctx.json) {
    Json vs = Json::array();
    for (const auto& x : *versions) {
      vs.push_back({{"version", x.version},
                    {"id", x.id},
                    {"files", x.files},
                    {"bytes", x.bytes},
                    {"manifest_id", x.manifest_id.hex()},
                    {"created_at", time_text(x.created_at_ms)}});
    }
    Json out = {
        {"version", version_json(*v)}, {"versions", vs}, {"duplicates", duplicates_json(*dups)}};
    if (a.files) out["files"] = files;
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  Table t;
  t.add({"dataset", v->dataset});
  t.add({"version", std::to_string(v->version) + " of " + std::to_string(versions->size()) +
                        " (id " + std::to_string(v->id) + ")"});
  t.add({"source", pl::display_path(v->source)});
  t.add({"added", time_text(v->created_at_ms)});
  t.add({"files", std::to_string(v->files) + " (" + pl::format_bytes(v->bytes) + ")"});
  t.add({"links", std::to_string(v->links)});
  if (v->skipped_special > 0) t.add({"skipped", std::to_string(v->skipped_special) + " special"});
  if (v->unreadable > 0) t.add({"unreadable", std::to_string(v->unreadable) + " not recorded"});
  t.add({"hashes", v->sha256 ? "xxh3-128, sha256" : "xxh3-128"});
  t.add({"manifest", v->manifest_id.hex()});
  t.print();
  std::printf("\n");
  Table mt({"MODALITY", "FILES", "SIZE"});
  for (auto m : pl::kAllModalities) {
    auto i = static_cast<std::size_t>(m);
    if (v->totals.files[i] == 0) continue;
    mt.add({std::string(pl::to_string(m)), std::to_string(v->totals.files[i]),
            pl::format_bytes(v->totals.bytes[i])});
  }
  if (!mt.empty()) mt.print();
  if (dups->total_groups > 0) {
    std::printf("\nduplicates: %llu distinct contents (%s) are also held by other datasets\n",
                static_cast<unsigned long long>(dups->total_groups),
                pl::format_bytes(dups->total_bytes).c_str());
    for (const auto& g : dups->groups) {
      std::string where;
      for (const auto& c : g.copies) {
        if (c.dataset == v->dataset) continue;
        where += (where.empty() ? "" : ", ") + c.dataset + "@" + std::to_string(c.version) + ":" +
                 pl::display_path(c.path);
      }
      std::string mine;
      for (const auto& c : g.copies) {
        if (c.dataset == v->dataset && c.version == v->version) {
          mine = pl::display_path(c.path);
          break;
        }
      }
      std::printf("  %s = %s\n", mine.c_str(), where.c_str());
    }
  }
  if (a.files) {
    std::printf("\n");
    ft.print();
    if (a.limit > 0 && static_cast<std::uint64_t>(listed) < v->files + v->links) {
      std::printf("(first %zu of %llu entries; --limit 0 lists all)\n", listed,
                  static_cast<unsigned long long>(v->files + v->links));
    }
  }
  if (versions->size() > 1) {
    std::printf("\n");
    Table vt({"VERSION", "ID", "FILES", "SIZE", "MANIFEST", "ADDED"});
    for (const auto& x : *versions) {
      vt.add({std::to_string(x.version) + (x.id == v->id ? " *" : ""), std::to_string(x.id),
              std::to_string(x.files), pl::format_bytes(x.bytes), x.manifest_id.hex().substr(0, 16),
              time_text(x.created_at_ms)});
    }
    vt.print();
  }
}

// --- verify

struct VerifyArgs {
  std::string ref, root;
  int threads = 0;
  bool no_extras = false;
};

void cmd_verify(Context& ctx, const VerifyArgs& a) {
  auto env = open_env(ctx);
  if (!env) return;
  auto v = resolve_ref(ctx, *env, a.ref);
  if (!v) return;
  pl::VerifyOptions o;
  o.root = a.root;
  o.threads = a.threads > 0 ? a.threads : env->settings.hash_threads;
  o.extras = !a.no_extras;
  o.progress = progress_printer(ctx);
  auto r = pl::verify_dataset(*env->catalog, *v, o);
  end_progress(o.progress);
  if (!r) return report(ctx, r.error());
  const std::string label = v->dataset + "@" + std::to_string(v->version);
  if (ctx.json) {
    Json findings = Json::array();
    for (const auto& f : r->findings) {
      findings.push_back({{"path", pl::display_path(f.path)},
                          {"state", std::string(pl::to_string(f.state))},
                          {"detail", f.detail}});
    }
    Json counts = Json::object();
    for (std::size_t i = 0; i < pl::kVerifyStates; ++i) {
      counts[std::string(pl::to_string(static_cast<pl::VerifyState>(i)))] = r->counts[i];
    }
    std::printf("%s\n", Json{{"dataset", label},
                             {"root", pl::display_path(r->root)},
                             {"ok", r->ok()},
                             {"checked", r->checked},
                             {"bytes", r->bytes},
                             {"counts", counts},
                             {"findings", findings},
                             {"seconds", r->seconds}}
                            .dump(2)
                            .c_str());
  } else {
    if (!r->findings.empty()) {
      Table t({"PATH", "STATE", "DETAIL"});
      for (const auto& f : r->findings) {
        t.add({pl::display_path(f.path), std::string(pl::to_string(f.state)), f.detail});
      }
      t.print();
    }
    std::string summary;
    for (std::size_t i = 1; i < pl::kVerifyStates; ++i) {
      if (r->counts[i] == 0) continue;
      summary += (summary.empty() ? "" : ", ") + std::to_string(r->counts[i]) + " " +
                 std::string(pl::to_string(static_cast<pl::VerifyState>(i)));
    }
    std::printf("%s in %s: %llu entries checked, %s read in %.1f s: %s\n", label.c_str(),
                pl::display_path(r->root).c_str(), static_cast<unsigned long long>(r->checked),
                pl::format_bytes(r->bytes).c_str(), r->seconds,
                r->ok() ? "every file matches" : summary.c_str());
  }
  if (!r->ok()) ctx.exit_code = kExitFailure;
}

// --- stage

struct StageArgs {
  std::string ref, to;
  bool link = false;
  int threads = 0;
};

// Without a configured stage cache: a directory on an NVMe drive of a NUMA node with GPUs,
// when this user can make one there ("aion-stage" at its file system's root for root,
// "aion-stage/<uid>" below it when root made that world-writable with the sticky bit).
std::optional<std::filesystem::path> stage_cache_near_gpus(Context& ctx) {
  auto m = load_machine(ctx);
  if (!m) {
    ctx.exit_code = 0;  // the default cache still works
    return std::nullopt;
  }
  auto inv = hw::discover(m->fs, m->options);
  auto near = pl::nvme_near_gpus(inv, m->fs);
  if (!near) return std::nullopt;
  std::filesystem::path dir = m->fs.resolve(near->mount.string()) / "aion-stage";
  if (::geteuid() != 0) dir /= std::to_string(::geteuid());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || ::access(dir.c_str(), W_OK) != 0) return std::nullopt;
  if (!ctx.json) {
    std::fprintf(stderr, "aion: staging on %s (%s, NUMA node %d, where GPUs are)\n",
                 near->mount.c_str(), near->device.c_str(), near->numa_node);
  }
  return dir;
}

void cmd_stage(Context& ctx, const StageArgs& a) {
  auto env = open_env(ctx);
  if (!env) return;
  auto v = resolve_ref(ctx, *env, a.ref);
  if (!v) return;
  pl::StageOptions o;
  o.to = a.to;
  o.link = a.link;
  o.threads = a.threads > 0 ? a.threads : env->settings.hash_threads;
  o.progress = progress_printer(ctx);
  pl::StageCacheConfig cache{env->settings.stage_dir, env->settings.stage_cache_max_bytes};
  if (o.to.empty() && !env->stage_dir_configured) {
    if (auto near = stage_cache_near_gpus(ctx)) cache.dir = *near;
  }
  auto r = pl::stage_dataset(*env->catalog, *v, o, cache);
  end_progress(o.progress);
  if (!r) return report(ctx, r.error());
  if (r->link_refused) warn(ctx, "--link: source and target are on different file systems; copied");
  if (r->skipped_symlinks > 0) {
    warn(ctx, std::to_string(r->skipped_symlinks) +
                  " symlinks point out of the dataset and were not staged");
  }
  const std::string label = v->dataset + "@" + std::to_string(v->version);
  if (ctx.json) {
    Json evicted = Json::array();
    for (const auto& e : r->evicted) {
      evicted.push_back(
          {{"version_id", e.version_id}, {"dir", pl::display_path(e.dir)}, {"bytes", e.bytes}});
    }
    std::printf("%s\n", Json{{"dataset", label},
                             {"dir", pl::display_path(r->dir)},
                             {"reused", r->reused},
                             {"files", r->files},
                             {"bytes", r->bytes},
                             {"linked", r->linked},
                             {"symlinks", r->symlinks},
                             {"skipped_symlinks", r->skipped_symlinks},
                             {"evicted", evicted},
                             {"seconds", r->seconds}}
                            .dump(2)
                            .c_str());
    return;
  }
  for (const auto& e : r->evicted) {
    std::printf("evicted %s (%s) from the stage cache\n", pl::display_path(e.dir).c_str(),
                pl::format_bytes(e.bytes).c_str());
  }
  if (r->reused) {
    std::printf("%s is staged at %s (from the stage cache)\n", label.c_str(),
                pl::display_path(r->dir).c_str());
    return;
  }
  std::printf("%s staged at %s: %llu files (%llu hard links), %s, verified, in %.1f s\n",
              label.c_str(), pl::display_path(r->dir).c_str(),
              static_cast<unsigned long long>(r->files), static_cast<unsigned long long>(r->linked),
              pl::format_bytes(r->bytes).c_str(), r->seconds);
}

// --- rm

void cmd_rm(Context& ctx, const std::string& text) {
  auto ref = parse_ref(ctx, text);
  if (!ref) return;
  auto env = open_env(ctx);
  if (!env) return;
  auto r = pl::remove_dataset(*env->catalog, *ref);
  if (!r) return report(ctx, r.error());
  if (ctx.json) {
    Json removed = Json::array();
    for (const auto& v : r->removed)
      removed.push_back({{"dataset", v.dataset}, {"version", v.version}, {"id", v.id}});
    Json dirs = Json::array();
    for (const auto& d : r->staged_dirs_removed) dirs.push_back(pl::display_path(d));
    std::printf("%s\n", Json{{"removed", removed}, {"staged_dirs_removed", dirs}}.dump(2).c_str());
    return;
  }
  for (const auto& v : r->removed) {
    std::printf("removed %s@%d (id %lld)\n", v.dataset.c_str(), v.version,
                static_cast<long long>(v.id));
  }
  for (const auto& d : r->staged_dirs_removed) {
    std::printf("removed its staged copy %s\n", pl::display_path(d).c_str());
  }
}

}  // namespace

void add_data_commands(Command& app, Context& ctx) {
  Command data = app.add("data",
                         "Datasets: versioned, content-addressed manifests of directory trees, "
                         "verified and staged to fast local storage (no daemon needed)");
  data.require_subcommand();

  auto add = std::make_shared<AddArgs>();
  Command c_add = data.add("add",
                           "Record a directory as the next version of a dataset: every file's "
                           "size, mtime, XXH3-128 and modality; prints what changed");
  c_add.option("NAME", add->name, "Dataset name (letters, digits, . _ -)").required();
  c_add.option("PATH", add->dir, "The directory").required();
  c_add.flag("--sha256", add->sha256, "Also record each file's SHA-256");
  c_add.flag("--rehash", add->rehash,
             "Read every file again, also those whose size and modification time are those of "
             "the latest version (by default their recorded hashes are kept)");
  c_add.option("--threads", add->threads, "Hashing threads (default: one per CPU, at most 8)")
      .range(0, 64);
  c_add.option("--limit", add->limit, "Paths listed per kind of change").range(0, 1000000);
  c_add.action([&ctx, add] { cmd_add(ctx, *add); });

  auto ls_dups = std::make_shared<bool>(false);
  auto ls_limit = std::make_shared<int>(50);
  Command c_ls = data.add("ls",
                          "List datasets and their versions (--duplicates: content held by "
                          "more than one dataset)");
  c_ls.flag("--duplicates", *ls_dups, "List file content that more than one dataset holds");
  c_ls.option("--limit", *ls_limit, "Duplicate groups listed").range(0, 1000000);
  c_ls.action([&ctx, ls_dups, ls_limit] { cmd_ls(ctx, *ls_dups, *ls_limit); });

  auto show = std::make_shared<ShowArgs>();
  Command c_show = data.add("show",
                            "A dataset version in full: counts, modalities, duplicates in "
                            "other datasets, versions (--files: its manifest)");
  c_show.option("NAME[@VERSION]", show->ref, "Dataset, optionally @version (default: latest)")
      .required();
  c_show.flag("--files", show->files, "List the manifest's entries");
  c_show.option("--limit", show->limit, "Entries and duplicates listed (0: all)")
      .range(0, 100000000);
  c_show.action([&ctx, show] { cmd_show(ctx, *show); });

  auto verify = std::make_shared<VerifyArgs>();
  Command c_verify = data.add("verify",
                              "Re-hash a version's files and name each changed, missing, corrupt "
                              "or extra one; exit 1 when anything differs");
  c_verify.option("NAME[@VERSION]", verify->ref, "Dataset, optionally @version").required();
  c_verify.option("--root", verify->root,
                  "Check this copy of the tree (a staged copy) instead of the one it was added "
                  "from");
  c_verify.flag("--no-extras", verify->no_extras, "Do not look for files the manifest lacks");
  c_verify.option("--threads", verify->threads, "Hashing threads").range(0, 64);
  c_verify.action([&ctx, verify] { cmd_verify(ctx, *verify); });

  auto stage = std::make_shared<StageArgs>();
  Command c_stage = data.add("stage",
                             "Copy (or --link) a version's files to fast local storage, verifying "
                             "each as it is copied; without --to into the bounded stage cache");
  c_stage.option("NAME[@VERSION]", stage->ref, "Dataset, optionally @version").required();
  c_stage.option("--to", stage->to, "Target directory (absent or empty)");
  c_stage.flag("--link", stage->link,
               "Hard-link instead of copying when on the same file system (the staged files are "
               "then the originals: do not modify them)");
  c_stage.option("--threads", stage->threads, "Copying threads").range(0, 64);
  c_stage.action([&ctx, stage] { cmd_stage(ctx, *stage); });

  auto rm = std::make_shared<std::string>();
  Command c_rm = data.add("rm",
                          "Remove a dataset version (or, without @VERSION, every version) "
                          "from the catalog, with its staged copies; the files stay");
  c_rm.option("NAME[@VERSION]", *rm, "Dataset, optionally @version").required();
  c_rm.action([&ctx, rm] { cmd_rm(ctx, *rm); });
}

}  // namespace aion::cli
