// aion top: a live view of the node from aiond's metrics: host CPU, memory and load, every
// GPU (utilisation, memory, temperature, power), and the running jobs with their CPU and
// memory, redrawn in place every --interval seconds until Ctrl-C. --once prints one frame
// (CPU rates need two samples, so it waits one interval first). With --json each frame is one
// line of JSON (the same data as the tables; see frame_json()).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/clock.h"
#include "aion/core/json.h"
#include "cli.h"
#include "command.h"
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

// What one frame shows. A value not known (no sample, or no rate yet) is nullopt.
struct GpuRow {
  int index = 0;
  std::string model;
  bool simulated = false;
  std::optional<double> utilization_ratio;
  std::optional<double> memory_used_bytes;
  std::optional<double> memory_total_bytes;
  std::optional<double> temperature_celsius;
  std::optional<double> power_watts;
};

struct JobRow {
  std::string id;
  std::string name;
  std::string user;
  std::optional<double> cpu_ratio;  // CPUs busy (1.0 = one CPU)
  std::optional<double> memory_bytes;
  double gpus = 0;
};

struct Frame {
  Clock::Wall time;
  std::optional<double> cpu_busy_ratio;  // of all CPUs
  std::optional<double> memory_used_bytes;
  std::optional<double> memory_total_bytes;
  std::optional<double> load1;
  std::vector<GpuRow> gpus;  // by index
  std::vector<JobRow> jobs;  // running jobs with a cgroup
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

// Rates of counters from the sample times aiond recorded: a series not sampled again since
// the last frame keeps its last rate.
struct Rates {
  std::map<std::string, Prev>& prev;

  double operator()(const std::string& key, const Series& s) const {
    Prev& p = prev[key];
    if (p.t_ms != 0 && s.t_ms > p.t_ms && s.value >= p.value) {
      p.rate = (s.value - p.value) * 1000.0 / static_cast<double>(s.t_ms - p.t_ms);
    }
    if (s.t_ms != p.t_ms) {
      p.t_ms = s.t_ms;
      p.value = s.value;
    }
    return p.rate;
  }
};

// Host: busy share of all CPUs from aion_cpu_seconds_total, memory in use, load.
void host_into(const std::multimap<std::string, Series>& m, const Rates& rate, Frame& f) {
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
  if (rates && all > 0) f.cpu_busy_ratio = busy / all;
  double total = 0, avail = 0;
  auto [mb, me] = m.equal_range("aion_memory_bytes");
  for (auto it = mb; it != me; ++it) {
    if (label(it->second, "kind") == "total") total = it->second.value;
    if (label(it->second, "kind") == "available") avail = it->second.value;
  }
  if (total > 0) {
    f.memory_used_bytes = total - avail;
    f.memory_total_bytes = total;
  }
  if (auto it = m.find("aion_load1"); it != m.end() && it->second.value >= 0)
    f.load1 = it->second.value;
}

// GPUs, by index.
void gpus_into(const std::multimap<std::string, Series>& m, Frame& f) {
  std::map<int, GpuRow> gpus;
  const std::pair<const char*, std::optional<double> GpuRow::*> fields[] = {
      {"aion_gpu_utilization_ratio", &GpuRow::utilization_ratio},
      {"aion_gpu_memory_used_bytes", &GpuRow::memory_used_bytes},
      {"aion_gpu_memory_total_bytes", &GpuRow::memory_total_bytes},
      {"aion_gpu_temperature_celsius", &GpuRow::temperature_celsius},
      {"aion_gpu_power_watts", &GpuRow::power_watts}};
  for (const auto& [name, field] : fields) {
    auto [b, e] = m.equal_range(name);
    for (auto it = b; it != e; ++it) {
      int idx = std::atoi(label(it->second, "gpu").c_str());
      GpuRow& g = gpus[idx];
      g.index = idx;
      g.model = label(it->second, "model");
      g.simulated = label(it->second, "simulated") == "true";
      if (it->second.value >= 0) g.*field = it->second.value;
    }
  }
  for (auto& [idx, g] : gpus) f.gpus.push_back(std::move(g));
}

// Jobs: CPU rate, memory and GPUs.
void jobs_into(const std::multimap<std::string, Series>& m, const Rates& rate, Frame& f) {
  auto [jb, je] = m.equal_range("aion_job_cpu_seconds_total");
  for (auto it = jb; it != je; ++it) {
    JobRow j;
    j.id = label(it->second, "job");
    j.name = label(it->second, "name");
    j.user = label(it->second, "user");
    if (double r = rate("job/" + j.id, it->second); r >= 0) j.cpu_ratio = r;
    auto [b, e] = m.equal_range("aion_job_memory_bytes");
    for (auto k = b; k != e; ++k) {
      if (label(k->second, "job") == j.id && k->second.value >= 0) j.memory_bytes = k->second.value;
    }
    auto [gb, ge] = m.equal_range("aion_job_gpus");
    for (auto k = gb; k != ge; ++k) {
      if (label(k->second, "job") == j.id) j.gpus = k->second.value;
    }
    f.jobs.push_back(std::move(j));
  }
}

// One frame; `prev` carries the counters' last samples from frame to frame.
Frame make_frame(const std::multimap<std::string, Series>& m, std::map<std::string, Prev>& prev) {
  Frame f;
  f.time = Clock::system().wall();
  const Rates rate{prev};
  host_into(m, rate, f);
  gpus_into(m, f);
  jobs_into(m, rate, f);
  return f;
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

// `f` applied to the value, or "-" when it is not known.
std::string shown(const char* f, const std::optional<double>& v, double scale = 1) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, f, *v * scale);
  return buf;
}

