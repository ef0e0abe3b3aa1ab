// The device plugin end to end over gRPC, with the test playing the kubelet: a Registration
// server on a temporary kubelet.sock receives Register, then the test dials the plugin's
// socket as the kubelet does. The machine is the generated DGX A100 with the fake NVML (8 x
// A100 on one NVSwitch fabric, two GPUs per NUMA node).
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "aion/core/json.h"
#include "aion/hw/topology.h"
#include "aion/k8s/device_plugin.h"
#include "deviceplugin_v1beta1.grpc.pb.h"
#include "k8s_fixture.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::k8s {
namespace {

namespace fs = std::filesystem;

// The plugin polls these files: never let it see one half written.
void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  std::ofstream(tmp) << text;
  fs::rename(tmp, path);
}

class FakeKubelet final : public v1beta1::Registration::Service {
 public:
  grpc::Status Register(grpc::ServerContext*, const v1beta1::RegisterRequest* req,
                        v1beta1::Empty*) override {
    std::lock_guard lock(mu_);
    requests_.push_back(*req);
    cv_.notify_all();
    return grpc::Status::OK;
  }
  std::vector<v1beta1::RegisterRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Waits until `n` registrations arrived.
  bool wait_for(std::size_t n, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1beta1::RegisterRequest> requests_;
};

class DevicePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The fixture's sysfs stays where it is (copying 2,000 files is slow on a busy disk); the
    // fake NVML's description is copied so that a GPU can be lost, and /dev nodes for
    // Allocate live in a root of their own.
    fs::copy_file(testing::fixture("dgx-a100") + "/nvml.json", nvml_path());
    fs::create_directories(dir_ / "devroot/dev");
    for (const char* n : {"nvidiactl", "nvidia-uvm"}) std::ofstream(dir_ / "devroot/dev" / n) << "";
    fs::create_directories(dir_ / "plugins");
    grpc::ServerBuilder b;
    b.AddListeningPort("unix://" + (dir_ / "plugins/kubelet.sock").string(),
                       grpc::InsecureServerCredentials());
    b.RegisterService(&kubelet_);
    kubelet_server_ = b.BuildAndStart();
    ASSERT_TRUE(kubelet_server_);
  }
  void TearDown() override {
    plugin_.reset();
    if (kubelet_server_) kubelet_server_->Shutdown();
  }

  PluginOptions options() {
    PluginOptions o;
    o.plugin_dir = dir_ / "plugins";
    o.health_marker = dir_ / "state/health/unhealthy";
    o.host = HostFs(dir_ / "devroot");
    o.poll_interval = std::chrono::milliseconds(100);
    o.discover = discover();
    return o;
  }
  // The environment is set once, here on the test's thread: the plugin's poll thread only
  // reads it (setenv racing getenv is not safe).
  std::function<hw::Inventory()> discover() {
    ::unsetenv("AION_NVML_LIBRARY");
    ::setenv("AION_FAKE_NVML", nvml_path().c_str(), 1);
    const std::string root = testing::fixture("dgx-a100") + "/root";
    return [root] {
      hw::DiscoveryOptions o;
      o.nvml_library = FAKE_NVML_PATH;
      return hw::discover(HostFs(root), o);
    };
  }
  std::string nvml_path() const { return (dir_ / "nvml.json").string(); }

  std::unique_ptr<v1beta1::DevicePlugin::Stub> dial() {
    auto ch = grpc::CreateChannel("unix://" + plugin_->socket_path().string(),
                                  grpc::InsecureChannelCredentials());
    return v1beta1::DevicePlugin::NewStub(ch);
  }
  static void deadline(grpc::ClientContext& ctx, int seconds = 30) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  }

  ::aion::testing::TempDir tmp_{"k8s-dp"};
  fs::path dir_ = tmp_.path();
  FakeKubelet kubelet_;
  std::unique_ptr<grpc::Server> kubelet_server_;
  std::unique_ptr<DevicePlugin> plugin_;
};

