// aion env plan / emit / scan / doctor / kb: the AI environment configurator. Reads the
// machine (or a machine description) and the knowledge tables in data/envcfg; no daemon.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "aion/core/config.h"
#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/envcfg/doctor.h"
#include "aion/envcfg/emit.h"
#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"
#include "aion/envcfg/resolver.h"
#include "aion/envcfg/scan.h"
#include "aion/hw/discovery.h"
#include "cli.h"
#include "command.h"
#include "daemon_client.h"
#include "machine.h"
#include "table.h"

namespace aion::cli {
namespace {

namespace fs = std::filesystem;
using namespace aion::envcfg;
using Machine = aion::envcfg::Machine;  // not cli::Machine (machine.h): the envcfg view

struct EnvOptions {
  std::string machine;  // --machine FILE
  std::string python;
  std::string variant;
  std::string framework;
  std::string format = "dockerfile";
  std::string output;
  std::string path;
  std::string log;
};

std::optional<Knowledge> load_kb(Context& ctx) {
  auto kb = load_knowledge(data_dir() / "envcfg");
  if (!kb) {
    report(ctx, kb.error());
    return std::nullopt;
  }
  return std::move(*kb);
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kNotFound, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The machine: a description file, or this host (discovery plus OS and Python).
std::optional<Machine> env_machine(Context& ctx, const EnvOptions& o, const Knowledge& kb) {
  if (!o.machine.empty()) {
    auto text = read_text(o.machine);
    if (!text) {
      report(ctx, Error(ErrorCode::kInvalidArgument, "--machine " + o.machine +
                                                         ": no such file (write one with `aion hw "
                                                         "--json > machine.json`)"));
      return std::nullopt;
    }
    auto m = machine_from_json(*text, fs::path(o.machine).filename().string(), kb);
    if (!m) {
      report(ctx, m.error());
      return std::nullopt;
    }
    return std::move(*m);
  }
  auto host = cli::load_machine(ctx);
  if (!host) return std::nullopt;
  const HostFs& fs = host->fs;
  Machine m = machine_from_inventory(discover(ctx, *host), kb);
  m.source = fs.is_live() ? "this machine" : fs.root().string();
  read_software(fs, m);
  return m;
}

std::string machine_line(const Machine& m) {
  const std::string_view vendor = aion::envcfg::gpu_vendor(m.accelerator_kind());
  std::string gpus = vendor.empty() ? "no supported accelerator" : m.describe_gpus(vendor);
  std::string out = (m.name.empty() ? m.source : m.name) + ": " + gpus;
  if (!m.nvidia_driver.is_empty()) out += ", driver " + m.nvidia_driver.text();
  if (!m.rocm.is_empty()) out += ", ROCm " + m.rocm.text();
  if (!m.cann.is_empty()) out += ", CANN " + m.cann.text();
  if (!m.os_id.empty()) out += ", " + m.os_id + " " + m.os_version;
  out += ", python3 " + (m.python.empty() ? std::string("unknown") : m.python);
  return out;
}

void print_plan(const Plan& p, const Machine& m) {
  std::printf("Machine   %s\n\n", machine_line(m).c_str());
  if (!p.ok) {
    const bool toolkit = p.framework == "cuda" || p.framework == "rocm" || p.framework == "cann";
    std::printf("No %s %s fits this machine for '%s'.\n\nWhat fails:\n", p.display.c_str(),
                toolkit ? "release" : "build", p.request.c_str());
    for (const auto& f : p.failures) std::printf("  - %s\n", f.c_str());
    if (!p.ways_out.empty())
      std::printf("\nWays out (each re-planned on the changed machine, and it fits):\n");
    for (const auto& w : p.ways_out) {
      std::printf("  - [%s] %s\n", w.kind.c_str(), w.text.c_str());
      std::string then = (w.image.empty() ? "" : "in " + w.image + ": ") + "aion env plan '" +
                         w.request.framework + "'";
      if (!w.request.python.empty()) then += " --python " + w.request.python;
      if (!w.request.variant.empty()) then += " --variant " + w.request.variant;
      std::printf("      then: %s\n", then.c_str());
    }
    if (p.ways_out.empty()) std::printf("\nNo way out found in the tables.\n");
  } else {
    std::string runtime =
        p.kind == Backend::kCuda
            ? "CUDA " + p.runtime + " (" +
                  (p.compatibility == "minor" ? "minor-version" : p.compatibility) +
                  " compatibility)"
        : p.kind == Backend::kRocm ? "ROCm " + p.runtime
        : p.kind == Backend::kNpu  ? "CANN " + p.runtime
                                   : "none (" + std::string(to_string(p.kind)) + ")";
    Table t;  // no header: one key per row
    auto row = [&t](const char* k, const std::string& v) { t.add({k, v}); };
    if (p.variant == "toolkit") {
      row("toolkit", p.display + " " + p.version);
    } else {
      row("framework", p.display + " " + p.version + " (" + p.variant + ")");
    }
    row("runtime", runtime);
    if (!p.forward_package.empty()) row("compat pkg", p.forward_package);
    if (!p.cudnn.empty()) row("cuDNN", p.cudnn);
    if (!p.requires_torch.empty()) row("torch", p.requires_torch);
    if (!p.python.empty()) row("Python", p.python);
    row("image", p.image.empty() ? "(none in the tables)" : p.image);
    if (!p.alternative_image.empty()) row("or image", p.alternative_image);
    if (!p.index.empty()) row("index", p.index);
    for (std::size_t i = 0; i < p.install.size(); ++i) row(i == 0 ? "install" : "", p.install[i]);
    if (p.variant == "toolkit" && p.install.empty()) row("install", "(no commands for this OS)");
    t.print();
    std::printf("\nWhy:\n");
    for (const auto& r : p.reasons) {
      if (r.topic == "skipped") continue;
      std::printf("  - [%s] %s\n", r.topic.c_str(), r.text.c_str());
    }
    bool header = false;
    for (const auto& r : p.reasons) {
      if (r.topic != "skipped") continue;
      if (!header) std::printf("\nNewer builds not chosen:\n");
      header = true;
      std::printf("  - %s\n", r.text.c_str());
    }
  }
  if (!p.warnings.empty()) std::printf("\nNotes:\n");
  for (const auto& w : p.warnings) std::printf("  - %s\n", w.c_str());
  std::printf("\nTables as of %s (`aion env kb`); sources: `aion --json env plan ...`.\n",
              p.kb_as_of.c_str());
}

std::optional<Plan> run_plan(Context& ctx, const EnvOptions& o, const Knowledge& kb,
                             const Machine& m) {
  auto p = make_plan(kb, m, {o.framework, o.python, o.variant});
  if (!p) {
    report(ctx, p.error());
    return std::nullopt;
  }
  return std::move(*p);
}

void add_plan_flags(Command cmd, EnvOptions& o) {
  cmd.option("FRAMEWORK", o.framework,
             "pytorch, tensorflow, jax, vllm, sglang, onnxruntime, openvino, paddle or "
             "torch_npu, optionally with a version constraint: \"torch==2.4\", "
             "\"tensorflow>=2.16\"; or a toolkit: cuda, \"cuda==12.1\", \"rocm==6.2\", "
             "\"cann==8.0\" (the driver it needs, its image, the install commands)")
      .required();
  cmd.option("--machine", o.machine,
             "Plan for a machine description (`aion hw --json` output, optionally with a "
             "\"software\" object: os, python, rocm, cann, npu_driver, arch) instead of this "
             "machine");
  cmd.option("--python", o.python, "Python version the environment must use (3.11)");
  cmd.option("--variant", o.variant,
             "A build (cu121, cu128, rocm6.2.4, cpu) or a kind (cuda, rocm, cpu, npu)");
}

void cmd_plan(Context& ctx, const EnvOptions& o) {
  auto kb = load_kb(ctx);
  if (!kb) return;
  auto m = env_machine(ctx, o, *kb);
  if (!m) return;
  auto p = run_plan(ctx, o, *kb, *m);
  if (!p) return;
  if (ctx.json) {
    std::printf("%s\n", plan_to_json(*p).c_str());
  } else {
    print_plan(*p, *m);
  }
  if (!p->ok) ctx.exit_code = kExitFailure;
  // The plan's notes are warnings (shown above, or in the JSON): --strict fails on them.
  ctx.warnings += static_cast<int>(p->warnings.size());
}

void cmd_emit(Context& ctx, const EnvOptions& o) {
  auto format = parse_emit_format(o.format);
  if (!format) {
    report(ctx, format.error());
    return;
  }
  auto kb = load_kb(ctx);
  if (!kb) return;
  auto m = env_machine(ctx, o, *kb);
  if (!m) return;
  auto p = run_plan(ctx, o, *kb, *m);
  if (!p) return;
  if (!p->ok) {
    print_plan(*p, *m);
    ctx.exit_code = kExitFailure;
    return;
  }
  ctx.warnings += static_cast<int>(p->warnings.size());  // as for `env plan`
  auto files = emit(*p, *format, *kb);
  if (!files) {
    report(ctx, files.error());
    return;
  }
  if (!o.output.empty()) {
    fs::path out = o.output;
    std::error_code ec;
    bool dir = files->size() > 1 || fs::is_directory(out, ec);
    if (dir) fs::create_directories(out, ec);
    for (const auto& f : *files) {
      fs::path target = dir ? out / f.name : out;
      std::ofstream w(target, std::ios::binary | std::ios::trunc);
      w << f.content;
      if (!w.flush()) {
        report(ctx, Error(ErrorCode::kIo, "cannot write " + target.string()));
        return;
      }
      if (!ctx.json) std::fprintf(stderr, "wrote %s\n", target.string().c_str());
    }
  }
  if (ctx.json) {
    Json arr = Json::array();
    for (const auto& f : *files) arr.push_back({{"name", f.name}, {"content", f.content}});
    std::printf("%s\n", Json{{"plan", Json::parse(plan_to_json(*p))}, {"files", arr}}
                            .dump(2, ' ', false, Json::error_handler_t::replace)
                            .c_str());
  } else if (o.output.empty()) {
    for (const auto& f : *files) {
      if (files->size() > 1) std::printf("# ==> %s <==\n", f.name.c_str());
      std::printf("%s", f.content.c_str());
    }
  }
}

void cmd_scan(Context& ctx, const EnvOptions& o) {
  std::string path = o.path;
  if (path.empty()) {
    if (const char* v = std::getenv("VIRTUAL_ENV"))
      path = v;
    else if (const char* c = std::getenv("CONDA_PREFIX"))
      path = c;
  }
  if (path.empty()) {
    report(ctx, Error(ErrorCode::kInvalidArgument,
                      "no environment to scan: give PATH (a venv, conda env or site-packages) "
                      "or activate one"));
    return;
  }
  auto kb = load_kb(ctx);
  if (!kb) return;
  auto m = env_machine(ctx, o, *kb);
  if (!m) return;
  auto r = scan_environment(path, *kb, *m);
  if (!r) {
    report(ctx, r.error());
    return;
  }
  if (ctx.json) {
    std::printf("%s\n", scan_to_json(*r).c_str());
  } else {
    std::printf("Machine   %s\nScanned   %s (Python %s, %zu packages)\n\n",
                machine_line(*m).c_str(), r->path.c_str(),
                r->python.empty() ? "unknown" : r->python.c_str(), r->packages.size());
    if (!r->builds.empty()) {
      Table t({"FRAMEWORK", "VERSION", "CUDA", "ROCM", "CUDNN", "READ FROM"});
      for (const auto& b : r->builds)
        t.add({b.framework, b.version, b.cuda.empty() ? "-" : b.cuda, b.rocm.empty() ? "-" : b.rocm,
               b.cudnn.empty() ? "-" : b.cudnn, b.record});
      t.print();
      std::printf("\n");
    }
    Table findings;  // no header: a finding, then its fix below it
    for (const auto& f : r->findings) {
      findings.add({f.severity, f.text});
      if (!f.fix.empty()) findings.add({"", "fix: " + f.fix});
    }
    findings.print();
    std::printf(r->ok() ? "\nno mismatch with this machine found\n"
                        : "\nthis environment will fail on this machine (errors above)\n");
  }
  if (!r->ok()) ctx.exit_code = kExitFailure;
  for (const auto& f : r->findings) ctx.warnings += f.severity == "warning" ? 1 : 0;
}

void cmd_doctor(Context& ctx, const EnvOptions& o) {
  std::string text;
  if (!o.log.empty()) {
    auto t = read_text(o.log);
    if (!t) {
      report(ctx, Error(ErrorCode::kInvalidArgument, "--log " + o.log + ": no such file"));
      return;
    }
    text = std::move(*t);
  } else {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  }
  auto kb = load_kb(ctx);
  if (!kb) return;
  auto m = env_machine(ctx, o, *kb);
  if (!m) return;
  DoctorReport r = diagnose(text, *kb, *m);
  if (ctx.json) {
    std::printf("%s\n", doctor_to_json(r).c_str());
  } else if (r.findings.empty()) {
    std::printf(
        "No known failure recognized in %zu lines (%zu signatures, tables as of %s).\n"
        "Run `aion env scan PATH` on the environment to compare it with this machine.\n",
        r.lines, kb->signatures.size(), kb->as_of().c_str());
  } else {
    Table t;  // no header: a key per row, the fields of a finding indented below it
    t.add({"Machine", machine_line(*m)});
    t.add({});
    for (const auto& f : r.findings) {
      if (f.diagnosis) {
        t.add({"Diagnosis", f.id + ": " + f.title + " (line " + std::to_string(f.line) + ", " +
                                std::to_string(f.matches) + " matching line" +
                                (f.matches == 1 ? "" : "s") + ")"});
        t.add({"  log", f.excerpt});
        t.add({"  cause", f.cause});
        t.add({"  fix", f.fix});
        t.add({"  source", f.source});
      } else {
        t.add({});
        t.add({"Also seen", f.id + ": " + f.title + " (line " + std::to_string(f.line) + ")"});
        t.add({"  fix", f.fix});
      }
    }
    t.print();
  }
  if (r.findings.empty()) ctx.exit_code = kExitFailure;
}

void cmd_kb(Context& ctx) {
  auto kb = load_kb(ctx);
  if (!kb) return;
  if (ctx.json) {
    Json t = Json::array();
    for (const auto& i : kb->tables)
      t.push_back({{"file", i.file},
                   {"schema_version", i.schema_version},
                   {"as_of", i.as_of},
                   {"rows", i.rows},
                   {"coverage", i.coverage}});
    Json stacks = Json::array();
    for (const auto& v : kb->vendor_stacks)
      stacks.push_back({{"vendor", v.vendor},
                        {"stack", v.stack},
                        {"status", v.status},
                        {"what", v.what},
                        {"source", v.source}});
    const std::string stale = staleness_warning(*kb, today_utc());
    std::printf("%s\n", Json{{"dir", kb->dir.string()},
                             {"as_of", kb->as_of()},
                             {"today", today_utc()},
                             {"stale", !stale.empty()},
                             {"warning", stale},
                             {"tables", t},
                             {"vendor_stacks", stacks}}
                            .dump(2)
                            .c_str());
    if (!stale.empty()) ctx.warnings += 1;
    return;
  }
  std::printf("Knowledge tables in %s\n\n", kb->dir.string().c_str());
  Table t({"TABLE", "SCHEMA", "AS OF", "ROWS", "COVERS"});
  for (const auto& i : kb->tables)
    t.add({i.file, std::to_string(i.schema_version), i.as_of, std::to_string(i.rows), i.coverage});
  t.print();
  std::printf("\nFrameworks and their builds:\n");
  for (const auto& f : kb->frameworks) {
    std::string line;
    for (const auto* r : kb->releases_of(f.name)) {
      std::string vars;
      for (const auto& v : r->variants) vars += (vars.empty() ? "" : " ") + v.name;
      line += "\n    " + r->version.text() + " (py " + r->python_min.major_minor() + "-" +
              r->python_max.major_minor() + "): " + vars +
              (r->confidence.empty() ? "" : "  [" + r->confidence + "]");
    }
    std::printf("  %s (%s)%s\n", f.display.c_str(), f.aliases.front().c_str(), line.c_str());
  }
  std::printf("\nVendor stacks:\n");
  for (const auto& v : kb->vendor_stacks)
    std::printf("  %-10s %-36s %s\n", v.vendor.c_str(), v.stack.c_str(), v.status.c_str());
  std::printf(
      "\nReleases newer than a table's date are unknown to aion; every row names its "
      "source (see the files).\n");
  std::printf("Tables current to %s; today is %s.\n", kb->as_of().c_str(), today_utc().c_str());
  if (const std::string stale = staleness_warning(*kb, today_utc()); !stale.empty()) {
    std::fprintf(stderr, "warning: %s\n", stale.c_str());
    ctx.warnings += 1;
  }
}

}  // namespace

void add_env_commands(Command& app, Context& ctx) {
  auto o = std::make_shared<EnvOptions>();
  Command env = app.add(
      "env",
      "AI environments: plan a working driver/CUDA-or-ROCm/framework/Python stack, write it, "
      "check installed ones, explain failures (no daemon needed)");
  env.require_subcommand();
  env.footer(
      "Exit codes: 0 ok; 1 nothing fits (plan/emit), the environment has errors (scan), no "
      "failure recognized (doctor); 2 usage error (unknown framework, bad constraint, malformed "
      "machine description).");

  Command plan =
      env.add("plan",
              "The best stack for this machine (or --machine FILE): version, build, runtime, "
              "cuDNN, Python, base image, pip lines, and why; exit 1 when nothing fits");
  add_plan_flags(plan, *o);
  plan.action([&ctx, o] { cmd_plan(ctx, *o); });

  Command emit_cmd =
      env.add("emit",
              "Write the planned environment as a Dockerfile, conda environment.yml, "
              "requirements.txt or devcontainer");
  add_plan_flags(emit_cmd, *o);
  emit_cmd
      .option("--format", o->format,
              "dockerfile (default), conda, requirements, devcontainer, script (install.sh)")
      .one_of({"dockerfile", "conda", "requirements", "devcontainer", "script"});
  emit_cmd.option("-o,--output", o->output,
                  "Write to this file (a directory for devcontainer) instead of stdout");
  emit_cmd.action([&ctx, o] { cmd_emit(ctx, *o); });

  Command scan =
      env.add("scan", "Check an installed venv, conda env or site-packages against this machine");
  scan.option("PATH", o->path, "The environment (default: $VIRTUAL_ENV, then $CONDA_PREFIX)");
  scan.option("--machine", o->machine, "Check against a machine description instead");
  scan.action([&ctx, o] { cmd_scan(ctx, *o); });

  Command doctor =
      env.add("doctor",
              "Recognize a failure in an error log (stdin or --log FILE) and give the cause "
              "on this machine and the fix");
  doctor.option("--log", o->log, "Read the log from this file instead of stdin");
  doctor.option("--machine", o->machine, "Explain for a machine description instead");
  doctor.action([&ctx, o] { cmd_doctor(ctx, *o); });

  Command kb = env.add("kb", "What the knowledge tables cover, and how current they are");
  kb.action([&ctx] { cmd_kb(ctx); });
}

}  // namespace aion::cli
