// The Prometheus text format as Prometheus parses it, and the collectors on fixture trees.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include <gtest/gtest.h>

#include "aion/hw/discovery.h"
#include "aion/telemetry/exposition.h"
#include "aion/telemetry/gpu_collector.h"
#include "aion/telemetry/host_collector.h"
#include "support/fixtures.h"
#include "support/golden.h"
#include "support/temp_dir.h"

namespace aion::telemetry {
namespace {

namespace fs = std::filesystem;

TEST(ExpositionTest, HelpTypeEscapingAndOneFamilyPerName) {
  std::vector<MetricFamily> f;
  f.push_back({"aion_b_total", "Counts \\ things\nover lines", MetricType::kCounter, {}});
  f.back().add({{"path", "C:\\dir \"q\"\nnext"}}, 3);
  f.push_back({"aion_a", "A gauge", MetricType::kGauge, {}});
  f.back().add({{"z", "1"}, {"a", "2"}}, 0.5).add({}, std::numeric_limits<double>::quiet_NaN());
  // The same name again from another collector: merged into the first family.
  f.push_back({"aion_b_total", "ignored", MetricType::kGauge, {}});
  f.back().add({{"path", "/x"}}, 1e21);
  f.push_back({"aion_c", "infinities", MetricType::kGauge, {}});
  f.back()
      .add({{"s", "+"}}, std::numeric_limits<double>::infinity())
      .add({{"s", "-"}}, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(render_exposition(f),
            "# HELP aion_a A gauge\n"
            "# TYPE aion_a gauge\n"
            "aion_a NaN\n"
            "aion_a{a=\"2\",z=\"1\"} 0.5\n"
            "# HELP aion_b_total Counts \\\\ things\\nover lines\n"
            "# TYPE aion_b_total counter\n"
            "aion_b_total{path=\"/x\"} 1e+21\n"
            "aion_b_total{path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 3\n"
            "# HELP aion_c infinities\n"
            "# TYPE aion_c gauge\n"
            "aion_c{s=\"+\"} +Inf\n"
            "aion_c{s=\"-\"} -Inf\n");
}

TEST(ExpositionTest, NamesAndValues) {
  EXPECT_TRUE(valid_metric_name("aion_gpu_power_watts"));
  EXPECT_TRUE(valid_metric_name("job:rate5m"));
  EXPECT_FALSE(valid_metric_name("9lives"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(-0.0), "-0");
  EXPECT_EQ(format_value(85899345920.0), "85899345920");
  EXPECT_EQ(series_key("m", {{"b", "2"}, {"a", "x\"y"}}), "m{a=\"x\\\"y\",b=\"2\"}");
  EXPECT_EQ(series_key("m", {}), "m");
}

// Every family name follows Prometheus conventions: counters end in _total, no name twice.
void expect_conventions(const std::vector<MetricFamily>& families) {
  for (const auto& f : families) {
    EXPECT_TRUE(valid_metric_name(f.name)) << f.name;
    EXPECT_EQ(f.name.ends_with("_total"), f.type == MetricType::kCounter) << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    for (const auto& s : f.samples) {
      for (const auto& [k, v] : s.labels) EXPECT_TRUE(valid_label_name(k)) << f.name << " " << k;
    }
  }
}

TEST(ExpositionTest, ParsesWhatItRendersAndPointsAtErrors) {
  std::vector<MetricFamily> fams = {
      {"job_loss", "h", MetricType::kGauge, {{{{"run", "a\"b\\c\nd"}, {"gpu", "0"}}, 0.25}}},
      {"steps_total", "h", MetricType::kCounter, {{{}, 12345}}},
      {"odd", "h", MetricType::kGauge, {{{{"x", "1"}}, std::nan("")}, {{{"x", "2"}}, -1e300}}}};
  auto parsed = parse_exposition(render_exposition(fams));
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 4u);
  EXPECT_EQ((*parsed)[0].name, "job_loss");
  EXPECT_EQ((*parsed)[0].labels[1], (std::pair<std::string, std::string>{"run", "a\"b\\c\nd"}));
  EXPECT_EQ((*parsed)[0].value, 0.25);
  EXPECT_TRUE(std::isnan((*parsed)[1].value));
  EXPECT_EQ((*parsed)[2].value, -1e300);
  EXPECT_EQ((*parsed)[3].value, 12345);
  EXPECT_FALSE((*parsed)[3].t_ms);

  auto ts = parse_exposition("# comment\n\n  m{a=\"1\"} 2.5 1700000000123\r\nn +Inf\n");
  ASSERT_TRUE(ts) << ts.error().message();
  ASSERT_EQ(ts->size(), 2u);
  EXPECT_EQ((*ts)[0].t_ms, 1700000000123);
  EXPECT_TRUE(std::isinf((*ts)[1].value));

  for (auto [text, where] : {std::pair{"m 1\nm{a=\"1\" 2\n", "line 2"},
                             std::pair{"9m 1\n", "line 1, column 1: expected a metric name"},
                             std::pair{"m abc\n", "column 3: expected a number"},
                             std::pair{"m 1 12x\n", "expected a timestamp"},
                             std::pair{"m{a=\"1\",a=\"2\"} 1\n", "appears twice"},
                             std::pair{"m{a=\"1} 1\n", "not closed"}}) {
    auto r = parse_exposition(text);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().message().find(where), std::string::npos) << r.error().message();
  }
}

class HostCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    put("proc/stat",
        "cpu  100 0 50 1000 10 0 5 2 0 0\n"
        "cpu0 60 0 30 500 4 0 3 1 0 0\n"
        "cpu1 40 0 20 500 6 0 2 1 0 0\n"
        "ctxt 12345\nprocs_running 3\nprocs_blocked 1\n");
    put("proc/loadavg", "0.50 0.40 0.30 2/300 4242\n");
    put("proc/meminfo",
        "MemTotal:       16384 kB\nMemFree:         1024 kB\nMemAvailable:    8192 kB\n"
        "HugePages_Total:      4\nHugePages_Free:       3\nHugepagesize:       2048 kB\n");
    put("proc/pressure/memory",
        "some avg10=1.50 avg60=0.00 avg300=0.00 total=2500000\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n");
    put("proc/diskstats",
        "   8       0 sda 100 0 2048 50 200 0 4096 80 0 1500 130 0 0 0 0\n"
        "   8       1 sda1 10 0 20 5 20 0 40 8 0 15 13 0 0 0 0\n"
        "   7       0 loop0 1 0 2 0 0 0 0 0 0 0 0 0 0 0 0\n");
    fs::create_directories(root_ / "sys/block/sda");
    fs::create_directories(root_ / "sys/block/loop0");
    put("proc/net/dev",
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
        "errs drop fifo colls carrier compressed\n"
        "    lo: 999 9 0 0 0 0 0 0 999 9 0 0 0 0 0 0\n"
        "  eth0: 1000 10 1 2 0 0 0 0 2000 20 3 4 0 0 0 0\n");
    put("sys/class/infiniband/mlx5_0/ports/1/counters/port_rcv_data", "250\n");
    put("sys/class/infiniband/mlx5_0/ports/1/counters/port_xmit_data", "500\n");
    put("sys/class/infiniband/mlx5_0/ports/1/counters/symbol_error", "7\n");
    // The HCA's PCI function, linked as sysfs does; eth0 has none (virtual).
    fs::create_directories(root_ / "sys/devices/pci0000:c0/0000:c0:01.1/0000:c1:00.0");
    fs::create_symlink("../../../devices/pci0000:c0/0000:c0:01.1/0000:c1:00.0",
                       root_ / "sys/class/infiniband/mlx5_0/device");
  }
  void put(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  double value(const std::vector<MetricFamily>& fams, const std::string& name,
               const Labels& labels) {
    for (const auto& f : fams) {
      if (f.name != name) continue;
      for (const auto& s : f.samples) {
        if (series_key(name, s.labels) == series_key(name, labels)) return s.value;
      }
    }
    ADD_FAILURE() << "no " << series_key(name, labels);
    return std::nan("");
  }
  ::aion::testing::TempDir tmp_{"host"};
  fs::path root_ = tmp_.path();
};

TEST_F(HostCollectorTest, ReadsEverySourceOfAHandWrittenTree) {
  auto fams = HostCollector(HostFs(root_)).collect();
  expect_conventions(fams);
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  EXPECT_DOUBLE_EQ(value(fams, "aion_cpu_seconds_total", {{"cpu", "0"}, {"mode", "user"}}),
                   60 / hz);
  EXPECT_DOUBLE_EQ(value(fams, "aion_cpu_seconds_total", {{"cpu", "1"}, {"mode", "iowait"}}),
                   6 / hz);
  EXPECT_DOUBLE_EQ(value(fams, "aion_cpu_seconds_total", {{"cpu", "1"}, {"mode", "steal"}}),
                   1 / hz);
  EXPECT_EQ(value(fams, "aion_procs_blocked", {}), 1);
  EXPECT_EQ(value(fams, "aion_load5", {}), 0.4);
  EXPECT_EQ(value(fams, "aion_memory_bytes", {{"kind", "available"}}), 8192.0 * 1024);
  EXPECT_EQ(value(fams, "aion_hugepages", {{"state", "free"}}), 3);
  EXPECT_EQ(value(fams, "aion_hugepage_size_bytes", {}), 2048.0 * 1024);
  EXPECT_EQ(value(fams, "aion_pressure_stalled_seconds_total",
                  {{"kind", "some"}, {"resource", "memory"}}),
            2.5);
  EXPECT_EQ(value(fams, "aion_pressure_avg10_ratio", {{"kind", "some"}, {"resource", "memory"}}),
            0.015);
  EXPECT_EQ(value(fams, "aion_disk_read_bytes_total", {{"device", "sda"}}), 2048.0 * 512);
  EXPECT_EQ(value(fams, "aion_disk_io_time_seconds_total", {{"device", "sda"}}), 1.5);
  EXPECT_EQ(value(fams, "aion_network_transmit_bytes_total", {{"device", "eth0"}}), 2000);
  EXPECT_EQ(
      value(fams, "aion_network_drops_total", {{"device", "eth0"}, {"direction", "transmit"}}), 4);
  // RDMA series carry the HCA's PCI address, which the kernel's mlx5_core lines name.
  EXPECT_EQ(value(fams, "aion_infiniband_receive_bytes_total",
                  {{"device", "mlx5_0"}, {"pci", "0000:c1:00.0"}, {"port", "1"}}),
            1000);
  EXPECT_EQ(value(fams, "aion_infiniband_errors_total",
                  {{"counter", "symbol_error"},
                   {"device", "mlx5_0"},
                   {"pci", "0000:c1:00.0"},
                   {"port", "1"}}),
            7);
  // Partitions, loop devices and lo are left out.
  std::string text = render_exposition(fams);
  EXPECT_EQ(text.find("sda1"), std::string::npos);
  EXPECT_EQ(text.find("loop0"), std::string::npos);
  EXPECT_EQ(text.find("\"lo\""), std::string::npos);
}

// The /metrics text of the host collector on this tree, as Prometheus would scrape it.
TEST_F(HostCollectorTest, ExpositionMatchesItsGoldenFile) {
  EXPECT_GOLDEN("metrics/host.prom", render_exposition(HostCollector(HostFs(root_)).collect()));
}

TEST_F(HostCollectorTest, MissingSourcesAreSkippedNotFatal) {
  fs::remove_all(root_ / "proc/pressure");
  fs::remove(root_ / "proc/diskstats");
  auto fams = HostCollector(HostFs(root_)).collect();
  for (const auto& f : fams) {
    EXPECT_EQ(f.name.find("pressure"), std::string::npos);
    EXPECT_EQ(f.name.find("disk"), std::string::npos);
  }
  EXPECT_FALSE(fams.empty());
  EXPECT_TRUE(HostCollector(HostFs(root_ / "nothing")).collect().empty());
}

TEST(SimulatedGpuTest, PlausibleAndReproducibleSeries) {
  hw::Accelerator a;
  a.index = 0;
  a.vendor = "nvidia";
  a.model = "A100-SXM4-80GB";
  a.pci.address = "0000:07:00.0";
  a.memory_bytes = 80ULL << 30;
  a.simulated = true;
  SimulatedGpuCollector one({a}), two({a});
  for (int i = 0; i < 500; ++i) {
    auto f1 = one.collect();
    auto f2 = two.collect();
    expect_conventions(f1);
    ASSERT_EQ(render_exposition(f1), render_exposition(f2));
    for (const auto& f : f1) {
      for (const auto& s : f.samples) {
        ASSERT_TRUE(std::isfinite(s.value)) << f.name;
        if (f.name == "aion_gpu_utilization_ratio") {
          ASSERT_TRUE(s.value >= 0 && s.value <= 1);
        } else if (f.name == "aion_gpu_temperature_celsius") {
          ASSERT_TRUE(s.value > 10 && s.value < 110);
        } else if (f.name == "aion_gpu_memory_used_bytes") {
          ASSERT_LE(s.value, 80.0 * (1ULL << 30));
        }
      }
    }
  }
}

// AMD GPUs on the generated MI250X-like tree: what amdgpu's sysfs and hwmon files say, in
// our units, for the one busy GCD, and no made-up readings for files that are absent.
TEST(AmdGpuTest, ReadsAmdgpuSysfsAndHwmon) {
  HostFs fs(::aion::testing::hw_fixture_root("mi250x"));
  auto inv = hw::discover(fs, {.nvml_library = "/nonexistent", .use_hwloc = false});
  std::vector<hw::Accelerator> amd;
  for (const auto& a : inv.accelerators) {
    if (a.vendor == "amd") amd.push_back(a);
  }
  ASSERT_EQ(amd.size(), 8u);
  AmdGpuCollector c(fs, amd);
  auto fams = c.collect();
  expect_conventions(fams);
  auto find = [&](const std::string& name, const std::string& pci,
                  const std::string& extra = "") -> std::optional<double> {
    for (const auto& f : fams) {
      if (f.name != name) continue;
      for (const auto& s : f.samples) {
        const std::string key = series_key(name, s.labels);
        if (key.find("pci=\"" + pci + "\"") != std::string::npos &&
            (extra.empty() || key.find(extra) != std::string::npos)) {
          return s.value;
        }
      }
    }
    return std::nullopt;
  };
  // The first GCD in PCI order is card0: busy, hot, with RAS errors.
  const std::string busy = "0000:03:00.0", idle = "0000:09:00.0";
  EXPECT_EQ(find("aion_gpu_utilization_ratio", busy), 0.93);
  EXPECT_EQ(find("aion_gpu_memory_utilization_ratio", busy), 0.31);
  EXPECT_EQ(find("aion_gpu_memory_used_bytes", busy), 48.0 * (1ULL << 30));
  EXPECT_EQ(find("aion_gpu_memory_total_bytes", busy), 64.0 * (1ULL << 30));
  EXPECT_EQ(find("aion_gpu_temperature_celsius", busy), 71);
  EXPECT_EQ(find("aion_gpu_sensor_temperature_celsius", busy, "sensor=\"junction\""), 98);
  EXPECT_EQ(find("aion_gpu_power_watts", busy), 498);
  EXPECT_EQ(find("aion_gpu_power_limit_watts", busy), 560);
  EXPECT_EQ(find("aion_gpu_sm_clock_hertz", busy), 1.7e9);
  EXPECT_EQ(find("aion_gpu_memory_clock_hertz", busy), 1.6e9);
  EXPECT_EQ(find("aion_gpu_ecc_errors_total", busy, "type=\"uncorrected\""), 1);
  EXPECT_EQ(find("aion_gpu_ecc_errors_total", busy, "type=\"corrected\""), 12);
  EXPECT_EQ(find("aion_gpu_pcie_replays_total", busy), 4);
  EXPECT_EQ(find("aion_gpu_utilization_ratio", idle), 0);
  EXPECT_EQ(find("aion_gpu_temperature_celsius", idle), 38);
  // The second GCD of a package reports no power of its own: no series, not a zero.
  EXPECT_EQ(find("aion_gpu_power_watts", idle), std::nullopt);
}

// NVMe: the composite temperature from the controller's hwmon on a generated tree, and the
// SMART log page decoded field by field from a page laid out as the NVMe spec says.
TEST(NvmeTest, HwmonTemperatureAndSmartLogFields) {
  HostFs fs(::aion::testing::hw_fixture_root("workstation"));
  auto fams = HostCollector(fs).collect();
  bool found = false;
  for (const auto& f : fams) {
    if (f.name != "aion_nvme_temperature_celsius") continue;
    ASSERT_EQ(f.samples.size(), 1u);
    EXPECT_EQ(f.samples[0].value, 44.85);
    EXPECT_EQ(f.samples[0].labels[0], (std::pair<std::string, std::string>{"device", "nvme0"}));
    found = true;
  }
  EXPECT_TRUE(found);
  // Not live: no SMART series from a fixture tree.
  EXPECT_EQ(render_exposition(fams).find("aion_nvme_media_errors_total"), std::string::npos);

  std::vector<std::uint8_t> page(512, 0);
  page[0] = 0x04;                      // reliability degraded
  page[1] = 0x3c, page[2] = 0x01;      // 316 K
  page[3] = 97;                        // spare %
  page[5] = 12;                        // used %
  page[32] = 0x10, page[33] = 0x27;    // 10000 data units read
  page[48] = 0x01, page[55] = 0x01;    // 2^56 + 1 units written
  page[128] = 0xe8, page[129] = 0x03;  // 1000 hours
  page[144] = 7;                       // unsafe shutdowns
  page[160] = 2;                       // media errors
  page[176] = 0x00, page[177] = 0x01;  // 256 error log entries
  auto s = parse_nvme_smart_log(page);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->critical_warning, 4);
  EXPECT_NEAR(s->temperature_c, 42.85, 1e-9);
  EXPECT_DOUBLE_EQ(s->available_spare, 0.97);
  EXPECT_DOUBLE_EQ(s->percentage_used, 0.12);
  EXPECT_EQ(s->data_read_bytes, 10000.0 * 512000);
  EXPECT_EQ(s->data_written_bytes, (std::ldexp(1.0, 56) + 1) * 512000);
  EXPECT_EQ(s->power_on_hours, 1000);
  EXPECT_EQ(s->unsafe_shutdowns, 7);
  EXPECT_EQ(s->media_errors, 2);
  EXPECT_EQ(s->error_log_entries, 256);
  EXPECT_FALSE(parse_nvme_smart_log(std::span(page).first(511)));
}