TEST_F(DevicePluginTest, RegistersServesDevicesAndAnswersAsTheKubeletExpects) {
  // Discovery is not thread-safe (hwloc): read the topology before the plugin polls.
  const hw::Topology topo = hw::build_topology(discover()());
  auto p = DevicePlugin::start(options());
  ASSERT_TRUE(p) << p.error().message();
  plugin_ = std::move(*p);
  ASSERT_TRUE(plugin_->register_with_kubelet());

  auto regs = kubelet_.requests();
  ASSERT_EQ(regs.size(), 1u);
  EXPECT_EQ(regs[0].version(), "v1beta1");
  EXPECT_EQ(regs[0].endpoint(), "aion-gpu.sock");
  EXPECT_EQ(regs[0].resource_name(), "nvidia.com/gpu");
  EXPECT_TRUE(regs[0].options().get_preferred_allocation_available());
  EXPECT_TRUE(fs::exists(dir_ / "plugins" / regs[0].endpoint()));

  auto stub = dial();
  {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1beta1::DevicePluginOptions opts;
    ASSERT_TRUE(stub->GetDevicePluginOptions(&ctx, v1beta1::Empty(), &opts).ok());
    EXPECT_TRUE(opts.get_preferred_allocation_available());
    EXPECT_FALSE(opts.pre_start_required());
  }

  // ListAndWatch: eight healthy GPUs with their NUMA node; then GPU 5 falls off the bus.
  grpc::ClientContext watch_ctx;
  deadline(watch_ctx, 60);
  auto reader = stub->ListAndWatch(&watch_ctx, v1beta1::Empty());
  v1beta1::ListAndWatchResponse first;
  ASSERT_TRUE(reader->Read(&first));
  ASSERT_EQ(first.devices_size(), 8);
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    const auto& d = first.devices(i);
    ids.push_back(d.id());
    EXPECT_EQ(d.health(), "Healthy") << d.id();
    ASSERT_EQ(d.topology().nodes_size(), 1);
    EXPECT_EQ(d.topology().nodes(0).id(), i / 2);
  }
  EXPECT_EQ(ids[5], "GPU-a100a100-0000-0000-0000-000000000005");

  Json nvml;
  std::ifstream(nvml_path()) >> nvml;
  nvml["gpus"][5]["lost"] = true;
  write_atomically(nvml_path(), nvml.dump());
  v1beta1::ListAndWatchResponse update;
  ASSERT_TRUE(reader->Read(&update));
  ASSERT_EQ(update.devices_size(), 8);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(update.devices(i).id(), ids[i]);
    EXPECT_EQ(update.devices(i).health(), i == 5 ? "Unhealthy" : "Healthy") << i;
  }

  // aiond's health marker naming GPU 2 by its PCI address: one more update.
  fs::create_directories(dir_ / "state/health");
  write_atomically(dir_ / "state/health/unhealthy", "incident 4: GPU 0000:43:00.0 Xid 48\n");
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.devices(2).health(), "Unhealthy");
  EXPECT_EQ(update.devices(5).health(), "Unhealthy");
  EXPECT_EQ(update.devices(3).health(), "Healthy");

  // GetPreferredAllocation: 2 of the 8 -> an NVLink-connected pair on one NUMA node; 4 -> two
  // whole NUMA pairs; both in one call, as the kubelet sends one entry per container.
  {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1beta1::PreferredAllocationRequest req;
    for (int size : {2, 4}) {
      auto* c = req.add_container_requests();
      for (const auto& id : ids) c->add_available_device_ids(id);
      c->set_allocation_size(size);
    }
    v1beta1::PreferredAllocationResponse resp;
    ASSERT_TRUE(stub->GetPreferredAllocation(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.container_responses_size(), 2);
    auto index = [&](const std::string& id) {
      return static_cast<int>(std::find(ids.begin(), ids.end(), id) - ids.begin());
    };
    const auto& pair = resp.container_responses(0);
    ASSERT_EQ(pair.device_ids_size(), 2);
    const int a = index(pair.device_ids(0)), b = index(pair.device_ids(1));
    EXPECT_EQ(topo.levels[a][b], hw::LinkLevel::kNvlink);
    EXPECT_EQ(topo.devices[a].numa_node, topo.devices[b].numa_node);
    const auto& four = resp.container_responses(1);
    ASSERT_EQ(four.device_ids_size(), 4);
    std::map<int, int> per_numa;
    for (const auto& id : four.device_ids()) ++per_numa[topo.devices[index(id)].numa_node];
    EXPECT_EQ(per_numa.size(), 2u);
    for (auto [numa, n] : per_numa) EXPECT_EQ(n, 2) << "NUMA " << numa;
  }

  // Allocate: the container sees exactly its GPUs.
  {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1beta1::AllocateRequest req;
    auto* c = req.add_container_requests();
    c->add_devices_ids(ids[0]);
    c->add_devices_ids(ids[1]);
    v1beta1::AllocateResponse resp;
    ASSERT_TRUE(stub->Allocate(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.container_responses_size(), 1);
    const auto& r = resp.container_responses(0);
    EXPECT_EQ(r.envs().at("NVIDIA_VISIBLE_DEVICES"), ids[0] + "," + ids[1]);
    EXPECT_EQ(r.envs().at("CUDA_VISIBLE_DEVICES"), ids[0] + "," + ids[1]);
    std::set<std::string> devs;
    for (const auto& d : r.devices()) devs.insert(d.host_path());
    EXPECT_EQ(devs, (std::set<std::string>{"/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl",
                                           "/dev/nvidia-uvm"}));
  }
  {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1beta1::AllocateRequest req;
    req.add_container_requests()->add_devices_ids("GPU-not-here");
    v1beta1::AllocateResponse resp;
    EXPECT_EQ(stub->Allocate(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1beta1::PreStartContainerResponse resp;
    EXPECT_TRUE(stub->PreStartContainer(&ctx, v1beta1::PreStartContainerRequest(), &resp).ok());
  }

  // Stopping ends the stream and removes the socket.
  const fs::path sock = plugin_->socket_path();
  plugin_->stop();
  v1beta1::ListAndWatchResponse after;
  while (reader->Read(&after)) {
  }
  EXPECT_FALSE(fs::exists(sock));
}

TEST_F(DevicePluginTest, RegistrationFailsClearlyWithoutAKubelet) {
  kubelet_server_->Shutdown();
  kubelet_server_.reset();
  auto p = DevicePlugin::start(options());
  ASSERT_TRUE(p) << p.error().message();
  plugin_ = std::move(*p);
  auto st = plugin_->register_with_kubelet(std::chrono::milliseconds(300));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("kubelet"), std::string::npos) << st.error().message();
}

TEST_F(DevicePluginTest, SocketRemovedByAKubeletRestartIsNoticed) {
  auto p = DevicePlugin::start(options());
  ASSERT_TRUE(p) << p.error().message();
  plugin_ = std::move(*p);
  EXPECT_TRUE(plugin_->socket_present());
  fs::remove(plugin_->socket_path());
  EXPECT_FALSE(plugin_->socket_present());
}

// `aion k8s device-plugin` as a DaemonSet runs it: it execs aion-k8s-device-plugin, which
// registers with the kubelet, serves the devices and stops cleanly on SIGTERM.
TEST_F(DevicePluginTest, CliRegistersServesAndStopsOnSigterm) {
  const std::string log = (dir_ / "plugin.log").string();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("AION_NVML_LIBRARY=" + std::string(FAKE_NVML_PATH));
  env_strings.push_back("AION_FAKE_NVML=" + nvml_path());
  std::vector<std::string> args = {::aion::testing::bin_path("aion").string(),
                                   "--host-root",
                                   testing::fixture("dgx-a100") + "/root",
                                   "k8s",
                                   "device-plugin",
                                   "--plugin-dir",
                                   (dir_ / "plugins").string(),
                                   "--state-dir",
                                   (dir_ / "state").string(),
                                   "--poll-ms",
                                   "100"};
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  auto log_text = [&] {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  ASSERT_TRUE(kubelet_.wait_for(1, std::chrono::seconds(30))) << log_text();
  EXPECT_EQ(kubelet_.requests()[0].resource_name(), "nvidia.com/gpu");

  auto ch = grpc::CreateChannel("unix://" + (dir_ / "plugins/aion-gpu.sock").string(),
                                grpc::InsecureChannelCredentials());
  auto stub = v1beta1::DevicePlugin::NewStub(ch);
  {
    grpc::ClientContext ctx;
    deadline(ctx);
    auto reader = stub->ListAndWatch(&ctx, v1beta1::Empty());
    v1beta1::ListAndWatchResponse first;
    ASSERT_TRUE(reader->Read(&first)) << log_text();
    EXPECT_EQ(first.devices_size(), 8);
    ctx.TryCancel();
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << log_text();
  EXPECT_FALSE(fs::exists(dir_ / "plugins/aion-gpu.sock"));
}

}  // namespace
}  // namespace aion::k8s