std::string frame_text(const Frame& f) {
  std::time_t now = std::chrono::system_clock::to_time_t(f.time);
  char when[16];
  std::strftime(when, sizeof when, "%H:%M:%S", std::localtime(&now));
  std::string out =
      std::string("aion top  ") + when + "   CPU " + shown("%.0f%%", f.cpu_busy_ratio, 100) +
      "   memory " +
      (f.memory_total_bytes ? bytes(*f.memory_used_bytes) + " / " + bytes(*f.memory_total_bytes)
                            : std::string("-")) +
      "   load " + shown("%.2f", f.load1) + "\n\n";

  Table g({"GPU", "MODEL", "UTIL", "MEMORY", "TEMP", "POWER"});
  for (const auto& x : f.gpus) {
    g.add({std::to_string(x.index), x.model + (x.simulated ? " [simulated]" : ""),
           shown("%.0f%%", x.utilization_ratio, 100),
           x.memory_used_bytes ? bytes(*x.memory_used_bytes) + " / " +
                                     (x.memory_total_bytes ? bytes(*x.memory_total_bytes) : "-")
                               : "-",
           shown("%.0f C", x.temperature_celsius), shown("%.0f W", x.power_watts)});
  }
  out += g.empty() ? "no GPUs\n" : g.str();
  out += "\n";

  Table jt({"JOB", "NAME", "USER", "CPU", "MEMORY", "GPUS"});
  for (const auto& j : f.jobs) {
    jt.add({j.id, j.name, j.user, shown("%.0f%%", j.cpu_ratio, 100),
            j.memory_bytes ? bytes(*j.memory_bytes) : "-", shown("%.0f", j.gpus)});
  }
  out += jt.empty() ? "no running jobs (with a cgroup)\n" : jt.str();
  return out;
}

Json value_or_null(const std::optional<double>& v) {
  return v ? Json(*v) : Json();
}

// The frame as JSON: {"time", "cpu_busy_ratio", "memory_used_bytes", "memory_total_bytes",
// "load1", "gpus": [{"index", "model", "simulated", "utilization_ratio", "memory_used_bytes",
// "memory_total_bytes", "temperature_celsius", "power_watts"}], "jobs": [{"id", "name",
// "user", "cpu_ratio", "memory_bytes", "gpus"}]}; a value not known is null.
Json frame_json(const Frame& f) {
  Json gpus = Json::array();
  for (const auto& g : f.gpus) {
    gpus.push_back({{"index", g.index},
                    {"model", g.model},
                    {"simulated", g.simulated},
                    {"utilization_ratio", value_or_null(g.utilization_ratio)},
                    {"memory_used_bytes", value_or_null(g.memory_used_bytes)},
                    {"memory_total_bytes", value_or_null(g.memory_total_bytes)},
                    {"temperature_celsius", value_or_null(g.temperature_celsius)},
                    {"power_watts", value_or_null(g.power_watts)}});
  }
  Json jobs = Json::array();
  for (const auto& j : f.jobs) {
    jobs.push_back({{"id", j.id},
                    {"name", j.name},
                    {"user", j.user},
                    {"cpu_ratio", value_or_null(j.cpu_ratio)},
                    {"memory_bytes", value_or_null(j.memory_bytes)},
                    {"gpus", j.gpus}});
  }
  return {{"time", format_rfc3339(f.time)},
          {"cpu_busy_ratio", value_or_null(f.cpu_busy_ratio)},
          {"memory_used_bytes", value_or_null(f.memory_used_bytes)},
          {"memory_total_bytes", value_or_null(f.memory_total_bytes)},
          {"load1", value_or_null(f.load1)},
          {"gpus", std::move(gpus)},
          {"jobs", std::move(jobs)}};
}

}  // namespace

void add_top_command(Command& app, Context& ctx) {
  struct Args {
    double interval = 2;
    bool once = false;
  };
  auto args = std::make_shared<Args>();
  Command top = app.add(
      "top", "Live view of host, GPUs and running jobs from aiond's metrics (Ctrl-C to stop)");
  top.option("-n,--interval", args->interval, "Seconds between refreshes (default 2)")
      .range(0.2, 3600.0);
  top.flag("--once", args->once, "Print one frame and exit (for scripts)");
  top.action([&ctx, args] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    std::map<std::string, Prev> prev;
    // JSON frames are lines to append, never redrawn.
    const bool redraw = ::isatty(STDOUT_FILENO) && !args->once && !ctx.json;
    // The first sample only primes the counters for rates.
    (void)make_frame(fetch(ctx, *client), prev);
    if (ctx.exit_code != kExitOk) return;
    while (true) {
      std::this_thread::sleep_for(std::chrono::duration<double>(args->interval));
      auto m = fetch(ctx, *client);
      if (ctx.exit_code != kExitOk) return;
      const Frame frame = make_frame(m, prev);
      if (ctx.json) {
        std::printf("%s\n", frame_json(frame).dump().c_str());
      } else {
        if (redraw) std::fputs("\x1b[H\x1b[2J", stdout);  // home, clear: redraw in place
        std::fputs(frame_text(frame).c_str(), stdout);
      }
      std::fflush(stdout);
      if (args->once) return;
    }
  });
}

}  // namespace aion::cli
