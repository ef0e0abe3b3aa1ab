#include "aion/pipeline/pipeline_spec.h"

#include <sys/stat.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "aion/core/json.h"
#include "aion/sched/job.h"

namespace aion::pipeline {
namespace {

namespace fs = std::filesystem;

std::unexpected<Error> bad(std::string_view stage, std::string_view field, std::string_view why) {
  std::string m;
  if (!stage.empty()) m = "stage '" + std::string(stage) + "': ";
  m += "field '" + std::string(field) + "': " + std::string(why);
  return fail(ErrorCode::kInvalidArgument, std::move(m));
}

std::string resolve(const fs::path& base, const std::string& p) {
  fs::path path(p);
  if (path.is_relative()) path = base / path;
  return path.lexically_normal().string();
}

// Readers of one stage's fields: each checks the type and names stage + field on error.
struct Fields {
  const toml::table& t;
  const std::string& stage;

  Result<std::optional<std::string>> str(std::string_view key) const {
    const toml::node* n = t.get(key);
    if (!n) return std::optional<std::string>{};
    if (!n->is_string()) return bad(stage, key, "must be a string");
    return std::optional<std::string>{n->as_string()->get()};
  }
  Result<std::optional<std::int64_t>> integer(std::string_view key, std::int64_t lo,
                                              std::int64_t hi) const {
    const toml::node* n = t.get(key);
    if (!n) return std::optional<std::int64_t>{};
    if (!n->is_integer()) {
      return bad(stage, key,
                 "must be an integer " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    std::int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      return bad(stage, key, "must be " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    return std::optional<std::int64_t>{v};
  }
  Result<std::vector<std::string>> strings(std::string_view key) const {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) return bad(stage, key, "must be an array of strings");
    for (const auto& e : *a) {
      if (!e.is_string()) return bad(stage, key, "must be an array of strings");
      out.push_back(e.as_string()->get());
    }
    return out;
  }
};

Status check_keys(const toml::table& t, const std::set<std::string_view>& allowed,
                  std::string_view stage) {
  for (const auto& [k, v] : t) {
    if (!allowed.contains(k.str())) {
      return bad(
          stage, k.str(), "unknown key (allowed: " + [&] {
            std::string s;
            for (auto a : allowed) s += (s.empty() ? "" : ", ") + std::string(a);
            return s;
          }() + ")");
    }
  }
  return {};
}

Status parse_service(const toml::table& t, const std::string& stage, ServiceSpec& svc) {
  if (auto k = check_keys(t, {"port", "health_path", "health_timeout_s", "restart"}, stage); !k) {
    return k;
  }
  if (const toml::node* n = t.get("port")) {
    if (!n->is_integer() || n->as_integer()->get() < 1 || n->as_integer()->get() > 65535) {
      return bad(stage, "service.port", "must be 1..65535");
    }
    svc.port = static_cast<int>(n->as_integer()->get());
  }
  if (const toml::node* n = t.get("health_path")) {
    if (!n->is_string() || n->as_string()->get().empty() || n->as_string()->get()[0] != '/') {
      return bad(stage, "service.health_path", "must be a path starting with '/'");
    }
    svc.health_path = n->as_string()->get();
  }
  if (const toml::node* n = t.get("health_timeout_s")) {
    if (!n->is_integer() || n->as_integer()->get() < 1 || n->as_integer()->get() > 3600) {
      return bad(stage, "service.health_timeout_s", "must be 1..3600");
    }
    svc.health_timeout_s = static_cast<int>(n->as_integer()->get());
  }
  if (const toml::node* r = t.get("restart")) {
    if (!r->is_boolean()) return bad(stage, "service.restart", "must be true or false");
    svc.restart = r->as_boolean()->get();
  }
  return {};
}

// env, inputs, outputs and depends_on of stage `s` (its cwd already resolved).
Status parse_io(const toml::table& t, const Fields& f, StageSpec& s) {
  const std::string& st = s.name;
  if (const toml::node* env = t.get("env")) {
    const toml::table* et = env->as_table();
    if (!et) return bad(st, "env", "must be a table of strings");
    for (const auto& [k, v] : *et) {
      if (!v.is_string())
        return bad(st, "env", "value of '" + std::string(k.str()) + "' must be a string");
      if (k.str().empty() || k.str().find('=') != std::string_view::npos) {
        return bad(st, "env", "invalid variable name '" + std::string(k.str()) + "'");
      }
      s.env[std::string(k.str())] = v.as_string()->get();
    }
  }
  auto inputs = f.strings("inputs");
  if (!inputs) return std::unexpected(inputs.error());
  for (const auto& in : *inputs) {
    InputRef r;
    if (in.starts_with("dataset:")) {
      std::string rest = in.substr(8);
      auto at = rest.find('@');
      r.dataset = rest.substr(0, at);
      if (at != std::string::npos) r.dataset_version = rest.substr(at + 1);
      if (r.dataset.empty() || (at != std::string::npos && r.dataset_version.empty())) {
        return bad(st, "inputs", "'" + in + "' is not dataset:NAME or dataset:NAME@VERSION");
      }
    } else {
      if (in.empty()) return bad(st, "inputs", "an input path is empty");
      r.path = resolve(s.cwd, in);
    }
    s.inputs.push_back(std::move(r));
  }
  auto outputs = f.strings("outputs");
  if (!outputs) return std::unexpected(outputs.error());
  for (const auto& o : *outputs) {
    if (o.empty()) return bad(st, "outputs", "an output path is empty");
    s.outputs.push_back(resolve(s.cwd, o));
  }
  auto deps = f.strings("depends_on");
  if (!deps) return std::unexpected(deps.error());
  s.depends_on = std::move(*deps);
  return {};
}

// gpus, gpu_share, cpus and memory.
Status parse_resources(const toml::table& t, const Fields& f, StageSpec& s) {
  const std::string& st = s.name;
  auto gpus = f.integer("gpus", 0, 1024);
  if (!gpus) return std::unexpected(gpus.error());
  if (*gpus) s.gpus = static_cast<int>(**gpus);
  if (const toml::node* n = t.get("gpu_share")) {
    double v = 0;
    if (n->is_floating_point())
      v = n->as_floating_point()->get();
    else if (n->is_integer())
      v = static_cast<double>(n->as_integer()->get());
    else
      return bad(st, "gpu_share", "must be a number 0..1");
    if (!(v >= 0 && v < 1)) return bad(st, "gpu_share", "must be 0..1 (a share below one GPU)");
    s.gpu_share = v;
  }
  auto cpus = f.integer("cpus", 1, 4096);
  if (!cpus) return std::unexpected(cpus.error());
  if (*cpus) s.cpus = static_cast<int>(**cpus);
  if (const toml::node* n = t.get("memory")) {
    if (n->is_integer() && n->as_integer()->get() >= 0) {
      s.memory_bytes = static_cast<std::uint64_t>(n->as_integer()->get());
    } else if (n->is_string()) {
      auto sz = sched::parse_size(n->as_string()->get());
      if (!sz) return bad(st, "memory", sz.error().message());
      s.memory_bytes = *sz;
    } else {
      return bad(st, "memory", "must be a size such as \"16G\"");
    }
  }
  return {};
}

// retries, backoff_s, timeout_s, checkpoint_dir, kind and [stage.service].
Status parse_policy(const toml::table& t, const Fields& f, StageSpec& s) {
  const std::string& st = s.name;
  auto retries = f.integer("retries", 0, kMaxRetries);
  if (!retries) return std::unexpected(retries.error());
  if (*retries) s.retries = static_cast<int>(**retries);
  auto backoff = f.integer("backoff_s", 0, kMaxBackoffS);
  if (!backoff) return std::unexpected(backoff.error());
  if (*backoff) s.backoff_s = static_cast<int>(**backoff);
  auto timeout = f.integer("timeout_s", 0, 30 * 24 * 3600);
  if (!timeout) return std::unexpected(timeout.error());
  if (*timeout) s.timeout_s = static_cast<int>(**timeout);
  auto ckpt = f.str("checkpoint_dir");
  if (!ckpt) return std::unexpected(ckpt.error());
  if (*ckpt) {
    if ((*ckpt)->empty()) return bad(st, "checkpoint_dir", "must not be empty");
    s.checkpoint_dir = resolve(s.cwd, **ckpt);
  }
  auto kind = f.str("kind");
  if (!kind) return std::unexpected(kind.error());
  if (*kind) {
    if (**kind == "service")
      s.service = true;
    else if (**kind != "batch")
      return bad(st, "kind", "must be \"batch\" or \"service\"");
  }
  if (const toml::node* n = t.get("service")) {
    const toml::table* svc = n->as_table();
    if (!svc) return bad(st, "service", "must be a table");
    if (!s.service) return bad(st, "service", "only for kind = \"service\"");
    if (auto r = parse_service(*svc, st, s.svc); !r) return std::unexpected(r.error());
  }
  return {};
}

Result<StageSpec> parse_stage(const toml::table& t, std::size_t index, const fs::path& file_dir) {
  StageSpec s;
  std::string label = "#" + std::to_string(index + 1);
  const toml::node* name = t.get("name");
  if (!name || !name->is_string() || name->as_string()->get().empty()) {
    return bad(label, "name", "must be a non-empty string");
  }
  s.name = name->as_string()->get();
  for (char c : s.name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return bad(s.name, "name", "may hold only letters, digits, '-', '_' and '.'");
    }
  }
  const std::string& st = s.name;
  if (auto k = check_keys(t,
                          {"name", "command", "cwd", "env", "inputs", "outputs", "depends_on",
                           "gpus", "gpu_share", "cpus", "memory", "retries", "backoff_s",
                           "timeout_s", "checkpoint_dir", "kind", "service"},
                          st);
      !k) {
    return std::unexpected(k.error());
  }
  Fields f{t, st};
  auto cmd = f.strings("command");
  if (!cmd) return std::unexpected(cmd.error());
  if (cmd->empty()) return bad(st, "command", "must be a non-empty array of strings (argv)");
  s.command = std::move(*cmd);
  auto cwd = f.str("cwd");
  if (!cwd) return std::unexpected(cwd.error());
  s.cwd = *cwd ? resolve(file_dir, **cwd) : file_dir.lexically_normal().string();
  if (auto r = parse_io(t, f, s); !r) return std::unexpected(r.error());
  if (auto r = parse_resources(t, f, s); !r) return std::unexpected(r.error());
  if (auto r = parse_policy(t, f, s); !r) return std::unexpected(r.error());
  return s;
}

// True when `path` is `out` or lies below it.
bool within(const std::string& path, const std::string& out) {
  if (path == out) return true;
  return path.size() > out.size() && path.starts_with(out) && path[out.size()] == '/';
}

}  // namespace

int backoff_seconds(int backoff_s, int n) {
  if (n < 1) n = 1;
  std::int64_t v = backoff_s;
  for (int i = 1; i < n && v < kMaxBackoffS; ++i) v *= 2;
  return static_cast<int>(std::min<std::int64_t>(v, kMaxBackoffS));
}

Result<PipelineSpec> parse_pipeline(std::string_view toml_text, const fs::path& file_dir) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return fail(ErrorCode::kInvalidArgument,
                "pipeline file: line " + std::to_string(e.source().begin.line) + ", column " +
                    std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  PipelineSpec spec;
  spec.file_dir = file_dir.lexically_normal();
  if (auto k = check_keys(root, {"name", "stage"}, ""); !k) return std::unexpected(k.error());
  const toml::node* name = root.get("name");
  if (!name || !name->is_string() || name->as_string()->get().empty()) {
    return bad("", "name", "the pipeline needs a non-empty string name");
  }
  spec.name = name->as_string()->get();
  const toml::node* stages = root.get("stage");
  if (!stages) return bad("", "stage", "the pipeline has no [[stage]]");
  const toml::array* arr = stages->as_array();
  if (!arr || arr->empty()) return bad("", "stage", "must be an array of tables ([[stage]])");
  if (arr->size() > static_cast<std::size_t>(kMaxStages)) {
    return bad("", "stage", "more than " + std::to_string(kMaxStages) + " stages");
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::table* t = (*arr)[i].as_table();
    if (!t) return bad("", "stage", "must be an array of tables ([[stage]])");
    auto s = parse_stage(*t, i, spec.file_dir);
    if (!s) return std::unexpected(s.error());
    spec.stages.push_back(std::move(*s));
  }
  return spec;
}

namespace {

// Resources `s` asks for that the node cannot give.
Status check_capacity(const StageSpec& s, const NodeCapacity& cap) {
  if (s.gpus > cap.gpus) {
    return bad(
        s.name, "gpus",
        "asks for " + std::to_string(s.gpus) + " GPUs, the node has " + std::to_string(cap.gpus));
  }
  if (s.gpu_share > 0 && (cap.gpus < 1 || s.gpus > 0)) {
    return bad(s.name, "gpu_share",
               s.gpus > 0 ? "a share excludes whole gpus" : "the node has no GPU to share");
  }
  if (s.cpus > cap.cpus) {
    return bad(
        s.name, "cpus",
        "asks for " + std::to_string(s.cpus) + " CPUs, the node has " + std::to_string(cap.cpus));
  }
  if (cap.memory_bytes > 0 && s.memory_bytes > cap.memory_bytes) {
    return bad(s.name, "memory",
               "asks for " + sched::format_size(s.memory_bytes) + ", the node has " +
                   sched::format_size(cap.memory_bytes));
  }
  return {};
}

using StageIndex = std::map<std::string, std::size_t>;

// A cycle in depends_on, reported with its path ("cycle a -> b -> a").
Status check_cycles(const PipelineSpec& spec, StageIndex& index) {
  // Cycle detection by depth-first search, reporting the cycle's path.
  std::vector<int> color(spec.stages.size(), 0);  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::function<Status(std::size_t)> dfs = [&](std::size_t i) -> Status {
    color[i] = 1;
    path.push_back(spec.stages[i].name);
    for (const auto& d : spec.stages[i].depends_on) {
      std::size_t j = index[d];
      if (color[j] == 1) {
        auto from = std::find(path.begin(), path.end(), d);
        std::string cyc;
        for (auto it = from; it != path.end(); ++it) cyc += *it + " -> ";
        cyc += d;
        return bad(d, "depends_on", "cycle " + cyc);
      }
      if (color[j] == 0) {
        if (auto r = dfs(j); !r) return r;
      }
    }
    path.pop_back();
    color[i] = 2;
    return {};
  };
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    if (color[i] == 0) {
      if (auto r = dfs(i); !r) return r;
    }
  }
  return {};
}

// Path inputs that neither exist nor are written by a stage the reader depends on.
Status check_inputs(const PipelineSpec& spec, StageIndex& index,
                    const std::map<std::string, std::string>& writer) {
  // Transitive dependencies, for the input check.
  std::function<void(std::size_t, std::set<std::string>&)> ancestors =
      [&](std::size_t i, std::set<std::string>& out) {
        for (const auto& d : spec.stages[i].depends_on) {
          if (out.insert(d).second) ancestors(index[d], out);
        }
      };
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    const StageSpec& s = spec.stages[i];
    std::set<std::string> up;
    ancestors(i, up);
    for (const auto& in : s.inputs) {
      if (in.path.empty()) continue;
      bool made = false;
      for (const auto& [out, w] : writer) {
        if (up.contains(w) && within(in.path, out)) made = true;
      }
      if (made) continue;
      std::error_code ec;
      if (fs::exists(in.path, ec)) continue;
      std::string hint;
      for (const auto& [out, w] : writer) {
        if (within(in.path, out)) hint = " (stage '" + w + "' writes it: add it to depends_on)";
      }
      return bad(s.name, "inputs",
                 "'" + in.path + "' does not exist and no stage it depends on writes it" + hint);
    }
  }
  return {};
}

// Kahn's algorithm over an acyclic spec, taking the first ready stage in file order each time.
std::vector<StageSpec> topological_order(const PipelineSpec& spec) {
  std::vector<StageSpec> ordered;
  std::vector<bool> placed(spec.stages.size(), false);
  std::set<std::string> done;
  while (ordered.size() < spec.stages.size()) {
    for (std::size_t i = 0; i < spec.stages.size(); ++i) {
      if (placed[i]) continue;
      const auto& deps = spec.stages[i].depends_on;
      if (std::all_of(deps.begin(), deps.end(), [&](const auto& d) { return done.contains(d); })) {
        placed[i] = true;
        done.insert(spec.stages[i].name);
        ordered.push_back(spec.stages[i]);
        break;
      }
    }
  }
  return ordered;
}

}  // namespace

