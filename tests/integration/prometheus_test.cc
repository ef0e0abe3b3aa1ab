// A real Prometheus (Debian's `prometheus` package) scrapes aiond's /metrics on 127.0.0.1
// without a token, and its HTTP API then returns our series with the right labels and values.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "aion/api/client.h"
#include "aion/api/http.h"
#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/sockets.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kPrometheus = "/usr/bin/prometheus";

using aion::testing::free_port;

TEST(PrometheusTest, ARealPrometheusScrapesOurSeriesWithTheirLabelsAndValues) {
  if (!fs::exists(kPrometheus)) {
    GTEST_SKIP() << kPrometheus << " is missing: install Debian's prometheus package "
                 << "(scripts/setup.sh does)";
  }
  DaemonHarness h;
  h.write_config(
      "[api.tcp]\nenabled = true\nlisten = \"127.0.0.1:0\"\n"
      "[telemetry]\nhost_interval_s = 1\nmetrics_public = true\n"
      "[[simulate.gpu]]\nmodel = \"A100-SXM4-80GB\"\npci_address = \"0000:07:00.0\"\n");
  auto st = h.start();
  ASSERT_TRUE(st) << st.error().message() << h.log();
  auto c = h.client();
  ASSERT_TRUE(c);
  auto status = c->get("/v1/status");
  ASSERT_TRUE(status);
  std::string target;
  const Json st_json = Json::parse(status->body);
  for (const auto& l : st_json["listeners"]) {
    if (l["kind"] == "tcp") target = l["address"];
  }
  ASSERT_FALSE(target.empty()) << status->body;

  // Prometheus, scraping every second, with its own data directory.
  fs::path dir = h.dir() / "prometheus";
  fs::create_directories(dir / "data");
  std::ofstream(dir / "prometheus.yml")
      << "global:\n  scrape_interval: 1s\n"
      << "scrape_configs:\n  - job_name: aion\n"
      << "    static_configs:\n      - targets: ['" << target << "']\n";
  const std::string web = "127.0.0.1:" + std::to_string(free_port());
  std::string log = (dir / "prometheus.log").string();
  pid_t prom = ::fork();
  if (prom == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::string cfg = "--config.file=" + (dir / "prometheus.yml").string();
    std::string data = "--storage.tsdb.path=" + (dir / "data").string();
    std::string listen = "--web.listen-address=" + web;
    ::execl(kPrometheus, kPrometheus, cfg.c_str(), data.c_str(), listen.c_str(), nullptr);
    ::_exit(127);
  }
  ASSERT_GT(prom, 0);
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{prom};

  auto ask = [&](const std::string& promql) -> Json {
    auto p = api::Client::connect_tcp(web, "");
    if (!p) return Json();
    auto r = p->get("/api/v1/query?query=" + api::url_encode(promql));
    if (!r || r->status != 200) return Json();
    return Json::parse(r->body, nullptr, false);
  };
  // Wait for the target to be up and our GPU series to arrive (scrapes every second).
  Json gpu;
  auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until) {
    gpu = ask("aion_gpu_memory_total_bytes");
    if (gpu.is_object() && gpu["data"]["result"].size() > 0) break;
    std::this_thread::sleep_for(500ms);
  }
  std::string prom_log;
  std::getline(std::ifstream(log), prom_log, '\0');
  ASSERT_TRUE(gpu.is_object() && gpu["data"]["result"].size() == 1)
      << gpu.dump() << "\nprometheus log:\n"
      << prom_log << "\naiond log:\n"
      << h.log();

  Json up = ask("up{job=\"aion\"}");
  ASSERT_EQ(up["data"]["result"].size(), 1u) << up.dump();
  EXPECT_EQ(up["data"]["result"][0]["value"][1], "1");

  const Json& s = gpu["data"]["result"][0];
  EXPECT_EQ(s["metric"]["gpu"], "0");
  EXPECT_EQ(s["metric"]["pci"], "0000:07:00.0");
  EXPECT_EQ(s["metric"]["model"], "A100-SXM4-80GB");
  EXPECT_EQ(s["metric"]["simulated"], "true");
  EXPECT_EQ(s["value"][1], "85899345920");  // 80 GiB, exactly

  // A host value we can read ourselves: total memory from /proc/meminfo.
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  long long kb = 0;
  meminfo >> key >> kb;
  ASSERT_EQ(key, "MemTotal:");
  Json mem = ask("aion_memory_bytes{kind=\"total\"}");
  ASSERT_EQ(mem["data"]["result"].size(), 1u) << mem.dump();
  EXPECT_EQ(mem["data"]["result"][0]["value"][1], std::to_string(kb * 1024));

  // Counters arrive as counters: rate() over them works.
  Json cpu = ask("sum(rate(aion_cpu_seconds_total[5s]))");
  EXPECT_EQ(cpu["status"], "success") << cpu.dump();
}

}  // namespace
}  // namespace aion::testing
