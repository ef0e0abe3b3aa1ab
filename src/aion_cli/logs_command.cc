// aion logs ID: a job's output. aion logs parse | templates | tail: log template mining.
// `parse` works on any file (or stdin) without the daemon; `templates` and `tail` ask aiond
// what it mined from the node's kernel log, journal and files.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/logs/header.h"
#include "aion/logs/masks.h"
#include "aion/logs/miner.h"
#include "command.h"
#include "daemon_client.h"
#include "job_output.h"
#include "table.h"

namespace aion::cli {
namespace {

struct ParseArgs {
  std::string file;
  bool templates = false;
  std::string format;
  std::string masks;
};

std::string params_text(const std::vector<std::string>& params) {
  std::string out;
  for (const auto& p : params) out += (out.empty() ? "" : " | ") + p;
  return out;
}

Json template_json(const logs::Template& t) {
  return Json{{"id", t.id}, {"template", t.text}, {"count", t.count}, {"example", t.example}};
}

void run_parse(Context& ctx, const ParseArgs& a) {
  std::filesystem::path masks_file =
      a.masks.empty() ? data_dir() / "logs" / "masks.toml" : std::filesystem::path(a.masks);
  auto masks = logs::MaskSet::load(masks_file);
  if (!masks) return report(ctx, masks.error());
  std::optional<logs::HeaderFormat> header;
  if (!a.format.empty()) {
    auto h = logs::HeaderFormat::parse(a.format);
    if (!h) {
      std::fprintf(stderr, "aion: --format: %s\n", h.error().message().c_str());
      ctx.exit_code = kExitUsage;
      return;
    }
    header = std::move(*h);
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (a.file != "-") {
    file.open(a.file);
    if (!file) {
      report(ctx, Error(ErrorCode::kNotFound, a.file + ": cannot open the log file"));
      return;
    }
    in = &file;
  }
  logs::TemplateMiner miner(std::move(*masks));
  std::vector<std::string> contents;
  std::size_t unsplit = 0;
  std::string line;
  while (std::getline(*in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string content = line;
    if (header) {
      if (auto f = header->split(line)) {
        content = std::move(f->content);
      } else {
        ++unsplit;
      }
    }
    miner.add(content, 0, a.file);
    if (!a.templates) contents.push_back(std::move(content));
  }
  // A second pass over what was learnt: every line gets its template as of the whole file.
  Json parsed = Json::array();
  Table lines;  // no header: one row per line of the file
  for (const auto& c : contents) {
    auto p = miner.match(c);
    if (ctx.json) {
      parsed.push_back({{"template_id", p.template_id}, {"params", p.params}});
    } else {
      lines.add({std::to_string(p.template_id), params_text(p.params)});
    }
  }
  lines.print();
  if (unsplit) {
    warn(ctx, std::to_string(unsplit) + " lines did not match --format; parsed whole");
  }
  auto templates = miner.templates();
  if (ctx.json) {
    Json out{{"lines", miner.lines()}};
    Json ts = Json::array();
    for (const auto& t : templates) ts.push_back(template_json(t));
    out["templates"] = std::move(ts);
    if (!a.templates) out["parsed"] = std::move(parsed);
    std::printf("%s\n", out.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    return;
  }
  if (!a.templates) return;
  std::sort(templates.begin(), templates.end(),
            [](const auto& x, const auto& y) { return x.count > y.count; });
  Table t({"ID", "COUNT", "TEMPLATE"});
  for (const auto& tp : templates)
    t.add({std::to_string(tp.id), std::to_string(tp.count), tp.text});
  t.print();
  std::printf("\n%llu lines, %zu templates\n", static_cast<unsigned long long>(miner.lines()),
              templates.size());
}

}  // namespace

namespace {

// aion logs parse FILE
void add_logs_parse(Command& logs, Context& ctx) {
  auto pa = std::make_shared<ParseArgs>();
  Command parse =
      logs.add("parse",
               "Mine the templates of a log file or stdin (-), no daemon needed: each line's "
               "template id and parameters, or --templates");
  parse.option("FILE", pa->file, "Log file, or - for stdin").required();
  parse.flag("--templates", pa->templates, "Print the template table with counts instead");
  parse.option("--format", pa->format,
               "Header format, Loghub style: '<Date> <Time> <Level>: <Content>' (only "
               "<Content> is mined)");
  parse.option("--masks", pa->masks, "Masking rules (default: <data dir>/logs/masks.toml)");
  parse.action([&ctx, pa] { run_parse(ctx, *pa); });
}

// aion logs templates and aion logs tail: what aiond mined
void add_logs_daemon_views(Command& logs, Context& ctx) {
  struct DaemonArgs {
    std::string since;
    int limit = 100;
  };
  auto da = std::make_shared<DaemonArgs>();
  Command templates =
      logs.add("templates", "Templates aiond has mined from the node's logs, most frequent first");
  templates.option("--since", da->since, "Only templates seen within this long (1h, 30m, 2d)");
  templates.option("--limit", da->limit, "At most this many (default 100)").range(1, 100000);
  templates.action([&ctx, da] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    std::string q = "/v1/logs/templates?limit=" + std::to_string(da->limit) +
                    (da->since.empty() ? "" : "&since=" + da->since);
    auto body = call(ctx, *client, "GET", q);
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json j = Json::parse(*body, nullptr, false);
    Table t({"ID", "COUNT", "LAST SEEN", "SOURCE", "TEMPLATE"});
    for (const auto& x : j.value("templates", Json::array())) {
      t.add({std::to_string(x.value("id", 0ULL)), std::to_string(x.value("count", 0ULL)),
             x.value("last_seen", ""), x.value("source", ""), x.value("template", "")});
    }
    t.print();
  });

  Command tail = logs.add("tail", "The latest lines aiond parsed, with their template");
  tail.option("--limit", da->limit, "At most this many (default 100)").range(1, 100000);
  tail.action([&ctx, da] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto body = call(ctx, *client, "GET", "/v1/logs/recent?limit=" + std::to_string(da->limit));
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json j = Json::parse(*body, nullptr, false);
    Table t;  // no header: the lines read as a log
    for (const auto& l : j.value("lines", Json::array())) {
      t.add({l.value("time", ""), l.value("source", "").substr(0, 8),
             "#" + std::to_string(l.value("template_id", 0ULL)), l.value("content", "")});
    }
    t.print();
  });
}

}  // namespace

void add_logs_commands(Command& app, Context& ctx) {
  // `aion logs ID`: a job's output; its subcommands mine log templates.
  struct JobArgs {
    long long id = 0;
    bool follow = false;
  };
  auto job = std::make_shared<JobArgs>();
  Command logs = app.add(
      "logs", "A job's output (stdout and stderr); -f follows it. Also: logs parse|templates|tail");
  logs.option("ID", job->id, "Job id");
  logs.flag("-f,--follow", job->follow, "Keep printing until the job ends");
  logs.action([&ctx, job, logs] {
    if (logs.ran_subcommand()) return;
    if (job->id <= 0) {
      std::fprintf(stderr, "aion: logs: give a job ID, or one of parse, templates, tail\n");
      ctx.exit_code = kExitUsage;
      return;
    }
    auto client = connect_daemon(ctx);
    if (!client) return;
    // Errors are reported inside; the job as it ended is of no use here.
    copy_job_output(ctx, *client, job->id, job->follow, false);
  });

  add_logs_parse(logs, ctx);
  add_logs_daemon_views(logs, ctx);
}

}  // namespace aion::cli
