// aion logs ID: a job's output. aion logs parse | templates | tail: log template mining.
// `parse` works on any file (or stdin) without the daemon; `templates` and `tail` ask aiond
// what it mined from the node's kernel log, journal and files.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/logs/header.h"
#include "aion/logs/header_detect.h"
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

// How `parse` splits headers: a --format given, a layout found in the file, or none.
class Headers {
 public:
  // From --format ("none": whole lines), or else detected on `sample`; messages go to stderr.
  static std::optional<Headers> choose(Context& ctx, const std::string& format,
                                       const std::vector<std::string>& sample) {
    Headers h;
    if (format == "none") return h;
    if (!format.empty()) {
      auto f = logs::HeaderFormat::parse(format);
      if (!f) {
        std::fprintf(stderr, "aion: --format: %s\n", f.error().message().c_str());
        ctx.exit_code = kExitUsage;
        return std::nullopt;
      }
      h.given_ = std::move(*f);
      return h;
    }
    auto detector = logs::HeaderDetector::load(data_dir() / "logs" / "headers.toml");
    if (!detector) {
      report(ctx, detector.error());
      return std::nullopt;
    }
    h.found_ = detector->detect(sample);
    if (h.found_) {
      h.layout_ = detector->index_of(h.found_->layout.name);
      h.detector_ = std::move(*detector);
    }
    if (!ctx.json) {
      if (h.found_) {
        std::fprintf(stderr, "header: %s, %zu of the first %zu lines (%s); --format overrides\n",
                     h.found_->layout.name.c_str(), h.found_->matched, h.found_->sampled,
                     h.found_->layout.about.c_str());
      } else if (!sample.empty()) {
        std::fprintf(stderr,
                     "header: no known layout in the first %zu lines; mining whole lines "
                     "(--format gives one)\n",
                     sample.size());
      }
    }
    return h;
  }

  std::optional<logs::HeaderFields> split(std::string_view line) const {
    if (given_) return given_->split(line);
    if (detector_) return detector_->split(layout_, line);
    return std::nullopt;
  }
  bool active() const { return given_.has_value() || detector_.has_value(); }
  // Whether lines carry their own source (a program or component field).
  bool has_sources() const {
    const auto& names = given_ ? given_->names() : std::vector<std::string>();
    auto named = [](const std::string& n) {
      return n == "Program" || n == "Component" || n == "Unit" || n == "App";
    };
    if (given_) return std::any_of(names.begin(), names.end(), named);
    if (!found_) return false;
    auto f = logs::HeaderFormat::parse(found_->layout.format);
    return f && std::any_of(f->names().begin(), f->names().end(), named);
  }
  Json json() const {
    if (given_) return Json{{"format", given_->format()}, {"from", "--format"}};
    if (found_) {
      return Json{{"layout", found_->layout.name},
                  {"format", found_->layout.format},
                  {"matched", found_->matched},
                  {"sampled", found_->sampled},
                  {"from", "detected"}};
    }
    return nullptr;
  }

 private:
  std::optional<logs::HeaderFormat> given_;
  std::optional<logs::HeaderDetector> detector_;
  std::optional<logs::Detection> found_;
  std::size_t layout_ = 0;
};

// Lines sampled from the top of a file to find its header layout.
constexpr std::size_t kHeaderSample = 1000;

// The template table (or, with --json, the whole result: header, templates and, when
// `parsed` is given, each line's template and parameters).
void print_templates(Context& ctx, const logs::TemplateMiner& miner, Json header, bool with_sources,
                     Json* parsed) {
  auto templates = miner.templates();
  if (ctx.json) {
    Json out{{"lines", miner.lines()}, {"header", std::move(header)}};
    Json ts = Json::array();
    for (const auto& t : templates) {
      Json j = template_json(t);
      if (with_sources) j["source"] = t.source;
      ts.push_back(std::move(j));
    }
    out["templates"] = std::move(ts);
    if (parsed != nullptr) out["parsed"] = std::move(*parsed);
    std::printf("%s\n", out.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    return;
  }
  if (parsed != nullptr) return;
  std::sort(templates.begin(), templates.end(),
            [](const auto& x, const auto& y) { return x.count > y.count; });
  if (with_sources) {
    Table t({"ID", "COUNT", "SOURCE", "TEMPLATE"});
    for (const auto& tp : templates)
      t.add({std::to_string(tp.id), std::to_string(tp.count), tp.source, tp.text});
    t.print();
  } else {
    Table t({"ID", "COUNT", "TEMPLATE"});
    for (const auto& tp : templates)
      t.add({std::to_string(tp.id), std::to_string(tp.count), tp.text});
    t.print();
  }
  std::printf("\n%llu lines, %zu templates\n", static_cast<unsigned long long>(miner.lines()),
              templates.size());
}

void run_parse(Context& ctx, const ParseArgs& a) {
  std::filesystem::path masks_file =
      a.masks.empty() ? data_dir() / "logs" / "masks.toml" : std::filesystem::path(a.masks);
  auto masks = logs::MaskSet::load(masks_file);
  if (!masks) return report(ctx, masks.error());
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
  auto next_line = [&](std::string& line) {
    if (!std::getline(*in, line)) return false;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  };
  std::vector<std::string> head;
  for (std::string line; head.size() < kHeaderSample && next_line(line);) head.push_back(line);
  auto headers = Headers::choose(ctx, a.format, head);
  if (!headers) return;
  logs::MinerOptions options;
  options.separate_sources = headers->has_sources();
  logs::TemplateMiner miner(std::move(*masks), options);
  struct Mined {
    std::string content;
    std::string source;
  };
  std::vector<Mined> mined;
  std::size_t unsplit = 0;
  auto mine = [&](const std::string& line) {
    std::string content = line, source = a.file;
    if (headers->active()) {
      if (auto f = headers->split(line)) {
        content = std::move(f->content);
        if (options.separate_sources) source = logs::HeaderDetector::source_of(*f);
      } else {
        ++unsplit;
      }
    }
    miner.add(content, 0, source);
    if (!a.templates) mined.push_back({std::move(content), std::move(source)});
  };
  for (const auto& line : head) mine(line);
  for (std::string line; next_line(line);) mine(line);
  // A second pass over what was learnt: every line gets its template as of the whole file.
  Json parsed = Json::array();
  Table lines;  // no header: one row per line of the file
  for (const auto& m : mined) {
    auto p = miner.match(m.content, m.source);
    if (ctx.json) {
      parsed.push_back({{"template_id", p.template_id}, {"params", p.params}});
    } else {
      lines.add({std::to_string(p.template_id), params_text(p.params)});
    }
  }
  lines.print();
  if (unsplit) {
    warn(ctx, std::to_string(unsplit) + " lines did not have the header; parsed whole");
  }
  print_templates(ctx, miner, headers->json(), options.separate_sources,
                  a.templates ? nullptr : &parsed);
}

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
               "<Content> is mined); default: found from the file's first lines among the "
               "layouts of <data dir>/logs/headers.toml; 'none' mines whole lines");
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
