// aion top: a live view of the node from aiond's metrics: host CPU, memory and load, every
// GPU (utilisation, memory, temperature, power), and the running jobs with their CPU and
// memory, redrawn in place every --interval seconds until Ctrl-C. --once prints one frame
// (CPU rates need two samples, so it waits one interval first).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "aion/core/json.h"
#include "cli.h"
#include "daemon_client.h"
#include "table.h"

namespace aion::cli {
namespace {

struct Series {
  std::string name;
  Json labels;
  double value = 0;
  long long t_ms = 0;  // when aiond took the sample
};

// A counter's previous sample and the last rate computed from it.
struct Prev {
  long long t_ms = 0;
  double value = 0;
  double rate = -1;
};

// name -> series, from GET /v1/metrics.
std::multimap<std::string, Series> fetch(Context& ctx, api::Client& client) {
  std::multimap<std::string, Series> out;
  auto body = call(ctx, client, "GET", "/v1/metrics");
  if (!body) return out;
  Json j = Json::parse(*body, nullptr, false);
  for (const auto& s : j.value("series", Json::array())) {
    if (!s.contains("value")) continue;
    out.emplace(s.value("name", ""), Series{s.value("name", ""), s.value("labels", Json::object()),
                                            s["value"], s.value("t_ms", 0LL)});
  }
  return out;
}

std::string label(const Series& s, const char* key) {
  return s.labels.is_object() ? s.labels.value(key, "") : "";
}

std::string bytes(double v) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string fmt(const char* f, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// One frame. Rates of counters come from the sample times aiond recorded: a series not
// sampled again since the last frame keeps its last rate.
std::string render(const std::multimap<std::string, Series>& m, std::map<std::string, Prev>& prev) {
  std::string out;
  auto rate = [&](const std::string& key, const Series& s) -> double {
    Prev& p = prev[key];
    if (p.t_ms != 0 && s.t_ms > p.t_ms && s.value >= p.value) {
      p.rate = (s.value - p.value) * 1000.0 / static_cast<double>(s.t_ms - p.t_ms);
    }
    if (s.t_ms != p.t_ms) {
      p.t_ms = s.t_ms;
      p.value = s.value;
    }
    return p.rate;
  };
  // Host: busy share of all CPUs from aion_cpu_seconds_total.
  double busy = 0, all = 0;
  bool rates = true;
  auto [cb, ce] = m.equal_range("aion_cpu_seconds_total");
  for (auto it = cb; it != ce; ++it) {
    double r =
        rate("cpu/" + label(it->second, "cpu") + "/" + label(it->second, "mode"), it->second);
    if (r < 0) {
      rates = false;
      continue;
    }
    all += r;
    const std::string mode = label(it->second, "mode");
    if (mode != "idle" && mode != "iowait") busy += r;
  }
  double total = 0, avail = 0, load1 = -1;
  auto [mb, me] = m.equal_range("aion_memory_bytes");
  for (auto it = mb; it != me; ++it) {
    if (label(it->second, "kind") == "total") total = it->second.value;
    if (label(it->second, "kind") == "available") avail = it->second.value;
  }
  if (auto it = m.find("aion_load1"); it != m.end()) load1 = it->second.value;
  std::time_t now = std::time(nullptr);
  char when[16];
  std::strftime(when, sizeof when, "%H:%M:%S", std::localtime(&now));
  out += std::string("aion top  ") + when + "   CPU " +
         (rates && all > 0 ? fmt("%.0f%%", 100 * busy / all) : std::string("-")) + "   memory " +
         (total > 0 ? bytes(total - avail) + " / " + bytes(total) : std::string("-")) + "   load " +
         (load1 >= 0 ? fmt("%.2f", load1) : std::string("-")) + "\n\n";

  // GPUs, by index.
  std::map<int, std::map<std::string, double>> gpus;
  std::map<int, std::string> model;
  for (const char* n :
       {"aion_gpu_utilization_ratio", "aion_gpu_memory_used_bytes", "aion_gpu_memory_total_bytes",
        "aion_gpu_temperature_celsius", "aion_gpu_power_watts"}) {
    auto [b, e] = m.equal_range(n);
    for (auto it = b; it != e; ++it) {
      int idx = std::atoi(label(it->second, "gpu").c_str());
      gpus[idx][n] = it->second.value;
      model[idx] = label(it->second, "model") +
                   (label(it->second, "simulated") == "true" ? " [simulated]" : "");
    }
  }
  Table g({"GPU", "MODEL", "UTIL", "MEMORY", "TEMP", "POWER"});
  for (const auto& [idx, v] : gpus) {
    auto get = [&](const char* k) { return v.contains(k) ? v.at(k) : -1.0; };
    g.add({std::to_string(idx), model[idx],
           get("aion_gpu_utilization_ratio") >= 0
               ? fmt("%.0f%%", 100 * get("aion_gpu_utilization_ratio"))
               : "-",
           get("aion_gpu_memory_used_bytes") >= 0
               ? bytes(get("aion_gpu_memory_used_bytes")) + " / " +
                     bytes(get("aion_gpu_memory_total_bytes"))
               : "-",
           get("aion_gpu_temperature_celsius") >= 0
               ? fmt("%.0f C", get("aion_gpu_temperature_celsius"))
               : "-",
           get("aion_gpu_power_watts") >= 0 ? fmt("%.0f W", get("aion_gpu_power_watts")) : "-"});
  }
  // Table prints to a FILE; render into a memory stream.
  auto print = [&](const Table& t) {
    char* buf = nullptr;
    std::size_t len = 0;
    FILE* f = ::open_memstream(&buf, &len);
    t.print(f);
    std::fclose(f);
    out.append(buf, len);
    std::free(buf);
  };
  if (g.empty()) {
    out += "no GPUs\n";
  } else {
    print(g);
  }
  out += "\n";

  // Jobs.
  Table jt({"JOB", "NAME", "USER", "CPU", "MEMORY", "GPUS"});
  auto [jb, je] = m.equal_range("aion_job_cpu_seconds_total");
  int jobs = 0;
  for (auto it = jb; it != je; ++it) {
    const std::string id = label(it->second, "job");
    double r = rate("job/" + id, it->second);
    double mem = -1, ngpu = 0;
    auto [b, e] = m.equal_range("aion_job_memory_bytes");
    for (auto k = b; k != e; ++k) {
      if (label(k->second, "job") == id) mem = k->second.value;
    }
    auto [gb, ge] = m.equal_range("aion_job_gpus");
    for (auto k = gb; k != ge; ++k) {
      if (label(k->second, "job") == id) ngpu = k->second.value;
    }
    jt.add({id, label(it->second, "name"), label(it->second, "user"),
            r >= 0 ? fmt("%.0f%%", 100 * r) : "-", mem >= 0 ? bytes(mem) : "-", fmt("%.0f", ngpu)});
    ++jobs;
  }
  if (jobs == 0) {
    out += "no running jobs (with a cgroup)\n";
  } else {
    print(jt);
  }
  return out;
}

}  // namespace

void add_top_command(CLI::App& app, Context& ctx) {
  struct Args {
    double interval = 2;
    bool once = false;
  };
  auto args = std::make_shared<Args>();
  auto* top = app.add_subcommand(
      "top", "Live view of host, GPUs and running jobs from aiond's metrics (Ctrl-C to stop)");
  top->add_option("-n,--interval", args->interval, "Seconds between refreshes (default 2)")
      ->check(CLI::Range(0.2, 3600.0));
  top->add_flag("--once", args->once, "Print one frame and exit (for scripts)");
  top->callback([&ctx, args] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    std::map<std::string, Prev> prev;
    const bool tty = ::isatty(STDOUT_FILENO) && !args->once;
    // The first sample only primes the counters for rates.
    (void)render(fetch(ctx, *client), prev);
    if (ctx.exit_code != kExitOk) return;
    while (true) {
      std::this_thread::sleep_for(std::chrono::duration<double>(args->interval));
      auto m = fetch(ctx, *client);
      if (ctx.exit_code != kExitOk) return;
      std::string frame = render(m, prev);
      if (tty) std::fputs("\x1b[H\x1b[2J", stdout);  // home, clear: redraw in place
      std::fputs(frame.c_str(), stdout);
      std::fflush(stdout);
      if (args->once) return;
    }
  });
}

}  // namespace aion::cli