Status validate(PipelineSpec& spec, const NodeCapacity& cap) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    const StageSpec& s = spec.stages[i];
    if (!index.emplace(s.name, i).second) return bad(s.name, "name", "duplicate stage name");
    if (s.command.empty()) return bad(s.name, "command", "must not be empty");
  }
  std::map<int, std::string> ports;
  std::map<std::string, std::string> writer;  // output -> stage
  for (const StageSpec& s : spec.stages) {
    for (const auto& d : s.depends_on) {
      if (!index.contains(d)) return bad(s.name, "depends_on", "unknown stage '" + d + "'");
      if (d == s.name) return bad(s.name, "depends_on", "cycle " + d + " -> " + d);
    }
    for (const auto& o : s.outputs) {
      auto [it, fresh] = writer.emplace(o, s.name);
      if (!fresh) {
        return bad(s.name, "outputs", "'" + o + "' is also written by stage '" + it->second + "'");
      }
    }
    if (auto r = check_capacity(s, cap); !r) return r;
    if (s.service) {
      if (s.svc.port <= 0) return bad(s.name, "service.port", "a service stage needs a port");
      auto [it, fresh] = ports.emplace(s.svc.port, s.name);
      if (!fresh) {
        return bad(
            s.name, "service.port",
            "port " + std::to_string(s.svc.port) + " is also used by stage '" + it->second + "'");
      }
    }
  }
  if (auto r = check_cycles(spec, index); !r) return r;
  if (auto r = check_inputs(spec, index, writer); !r) return r;
  spec.stages = topological_order(spec);
  return {};
}

