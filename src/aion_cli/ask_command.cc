// aion ask "QUESTION": answers a question about this node from its own facts, without a
// language model: the router picks the kind of question, calls the copilot's read-only tools
// (the machine's hardware, the fault catalog, the environment resolver, tuning knobs, the
// document index, and aiond's jobs, queue, incidents, metrics and logs when it answers) and
// writes the answer with its sources. Questions and tool calls go to the audit log.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>

#include "aion/api/client.h"
#include "aion/copilot/docs.h"
#include "aion/copilot/http_post.h"
#include "aion/copilot/llm.h"
#include "aion/copilot/node_tools.h"
#include "aion/copilot/router.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/core/settings.h"
#include "aion/diagnose/service.h"
#include "aion/envcfg/machine.h"
#include "aion/privacy/gate.h"
#include "aion/tune/profile.h"
#include "command.h"
#include "daemon_client.h"
#include "machine.h"
#include "privacy_cli.h"

namespace aion::cli {
namespace {

namespace fs = std::filesystem;

struct AskArgs {
  std::string question;
  bool docs_only = false;
  bool reindex = false;
  bool no_daemon = false;
  bool no_model = false;
  bool show_outbound = false;
};

// aion's manuals: docs/ beside the data directory in a source tree, else where the package
// installs them.
fs::path docs_dir() {
  std::error_code ec;
  const fs::path beside = data_dir().parent_path() / "docs";
  return fs::is_directory(beside, ec) ? beside : fs::path("/usr/share/doc/aion");
}

// The document index under the state directory, opened and brought up to date on first use
// (the first build reads every man page and says so on stderr).
std::function<Result<copilot::DocIndex*>()> docs_opener(const fs::path& state_dir,
                                                        const HostFs& host, bool reindex) {
  auto index = std::make_shared<std::unique_ptr<copilot::DocIndex>>();
  const fs::path root = host.root();
  return [index, state_dir, root, reindex]() -> Result<copilot::DocIndex*> {
    if (*index) return index->get();
    auto opened = copilot::DocIndex::open(state_dir / "docs-index");
    if (!opened) return std::unexpected(opened.error());
    auto idx = std::make_unique<copilot::DocIndex>(std::move(*opened));
    const bool first = idx->size() == 0;
    if (first || reindex) {
      if (first) std::fprintf(stderr, "aion: building the document index (once)...\n");
      auto st = idx->update(copilot::default_sources(root, docs_dir(), data_dir()),
                            [](std::size_t done, std::size_t total) {
                              if (done % 2000 == 0 || done == total)
                                std::fprintf(stderr, "\r  %zu/%zu files", done, total);
                            });
      std::fprintf(stderr, "\n");
      if (!st) return std::unexpected(st.error());
    }
    *index = std::move(idx);
    return index->get();
  };
}

std::shared_ptr<copilot::NodeFacts> gather_facts(Context& ctx, const Machine& m,
                                                 const fs::path& state_dir, bool reindex) {
  auto f = std::make_shared<copilot::NodeFacts>();
  f->inventory = discover(ctx, m);
  f->machine_label = m.fs.is_live() ? "this machine" : m.fs.root().string();
  f->host = m.fs;
  if (auto opts = diagnose::diagnose_options(m.config, state_dir)) {
    if (auto k = diagnose::load_knowledge(*opts)) f->catalog = (*k)->catalog;
  }
  if (auto kb = envcfg::load_knowledge(data_dir() / "envcfg")) {
    envcfg::Machine em = envcfg::machine_from_inventory(f->inventory, *kb);
    em.source = f->machine_label;
    envcfg::read_software(m.fs, em);
    f->env_machine = std::move(em);
    f->knowledge = std::move(*kb);
  }
  if (auto p = tune::ProfileCatalog::load(tune::builtin_profile_dir(), m.fs))
    f->profiles = std::move(*p);
  f->docs = docs_opener(state_dir, m.fs, reindex);
  return f;
}

// A GET of aiond's API as a tool's output; kUnavailable when it does not answer 2xx.
Result<Json> daemon_get(api::Client& c, const std::string& target) {
  auto r = c.get(target);
  if (!r) return std::unexpected(r.error());
  if (!r->ok()) return std::unexpected(r->error());
  Json j = Json::parse(r->body, nullptr, false);
  if (j.is_discarded())
    return fail(ErrorCode::kInternal, "aiond answered " + target + " with invalid JSON");
  return j;
}

// Free GPUs: the scheduler's GPUs that are usable, not drained and in no running job's
// allocation (allocations name GPUs by their index in the scheduler's list).
Result<Json> free_gpus(api::Client& c) {
  auto sched = daemon_get(c, "/v1/sched");
  if (!sched) return sched;
  auto running = daemon_get(c, "/v1/jobs?state=running");
  if (!running) return running;
  std::map<long long, long long> owner;
  for (const auto& j : running->value("jobs", Json::array()))
    for (const auto& g : j.value("allocation", Json::object()).value("gpus", Json::array()))
      owner[g.get<long long>()] = j.value("id", 0LL);
  Json out = Json::array();
  long long i = 0;
  for (const auto& g : sched->value("gpus", Json::array())) {
    std::string why;
    if (!g.value("usable", true))
      why = "not usable";
    else if (g.contains("drained") && !g["drained"].is_null())
      why = "drained: " + g["drained"].get<std::string>();
    else if (owner.count(i))
      why = "job " + std::to_string(owner[i]);
    out.push_back({{"index", i},
                   {"pci_address", g.value("pci_address", "")},
                   {"model", g.value("model", "")},
                   {"free", why.empty()},
                   {"why_not", why}});
    ++i;
  }
  return Json{{"gpus", out}};
}

// The tools that ask aiond, over one connection the tools share.
void add_daemon_tools(copilot::Toolbox& box, std::shared_ptr<api::Client> c) {
  using copilot::ToolOutput;
  const auto wrap = [](Result<Json> j, std::string source) -> Result<ToolOutput> {
    if (!j) return std::unexpected(j.error());
    return ToolOutput{std::move(*j), std::move(source)};
  };
  const Json id_arg = {
      {"type", "object"},
      {"properties", {{"id", {{"type", "integer"}}}, {"state", {{"type", "string"}}}}}};
  box.add({"jobs",
           "aiond's jobs: one job by id (state, exit code, signal, OOM kill, reason, allocation, "
           "usage) or the jobs in a state (pending, running, completed, failed...).",
           id_arg},
          [c, wrap](const Json& a) {
            const long long id = copilot::int_arg(a, "id", -1);
            if (id >= 0)
              return wrap(daemon_get(*c, "/v1/jobs/" + std::to_string(id)),
                          "aiond: job " + std::to_string(id));
            const std::string st = copilot::string_arg(a, "state");
            return wrap(daemon_get(*c, "/v1/jobs" + (st.empty() ? std::string("?limit=50")
                                                                : "?state=" + st)),
                        "aiond: jobs");
          });
  box.add({"queue",
           "aiond's pending jobs in the order they will start, each with why it waits.",
           {{"type", "object"}, {"properties", Json::object()}}},
          [c, wrap](const Json&) { return wrap(daemon_get(*c, "/v1/queue"), "aiond: queue"); });
  box.add(
      {"gpus_free",
       "Which GPUs the scheduler could give a new job now, and why the others are not free.",
       {{"type", "object"}, {"properties", Json::object()}}},
      [c, wrap](const Json&) { return wrap(free_gpus(*c), "aiond: scheduler and running jobs"); });
  box.add({"incidents",
           "aiond's incidents, newest first: severity, title, devices, jobs, the top-ranked cause "
           "and its action.",
           {{"type", "object"}, {"properties", Json::object()}}},
          [c, wrap](const Json&) {
            return wrap(daemon_get(*c, "/v1/incidents?limit=20"), "aiond: incidents");
          });
  box.add({"metrics",
           "Samples of a metric from aiond's store, e.g. aion_gpu_utilization_ratio, "
           "aion_gpu_temperature_celsius, aion_gpu_power_watts, aion_gpu_memory_used_bytes.",
           {{"type", "object"},
            {"properties", {{"query", {{"type", "string"}}}, {"since", {{"type", "string"}}}}},
            {"required", {"query"}}}},
          [c, wrap](const Json& a) {
            const std::string q = copilot::string_arg(a, "query");
            std::string since = copilot::string_arg(a, "since");
            if (since.empty()) since = "5m";
            auto r = daemon_get(*c, "/v1/metrics/query?q=" + q + "&since=" + since);
            if (r && r->is_array()) r = Json{{"series", *r}};
            return wrap(std::move(r), "aiond: metrics " + q + " over " + since);
          });
  box.add({"log_templates",
           "The log templates aiond mined from the node's logs, most frequent first.",
           {{"type", "object"}, {"properties", {{"since", {{"type", "string"}}}}}}},
          [c, wrap](const Json& a) {
            std::string since = copilot::string_arg(a, "since");
            if (since.empty()) since = "1h";
            return wrap(daemon_get(*c, "/v1/logs/templates?limit=20&since=" + since),
                        "aiond: log templates over " + since);
          });
}

// Questions and tool calls in the audit log: what was asked of which facts (sizes and hashes,
// never the texts), under the caller "copilot".
void audit_answer(Context& ctx, const fs::path& log, std::string_view question,
                  const copilot::Answer& a) {
  privacy::AuditRecord q;
  q.time_ms = static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  q.caller = "copilot";
  q.destination = "question (" + (a.intent.empty() ? std::string("no intent") : a.intent) +
                  (a.answered ? ", answered locally)" : ", not answered)");
  q.bytes = question.size();
  q.sha256 = privacy::sha256_hex(question);
  auto st = privacy::append_audit(log, q);
  for (const auto& call : a.calls) {
    if (!st) break;
    privacy::AuditRecord t = q;
    t.destination = "tool " + call.tool + (call.error.empty() ? "" : " (failed)");
    const std::string args = call.args.dump();
    t.bytes = args.size();
    t.sha256 = privacy::sha256_hex(args);
    st = privacy::append_audit(log, t);
  }
  if (!st) warn(ctx, "the audit log: " + st.error().message());
}

void print_answer(const Context& ctx, const copilot::Answer& a) {
  if (ctx.json) {
    Json calls = Json::array();
    for (const auto& c : a.calls)
      calls.push_back(
          {{"tool", c.tool}, {"args", c.args}, {"source", c.source}, {"error", c.error}});
    Json j = {{"answered", a.answered}, {"intent", a.intent},     {"answer", a.text},
              {"sources", a.sources},   {"commands", a.commands}, {"calls", calls}};
    std::printf("%s\n", j.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("%s\n", a.text.c_str());
  if (!a.commands.empty()) {
    std::printf("\nSuggested (run them yourself; nothing was changed):\n");
    for (const auto& c : a.commands) std::printf("  %s\n", c.c_str());
  }
  if (a.answered && !a.sources.empty()) {
    std::printf("\nSources:\n");
    for (const auto& s : a.sources) std::printf("  - %s\n", s.c_str());
  }
}

// --show-outbound: the first request exactly as it would leave (already redacted), sent nowhere.
void print_outbound(const Context& ctx, const copilot::ModelRun& run) {
  for (const auto& o : run.outbound) {
    if (ctx.json) {
      std::printf(
          "%s\n",
          Json{{"url", o.url}, {"body", Json::parse(o.body, nullptr, false)}}.dump(2).c_str());
    } else {
      std::printf("POST %s\n%s\n", o.url.c_str(),
                  Json::parse(o.body, nullptr, false).dump(2).c_str());
    }
  }
  if (run.outbound.empty())
    std::printf("nothing would be sent: %s\n", run.fallback.c_str());
  else
    std::fprintf(stderr, "aion: this is what the first request would carry; nothing was sent.\n");
}

void run_ask(Context& ctx, const AskArgs& args) {
  if (args.question.find_first_not_of(" \t\n") == std::string::npos) {
    return report(
        ctx, Error(ErrorCode::kInvalidArgument,
                   "ask what? for example: aion ask \"how many GPUs does this machine have?\""));
  }
  auto m = load_machine(ctx);
  if (!m) return;
  const fs::path state_dir = settings_from(m->config).state_dir;
  auto router = copilot::Router::load(data_dir() / "copilot" / "intents.toml");
  if (!router) return report(ctx, router.error());
  copilot::Toolbox tools;
  copilot::add_node_tools(tools, gather_facts(ctx, *m, state_dir, args.reindex));
  if (!args.no_daemon && !args.docs_only) {
    if (auto c = try_connect(ctx))
      add_daemon_tools(tools, std::make_shared<api::Client>(std::move(*c)));
  }
  const fs::path log = privacy::audit_log_path(state_dir);
  auto endpoint = copilot::model_endpoint(m->config);
  if (!endpoint) return report(ctx, endpoint.error());
  copilot::Answer a;
  if (args.docs_only || args.no_model || (endpoint->base_url.empty() && !args.show_outbound)) {
    a = args.docs_only ? router->answer_as("howto", args.question, tools)
                       : router->answer(args.question, tools);
  } else {
    if (endpoint->base_url.empty()) endpoint->base_url = "http://(copilot.base_url not set)";
    auto redactor = load_redactor(ctx, "");
    if (!redactor) return;
    copilot::AskOptions opt{&*redactor, log, args.show_outbound};
    copilot::ModelRun run =
        copilot::ask_model(args.question, *endpoint, copilot::http_post, tools, *router, opt);
    if (args.show_outbound) return print_outbound(ctx, run);
    if (!run.fallback.empty())
      std::fprintf(stderr, "aion: the model did not answer (%s); answered without it.\n",
                   run.fallback.c_str());
    a = std::move(run.answer);
  }
  audit_answer(ctx, log, args.question, a);
  print_answer(ctx, a);
}

}  // namespace

void add_ask_command(Command& app, Context& ctx) {
  auto args = std::make_shared<AskArgs>();
  Command ask =
      app.add("ask", "Answer a question about this node from its own facts, with sources");
  ask.option("QUESTION", args->question, "The question, in quotes").required();
  ask.flag("--docs-only", args->docs_only,
           "Answer from the documentation index only (man pages, aion's manuals and catalogs)");
  ask.flag("--reindex", args->reindex, "Bring the document index up to date first");
  ask.flag("--no-daemon", args->no_daemon,
           "Do not ask aiond (jobs, queue, incidents, metrics, logs)");
  ask.flag("--no-model", args->no_model,
           "Answer without the language model even when copilot.base_url is set");
  ask.flag("--show-outbound", args->show_outbound,
           "Print the request the model would get, exactly as it would leave (redacted); send "
           "nothing");
  ask.footer(
      "Answers come from this node's facts through read-only tools: the hardware and topology\n"
      "(as `aion hw`), the fault signature catalog, the environment resolver (`aion env plan`),\n"
      "the tuning knobs and profiles, the document index (man pages, aion's manuals), and from\n"
      "aiond when it answers: jobs, the queue, free GPUs, incidents, metrics and log templates.\n"
      "Each answer lists its sources; a question it cannot answer gets a plain \"I can't answer\n"
      "that\" and why. Actions are only suggested as commands. With copilot.base_url and\n"
      "copilot.model set ([copilot] in aion.toml), an OpenAI-compatible model answers using the\n"
      "same tools; the question and every tool output pass the privacy gate first, each request\n"
      "is audited, and an endpoint that fails falls back to answering without it.\n"
      "Works with --host-root and --config on a recorded machine. Questions and tool calls go\n"
      "to the audit log (`aion audit`).\n"
      "Examples:\n"
      "  aion ask \"which GPUs are NVLinked?\"\n"
      "  aion ask \"what does Xid 79 mean?\"\n"
      "  aion ask \"can this box run PyTorch 2.8?\"\n"
      "  aion ask \"why did job 42 die?\"");
  ask.action([&ctx, args] { run_ask(ctx, *args); });
}

}  // namespace aion::cli