// /metrics text of the AMD GPU collector on the generated MI250X-like tree.
TEST(ExpositionGoldenTest, AmdGpusOnTheMi250xTree) {
  HostFs fs(::aion::testing::hw_fixture_root("mi250x"));
  auto inv = hw::discover(fs, {.nvml_library = "/nonexistent", .use_hwloc = false});
  std::vector<hw::Accelerator> amd;
  for (const auto& a : inv.accelerators) {
    if (a.vendor == "amd") amd.push_back(a);
  }
  EXPECT_GOLDEN("metrics/amdgpu-mi250x.prom",
                render_exposition(AmdGpuCollector(fs, amd).collect()));
}

// Job series with the labels that name a person: left out by default, kept when asked for.
TEST(ExpositionGoldenTest, IdentityLabelsOnlyWhenAskedFor) {
  std::vector<MetricFamily> f;
  f.push_back({"aion_job_cpu_seconds_total", "CPU time of a job", MetricType::kCounter, {}});
  f.back()
      .add({{"job", "12"}, {"user", "dchen"}, {"job_name", "train-llm"}}, 3600.5)
      .add({{"job", "13"}, {"user", "ana"}, {"name", "eval"}}, 12);
  f.push_back(
      {"aion_job_gpu_memory_bytes", "GPU memory a job's processes hold", MetricType::kGauge, {}});
  f.back().add({{"job", "12"}, {"gpu", "0"}, {"user", "dchen"}}, 42949672960.0);
  EXPECT_GOLDEN("metrics/jobs.prom", render_exposition(f));
  EXPECT_GOLDEN("metrics/jobs-identity-labels.prom",
                render_exposition(f, {.identity_labels = true}));
}

}  // namespace
}  // namespace aion::telemetry