std::string spec_to_json(const PipelineSpec& spec) {
  Json j;
  j["name"] = spec.name;
  j["file_dir"] = spec.file_dir.string();
  j["stages"] = Json::array();
  for (const StageSpec& s : spec.stages) {
    Json inputs = Json::array();
    for (const auto& in : s.inputs) {
      inputs.push_back(
          {{"path", in.path}, {"dataset", in.dataset}, {"version", in.dataset_version}});
    }
    j["stages"].push_back({{"name", s.name},
                           {"command", s.command},
                           {"cwd", s.cwd},
                           {"env", s.env},
                           {"inputs", inputs},
                           {"outputs", s.outputs},
                           {"depends_on", s.depends_on},
                           {"gpus", s.gpus},
                           {"gpu_share", s.gpu_share},
                           {"cpus", s.cpus},
                           {"memory_bytes", s.memory_bytes},
                           {"retries", s.retries},
                           {"backoff_s", s.backoff_s},
                           {"timeout_s", s.timeout_s},
                           {"checkpoint_dir", s.checkpoint_dir},
                           {"kind", s.service ? "service" : "batch"},
                           {"service",
                            {{"port", s.svc.port},
                             {"health_path", s.svc.health_path},
                             {"health_timeout_s", s.svc.health_timeout_s},
                             {"restart", s.svc.restart}}}});
  }
  return j.dump();
}

