// aion sim --nodes NODES.csv --pods PODS.csv [--policy fgd|LIST|all] [--seeds 42..51]
//          [--inflate 1.3] [--time-ordered] [--csv FILE] [--svg FILE]: replay a cluster trace
// through the placement policies (aion/cluster/simulator.h). Works without the daemon.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "aion/cluster/policy.h"
#include "aion/cluster/report.h"
#include "aion/cluster/simulator.h"
#include "aion/cluster/trace.h"
#include "cli.h"
#include "command.h"
#include "daemon_client.h"
#include "table.h"

namespace aion::cli {
namespace {

struct SimArgs {
  std::string nodes, pods, policy = "fgd", seeds = "42", csv, svg;
  double inflate = 1.3;
  bool time_ordered = false;
  bool uniform_ties = false;
  int threads = 2;
};

// "42", "42..51" or "1,5,9".
Result<std::vector<std::uint64_t>> parse_seeds(const std::string& text) {
  std::vector<std::uint64_t> out;
  auto bad = [&] {
    return fail(ErrorCode::kInvalidArgument,
                "--seeds '" + text + "': expected N, FROM..TO or a comma list, e.g. 42..51");
  };
  try {
    if (auto dots = text.find(".."); dots != std::string::npos) {
      std::size_t used_a = 0, used_b = 0;
      const auto a = std::stoull(text.substr(0, dots), &used_a);
      const auto b = std::stoull(text.substr(dots + 2), &used_b);
      if (used_a != dots || used_b != text.size() - dots - 2 || b < a || b - a > 10000) {
        return bad();
      }
      for (auto s = a; s <= b; ++s) out.push_back(s);
      return out;
    }
    std::size_t start = 0;
    while (start <= text.size()) {
      auto comma = text.find(',', start);
      const std::string part =
          text.substr(start, comma == std::string::npos ? comma : comma - start);
      std::size_t used = 0;
      out.push_back(std::stoull(part, &used));
      if (used != part.size()) return bad();
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } catch (const std::exception&) {
    return bad();
  }
  return out;
}

Result<std::vector<std::string>> parse_policies(const std::string& text) {
  std::vector<std::string> out;
  std::string lower;
  for (char ch : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "all") {
    for (auto p : cluster::policy_names()) out.emplace_back(p);
    return out;
  }
  std::size_t start = 0;
  while (true) {
    auto comma = lower.find(',', start);
    std::string name = lower.substr(start, comma == std::string::npos ? comma : comma - start);
    const auto& known = cluster::policy_names();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return fail(ErrorCode::kInvalidArgument,
                  "unknown policy '" + name + "' (known: " + list + ", or all)");
    }
    out.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string pct(double v, const char* unit = "") {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%s", v, unit);
  return buf;
}

void print_table(const cluster::SimResult& r, const std::vector<std::string>& policies,
                 std::size_t seeds) {
  std::printf("%d nodes, %.0f GPUs; %d pods in the list, %d pod types in the target workload\n",
              r.nodes, r.gpus, r.trace_pods, r.pod_types);
  std::printf("%zu run(s) in %.2f s\n\n", r.runs.size(), r.seconds);
  Table t({"POLICY", "SEEDS", "UNALLOC@100%", "SD", "FRAG@100% (GPU)", "FRAG RATE@100%",
           "UNALLOC@END", "FAILED PODS", "US/POD"});
  for (const auto& p : policies) {
    int last = 1 << 30;
    double failed = 0, ns = 0, pods = 0;
    int runs = 0;
    for (const auto& run : r.runs) {
      if (run.policy != p) continue;
      last = std::min(last, static_cast<int>(run.samples.size()) - 1);
      for (int f : run.failed) failed += f;
      ns += run.decision_ns * run.pods;
      pods += run.pods;
      ++runs;
    }
    if (runs == 0) continue;
    using cluster::Sample;
    t.add({p, std::to_string(seeds), pct(mean_at(r, p, 100, &Sample::unallocated_pct), "%"),
           pct(stddev_at(r, p, 100, &Sample::unallocated_pct)),
           pct(mean_at(r, p, 100, &Sample::frag_gpus)),
           pct(mean_at(r, p, 100, &Sample::frag_rate_pct), "%"),
           last >= 0 ? pct(mean_at(r, p, last, &Sample::unallocated_pct), "%") + " @" +
                           std::to_string(last) + "%"
                     : "-",
           pct(failed / runs), pct(ns / pods / 1000)});
  }
  t.print();
  std::printf(
      "\nUNALLOC@100%%: GPU capacity not allocated when the arrived requests reach 100%% of it "
      "(mean over seeds).\n");
}

bool write_file(Context& ctx, const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!(out << text)) {
    report(ctx, Error(ErrorCode::kIo, "cannot write " + path));
    return false;
  }
  return true;
}

void run_sim(Context& ctx, const SimArgs& a) {
  auto seeds = parse_seeds(a.seeds);
  if (!seeds) return report(ctx, seeds.error());
  auto policies = parse_policies(a.policy);
  if (!policies) return report(ctx, policies.error());
  if (!(a.inflate > 0 && a.inflate <= 10)) {
    return report(ctx, Error(ErrorCode::kInvalidArgument, "--inflate must be in (0, 10]"));
  }
  auto nodes = cluster::load_nodes(a.nodes);
  if (!nodes) return report(ctx, nodes.error());
  auto pods = cluster::load_pods(a.pods);
  if (!pods) return report(ctx, pods.error());

  cluster::SimOptions opt;
  opt.policies = *policies;
  opt.seeds = *seeds;
  opt.inflate = a.inflate;
  opt.time_ordered = a.time_ordered;
  opt.threads = a.threads;
  opt.ties = a.uniform_ties ? cluster::TieBreak::kUniform : cluster::TieBreak::kFirstInRandomOrder;
  const bool tty = ::isatty(STDERR_FILENO);
  const int total = static_cast<int>(opt.policies.size() * opt.seeds.size());
  if (tty && total > 1) {
    opt.progress = [](int done, int n) {
      std::fprintf(stderr, "\rsimulating: %d/%d runs", done, n);
      if (done == n) std::fprintf(stderr, "\r\033[K");
    };
  }
  auto r = cluster::simulate(*nodes, *pods, opt);
  if (!r) return report(ctx, r.error());
  if (!a.csv.empty() && !write_file(ctx, a.csv, cluster::to_csv(*r))) return;
  if (!a.svg.empty()) {
    std::string title = a.pods.substr(a.pods.find_last_of('/') + 1) + ", mean of " +
                        std::to_string(opt.seeds.size()) + " seed(s)";
    if (!write_file(ctx, a.svg, cluster::to_svg(*r, title))) return;
  }
  if (ctx.json) {
    std::printf("%s\n", cluster::to_json(*r).c_str());
  } else {
    print_table(*r, opt.policies, opt.seeds.size());
  }
}

}  // namespace

void add_sim_commands(Command& app, Context& ctx) {
  auto args = std::make_shared<SimArgs>();
  Command sim = app.add(
      "sim",
      "Replay a GPU cluster trace through placement policies (FGD paper protocol); no daemon");
  sim.option("--nodes", args->nodes, "Node list CSV (sn,cpu_milli,memory_mib,gpu,model)")
      .required();
  sim.option("--pods", args->pods,
             "Pod list CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...])")
      .required();
  sim.option("--policy", args->policy,
             "fgd, fgd-pack, bestfit, packing, clustering, dotprod, random; a comma list; "
             "or all")
      .show_default();
  sim.option("--seeds", args->seeds, "Seeds: N, FROM..TO or a comma list (default 42)");
  sim.option("--inflate", args->inflate,
             "Append trace copies until GPU requests reach this x capacity (default 1.3)");
  sim.flag("--time-ordered", args->time_ordered,
           "Replay creation and deletion times instead of the shuffled protocol");
  sim.flag("--uniform-ties", args->uniform_ties,
           "Break score ties uniformly at random per pod (stock kube-scheduler) instead of "
           "by a per-run node order (the paper's simulator)");
  sim.option("--threads", args->threads, "Worker threads (default 2)").range(1, 256);
  sim.option("--csv", args->csv, "Write every recorded point of every run to this CSV");
  sim.option("--svg", args->svg,
             "Write a plot of unallocated GPU % against arrived workload to this SVG");
  sim.action([&ctx, args] { run_sim(ctx, *args); });
}

}  // namespace aion::cli
