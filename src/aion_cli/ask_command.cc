// aion ask "QUESTION": answers a question about this node from its own facts, without a
// language model: the router picks the kind of question, calls the copilot's read-only tools
// (the machine's hardware, the fault catalog, the environment resolver, tuning knobs, the
// document index, and aiond's jobs, queue, incidents, metrics and logs when it answers) and
// writes the answer with its sources. Questions and tool calls go to the audit log.
#include <editline/readline.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "aion/api/client.h"
#include "aion/api/http.h"
#include "aion/copilot/daemon_tools.h"
#include "aion/copilot/docs.h"
#include "aion/copilot/http_post.h"
#include "aion/copilot/llm.h"
#include "aion/copilot/node_tools.h"
#include "aion/copilot/router.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/core/process.h"
#include "aion/core/settings.h"
#include "aion/core/strings.h"
#include "aion/privacy/gate.h"
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
std::function<Result<copilot::DocIndex*>(bool)> docs_opener(const fs::path& state_dir,
                                                            const HostFs& host, bool reindex) {
  auto index = std::make_shared<std::unique_ptr<copilot::DocIndex>>();
  const fs::path root = host.root();
  return [index, state_dir, root, reindex](bool build) -> Result<copilot::DocIndex*> {
    if (*index) return index->get();
    auto opened = copilot::DocIndex::open(state_dir / "docs-index");
    if (!opened) return std::unexpected(opened.error());
    auto idx = std::make_unique<copilot::DocIndex>(std::move(*opened));
    const bool first = idx->size() == 0;
    if (first && !build)
      return fail(ErrorCode::kNotFound, "no document index yet (`aion ask --reindex` builds it)");
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
  auto f = copilot::node_facts(discover(ctx, m), m.fs,
                               copilot::load_node_knowledge(m.config, state_dir, m.fs));
  f->docs = docs_opener(state_dir, m.fs, reindex);
  return f;
}

// A GET of aiond's API over the CLI's connection, as the daemon tools want it.
copilot::DaemonGet client_get(std::shared_ptr<api::Client> c) {
  return [c](const std::string& path,
             const std::map<std::string, std::string>& query) -> Result<Json> {
    std::string target = path;
    for (const auto& [k, v] : query)
      target += (target == path ? "?" : "&") + k + "=" + api::url_encode(v);
    auto r = c->get(target);
    if (!r) return std::unexpected(r.error());
    if (!r->ok()) return std::unexpected(r->error());
    Json j = Json::parse(r->body, nullptr, false);
    if (j.is_discarded())
      return fail(ErrorCode::kInternal, "aiond answered " + path + " with invalid JSON");
    return j;
  };
}

void audit_answer(Context& ctx, const fs::path& log, std::string_view question,
                  const copilot::Answer& a) {
  if (auto st = copilot::audit_question(log, "copilot", question, a); !st)
    warn(ctx, "the audit log: " + st.error().message());
}

// The answer as --json gives it (and POST /v1/ask answers).
// `streamed`: the text was printed already, as the model wrote it.
void print_answer(const Context& ctx, const copilot::Answer& a, bool streamed = false) {
  if (ctx.json) {
    const Json j = copilot::answer_json(a);
    std::printf("%s\n", j.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("%s\n", streamed ? "" : a.text.c_str());
  if (!a.commands.empty()) {
    std::printf(
        "\nSuggested (nothing was changed; in `aion chat`, /run N runs one after you confirm):\n");
    for (std::size_t i = 0; i < a.commands.size(); ++i)
      std::printf("  [%zu] %s\n", i + 1, a.commands[i].c_str());
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

// What one `aion ask` or one `aion chat` asks with: the router, the tools (facts gathered
// once), the model endpoint and the gate's redactor when a model is set.
struct Session {
  copilot::Router router;
  copilot::Toolbox tools;
  copilot::ModelEndpoint endpoint;
  std::optional<privacy::Redactor> redactor;
  fs::path state_dir;
  fs::path log;
  copilot::ModelRun last;  // the last answer and what it sent, for /sources and /outbound
};

std::optional<Session> open_session(Context& ctx, const AskArgs& args) {
  auto m = load_machine(ctx);
  if (!m) return std::nullopt;
  const fs::path state_dir = settings_from(m->config).state_dir;
  auto router = copilot::Router::load(data_dir() / "copilot" / "intents.toml");
  if (!router) return report(ctx, router.error()), std::nullopt;
  auto endpoint = copilot::model_endpoint(m->config);
  if (!endpoint) return report(ctx, endpoint.error()), std::nullopt;
  Session s{std::move(*router),
            {},
            std::move(*endpoint),
            std::nullopt,
            state_dir,
            privacy::audit_log_path(state_dir),
            {}};
  copilot::add_node_tools(s.tools, gather_facts(ctx, *m, state_dir, args.reindex));
  if (!args.no_daemon && !args.docs_only) {
    if (auto c = try_connect(ctx))
      copilot::add_daemon_tools(s.tools, client_get(std::make_shared<api::Client>(std::move(*c))));
  }
  const bool model =
      !args.docs_only && !args.no_model && (!s.endpoint.base_url.empty() || args.show_outbound);
  if (model) {
    if (s.endpoint.base_url.empty()) s.endpoint.base_url = "http://(copilot.base_url not set)";
    auto redactor = load_redactor(ctx, "");
    if (!redactor) return std::nullopt;
    s.redactor = std::move(*redactor);
  }
  return s;
}

// Answers one question: the model when one is set (falling back to the router), else the
// router; records it in the audit log. Returns false for --show-outbound (nothing answered).
bool answer_one(Context& ctx, Session& s, const AskArgs& args, const std::string& question) {
  s.last = {};
  if (!s.redactor) {
    s.last.answer = args.docs_only ? s.router.answer_as("howto", question, s.tools)
                                   : s.router.answer(question, s.tools);
  } else {
    copilot::AskOptions opt{&*s.redactor, s.log, args.show_outbound, {}};
    if (!ctx.json) {
      opt.on_text = [](std::string_view t) {
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
      };
    }
    s.last = copilot::ask_model(question, s.endpoint, copilot::http_transport({s.endpoint.ca_file}),
                                s.tools, s.router, opt);
    if (args.show_outbound) {
      print_outbound(ctx, s.last);
      return false;
    }
    if (!s.last.fallback.empty())
      std::fprintf(stderr, "aion: the model did not answer (%s); answered without it.\n",
                   s.last.fallback.c_str());
  }
  audit_answer(ctx, s.log, question, s.last.answer);
  return true;
}

void run_ask(Context& ctx, const AskArgs& args) {
  if (args.question.find_first_not_of(" \t\n") == std::string::npos) {
    return report(
        ctx, Error(ErrorCode::kInvalidArgument,
                   "ask what? for example: aion ask \"how many GPUs does this machine have?\""));
  }
  auto s = open_session(ctx, args);
  if (!s) return;
  if (answer_one(ctx, *s, args, args.question))
    print_answer(ctx, s->last.answer, s->last.streamed && s->last.used_model);
}

// aion chat: one session, many questions. Lines are read with libedit (editing, history kept
// in the state directory) on a terminal, plainly otherwise.
constexpr int kChatHistory = 1000;

std::optional<std::string> read_line(bool tty) {
  if (tty) {
    char* line = ::readline("aion> ");
    if (!line) return std::nullopt;
    std::string out(line);
    std::free(line);
    if (!trim(out).empty()) ::add_history(out.c_str());
    return out;
  }
  std::string out;
  if (!std::getline(std::cin, out)) return std::nullopt;
  return out;
}

// A suggested command as the words to run: an `aion` command without its trailing comment and
// with nothing left to fill in; nullopt (and why) otherwise.
std::optional<std::vector<std::string>> runnable(const std::string& command, std::string& why) {
  std::string c = command.substr(0, command.find("  #"));
  std::vector<std::string> words;
  for (std::size_t i = 0; i < c.size();) {
    const std::size_t j = c.find(' ', i);
    if (j != i) words.push_back(c.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  if (words.empty() || words[0] != "aion") {
    why =
        "only aion's own commands run from here (the daemon checks your role); run this one "
        "yourself";
    return std::nullopt;
  }
  for (const auto& w : words) {
    if (w.find('<') != std::string::npos || w == "N" || w == "CMD") {
      why = "it has a value to fill in (" + w + "); type the command yourself";
      return std::nullopt;
    }
  }
  words.erase(words.begin());
  return words;
}

// /run N: the last answer's Nth suggested command, shown, confirmed, run as this user (aiond
// decides what the user's role may do) and recorded in the audit log.
void run_suggestion(Context& ctx, const Session& s, std::string_view arg, bool tty) {
  const auto& cmds = s.last.answer.commands;
  const std::size_t n = static_cast<std::size_t>(std::atoi(std::string(arg).c_str()));
  if (n == 0 || n > cmds.size()) {
    std::printf("no suggested command %s (the last answer has %zu)\n", std::string(arg).c_str(),
                cmds.size());
    return;
  }
  std::string why;
  auto words = runnable(cmds[n - 1], why);
  if (!words) {
    std::printf("not run: %s\n", why.c_str());
    return;
  }
  std::printf("run `%s`? [y/N] ", cmds[n - 1].substr(0, cmds[n - 1].find("  #")).c_str());
  std::fflush(stdout);
  auto answer = read_line(false);
  if (tty) std::printf("\n");
  if (!answer || (trim(*answer) != "y" && trim(*answer) != "yes")) {
    std::printf("not run\n");
    return;
  }
  ProcessOptions o;
  o.argv = {"/proc/self/exe"};
  if (!ctx.config.empty()) o.argv.insert(o.argv.end(), {"--config", ctx.config});
  if (!ctx.host_root.empty()) o.argv.insert(o.argv.end(), {"--host-root", ctx.host_root});
  o.argv.insert(o.argv.end(), words->begin(), words->end());
  auto r = run_process(o);
  const auto rec = privacy::audit_record("copilot",
                                         "action aion " + (*words)[0] + " (confirmed, " +
                                             (r ? r->describe() : "could not start") + ")",
                                         cmds[n - 1]);
  if (auto st = privacy::append_audit(s.log, rec); !st)
    warn(ctx, "the audit log: " + st.error().message());
  if (!r) return report(ctx, r.error());
  std::fwrite(r->out.data(), 1, r->out.size(), stdout);
  std::fwrite(r->err.data(), 1, r->err.size(), stdout);
  if (!r->ok()) std::printf("(%s)\n", r->describe().c_str());
}

void chat_command(Context& ctx, const Session& s, std::string_view cmd, bool tty) {
  if (cmd.rfind("/run", 0) == 0) {
    run_suggestion(ctx, s, trim(cmd.substr(4)), tty);
  } else if (cmd == "/sources") {
    if (s.last.answer.sources.empty()) std::printf("no sources yet: ask a question first\n");
    for (const auto& src : s.last.answer.sources) std::printf("  - %s\n", src.c_str());
    for (const auto& c : s.last.answer.calls) {
      const std::string failed = c.error.empty() ? "" : " (failed: " + c.error + ")";
      std::printf("  tool %s %s%s\n", c.tool.c_str(), c.args.dump().c_str(), failed.c_str());
    }
  } else if (cmd == "/outbound") {
    if (s.last.outbound.empty()) {
      std::printf("nothing left the node for the last question%s\n",
                  s.redactor ? "" : " (no model is set: answers come from this node alone)");
    }
    for (const auto& o : s.last.outbound)
      std::printf("POST %s (%zu bytes, redacted)\n%s\n", o.url.c_str(), o.body.size(),
                  Json::parse(o.body, nullptr, false).dump(2).c_str());
  } else {
    std::printf(
        "Ask a question about this node, or:\n  /sources   where the last answer's facts come "
        "from, and the tool calls\n  /outbound  what the last question sent to the model "
        "(redacted)\n  /run N     run the last answer's Nth suggested aion command, after you "
        "confirm\n  /quit      leave (also Ctrl-D)\n");
  }
}

void run_chat(Context& ctx, const AskArgs& args) {
  auto s = open_session(ctx, args);
  if (!s) return;
  const bool tty = ::isatty(STDIN_FILENO) != 0;
  const std::string history = (s->state_dir / "chat_history").string();
  if (tty) {
    ::using_history();
    ::stifle_history(kChatHistory);
    ::read_history(history.c_str());
    std::printf("aion chat: questions about this node%s. /help for commands, Ctrl-D to leave.\n",
                s->redactor ? (", answered by " + s->endpoint.model).c_str() : "");
  }
  while (auto line = read_line(tty)) {
    const std::string q(trim(*line));
    if (q.empty()) continue;
    if (q == "/quit" || q == "/exit") break;
    if (q[0] == '/') {
      chat_command(ctx, *s, q, tty);
      continue;
    }
    if (answer_one(ctx, *s, args, q))
      print_answer(ctx, s->last.answer, s->last.streamed && s->last.used_model);
    std::printf("\n");
    std::fflush(stdout);
  }
  if (tty) {
    std::error_code ec;
    fs::create_directories(s->state_dir, ec);
    ::write_history(history.c_str());
    ::chmod(history.c_str(), 0600);
  }
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

  auto chat_args = std::make_shared<AskArgs>();
  Command chat =
      app.add("chat", "Ask questions about this node one after another (line editing, history)");
  chat.flag("--no-daemon", chat_args->no_daemon,
            "Do not ask aiond (jobs, queue, incidents, metrics, logs)");
  chat.flag("--no-model", chat_args->no_model,
            "Answer without the language model even when one is set");
  chat.footer(
      "Each line is a question, answered as `aion ask` answers it, with the facts gathered once.\n"
      "  /sources   where the last answer's facts come from, and the tool calls\n"
      "  /outbound  what the last question sent to the model, exactly as it left (redacted)\n"
      "  /run N     run the last answer's Nth suggested aion command after you confirm it; it\n"
      "             runs as you, so aiond allows only what your role may do; it is audited\n"
      "  /quit      leave (also Ctrl-D)\n"
      "History is kept in the state directory (chat_history, mode 0600). Reads plain lines\n"
      "when stdin is not a terminal, so questions can be piped in.");
  chat.action([&ctx, chat_args] { run_chat(ctx, *chat_args); });
}

}  // namespace aion::cli