Result<PipelineSpec> spec_from_json(std::string_view json_text) {
  try {
    Json j = Json::parse(json_text);
    PipelineSpec spec;
    spec.name = j.at("name").get<std::string>();
    spec.file_dir = j.at("file_dir").get<std::string>();
    for (const Json& js : j.at("stages")) {
      StageSpec s;
      s.name = js.at("name").get<std::string>();
      s.command = js.at("command").get<std::vector<std::string>>();
      s.cwd = js.at("cwd").get<std::string>();
      s.env = js.at("env").get<std::map<std::string, std::string>>();
      for (const Json& in : js.at("inputs")) {
        s.inputs.push_back({in.at("path").get<std::string>(), in.at("dataset").get<std::string>(),
                            in.at("version").get<std::string>()});
      }
      s.outputs = js.at("outputs").get<std::vector<std::string>>();
      s.depends_on = js.at("depends_on").get<std::vector<std::string>>();
      s.gpus = js.at("gpus").get<int>();
      s.gpu_share = js.at("gpu_share").get<double>();
      s.cpus = js.at("cpus").get<int>();
      s.memory_bytes = js.at("memory_bytes").get<std::uint64_t>();
      s.retries = js.at("retries").get<int>();
      s.backoff_s = js.at("backoff_s").get<int>();
      s.timeout_s = js.at("timeout_s").get<int>();
      s.checkpoint_dir = js.at("checkpoint_dir").get<std::string>();
      s.service = js.at("kind").get<std::string>() == "service";
      const Json& sv = js.at("service");
      s.svc.port = sv.at("port").get<int>();
      s.svc.health_path = sv.at("health_path").get<std::string>();
      s.svc.health_timeout_s = sv.at("health_timeout_s").get<int>();
      s.svc.restart = sv.at("restart").get<bool>();
      spec.stages.push_back(std::move(s));
    }
    return spec;
  } catch (const Json::exception& e) {
    return fail(ErrorCode::kCorrupt, std::string("stored pipeline spec: ") + e.what());
  }
}

}  // namespace aion::pipeline
