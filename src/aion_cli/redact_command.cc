// aion redact [FILE|-]: the privacy gate on a file or stdin, without the daemon. Prints the
// redacted text line for line (the same number of lines), or with --json the findings
// (category, detector, line, column span, placeholder; never the value) and counts.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "aion/core/json.h"
#include "aion/privacy/redactor.h"
#include "command.h"
#include "daemon_client.h"
#include "privacy_cli.h"

namespace aion::cli {
namespace {

struct RedactArgs {
  std::string file = "-";
  std::string policy;
};

std::optional<std::string> read_input(Context& ctx, const std::string& file) {
  std::stringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    report(ctx, Error(ErrorCode::kNotFound,
                      file + ": cannot open the file to redact (check the path and permissions)"));
    return std::nullopt;
  }
  ss << in.rdbuf();
  return ss.str();
}

// The policy: --policy FILE (a TOML file with a [privacy] section) wins over the config's.
std::optional<privacy::Policy> load_policy(Context& ctx, const std::string& policy_file) {
  Result<Config> cfg = std::unexpected(Error(ErrorCode::kInternal, ""));
  if (!policy_file.empty()) {
    cfg = Config::load(policy_file, privacy::privacy_config_schema());
  } else if (auto c = load_config(ctx)) {
    cfg = std::move(*c);
  } else {
    return std::nullopt;
  }
  if (!cfg) {
    report(ctx, cfg.error());
    return std::nullopt;
  }
  auto p = privacy::policy_from(*cfg);
  if (!p) {
    report(ctx, p.error());
    return std::nullopt;
  }
  return std::move(*p);
}

}  // namespace

std::optional<privacy::Redactor> load_redactor(Context& ctx, const std::string& policy_file) {
  auto policy = load_policy(ctx, policy_file);
  if (!policy) return std::nullopt;
  auto redactor =
      privacy::Redactor::load(*policy, HostFs(ctx.host_root.empty() ? "/" : ctx.host_root));
  if (!redactor) {
    report(ctx, redactor.error());
    return std::nullopt;
  }
  return std::move(*redactor);
}

namespace {

void run_redact(Context& ctx, const RedactArgs& a) {
  auto redactor = load_redactor(ctx, a.policy);
  if (!redactor) return;
  auto text = read_input(ctx, a.file);
  if (!text) return;
  privacy::PlaceholderMap map;
  privacy::Redaction r = redactor->redact(*text, map);
  if (!ctx.json) {
    std::fwrite(r.text.data(), 1, r.text.size(), stdout);
    return;
  }
  // Line and 1-based byte columns of each finding in the input.
  Json findings = Json::array();
  std::size_t line = 1, line_start = 0, scanned = 0;
  Json counts = Json::object();
  for (std::size_t i = 0; i < r.findings.size(); ++i) {
    const privacy::Finding& f = r.findings[i];
    for (; scanned < f.begin; ++scanned) {
      if ((*text)[scanned] == '\n') {
        ++line;
        line_start = scanned + 1;
      }
    }
    const std::string cat(privacy::category_name(f.category));
    findings.push_back({{"category", cat},
                        {"detector", std::string(f.detector)},
                        {"line", line},
                        {"column_start", f.begin - line_start + 1},
                        {"column_end", f.end - line_start + 1},
                        {"confidence", f.confidence},
                        {"placeholder", r.placeholders[i]}});
    counts[cat] = counts.value(cat, 0) + 1;
  }
  Json out{{"findings", std::move(findings)}, {"counts", std::move(counts)}, {"redacted", r.text}};
  std::printf("%s\n", out.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
}

}  // namespace

void add_redact_command(Command& app, Context& ctx) {
  auto args = std::make_shared<RedactArgs>();
  Command cmd =
      app.add("redact", "Replace secrets and personal data in a file or stdin with placeholders");
  cmd.option("FILE", args->file, "File to redact, or - for stdin (default)");
  cmd.option("--policy", args->policy,
             "TOML file with a [privacy] section (keep, allow_values, allow_domains) "
             "used instead of the config's");
  cmd.footer(
      "Writes the redacted text with the same number of lines. Secrets are always replaced;\n"
      "personal data (email, ip, mac, host, user, phone, national_id, card, serial) unless\n"
      "[privacy] keep lists the category. --json lists each finding's category, detector,\n"
      "line, column span and placeholder, never the value.");
  cmd.action([&ctx, args] { run_redact(ctx, *args); });
}

}  // namespace aion::cli
