// A stand-in for Cambricon's libcndev.so that exports the CNDev functions aion calls, with the
// signatures and structure layouts of Cambricon's cndev.h (API version 6), and answers from a
// JSON description named by AION_FAKE_CNDEV. Loaded by aion through the same dlopen path as
// the real library.
//
// JSON: {"init_error": 0, "devices": [{"pci": "0000:83:00.0", "name": "MLU370-X8",
//   "memory_mb": 49152, "uuid": "...", "cores": 8, "driver": [5, 10, 22], "health": 1}]}
// A structure whose version is not 6 gets CNDEV_ERROR_UNSUPPORTED_API_VERSION, as the real
// library answers a caller built against another header.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

using Json = nlohmann::json;
constexpr int kOk = 0, kUnsupportedVersion = 3, kUninitialized = 4, kInvalidArgument = 5,
              kInvalidDevice = 6;
constexpr std::int32_t kVersion = 6;

Json g_doc;
bool g_init = false;

const Json* device(std::int32_t handle) {
  if (!g_init || !g_doc.contains("devices")) return nullptr;
  const Json& list = g_doc["devices"];
  if (handle < 0 || handle >= static_cast<std::int32_t>(list.size())) return nullptr;
  return &list[static_cast<std::size_t>(handle)];
}

}  // namespace

extern "C" {

struct cndevCardInfo_t {
  std::int32_t version;
  std::uint32_t number;
};
struct cndevPCIeInfoV2_t {
  std::uint32_t subsystemId, deviceId;
  std::uint16_t vendor, subsystemVendor;
  std::uint32_t domain, bus, device, function;
  std::uint16_t moduleId, slotId;
  std::uint32_t reserved[8];
};
struct cndevMemoryInfoV2_t {
  std::int64_t physicalMemoryTotal, physicalMemoryUsed, reservedMemory, virtualMemoryTotal,
      virtualMemoryUsed;
  std::uint64_t globalMemory;
  std::uint64_t reserved[16];
};
struct cndevUUID_t {
  std::int32_t version;
  std::uint8_t uuid[37];
  std::uint64_t ncsUUID64;
};
struct cndevVersionInfo_t {
  std::int32_t version;
  std::uint32_t mcuMajorVersion, mcuMinorVersion, mcuBuildVersion, driverMajorVersion,
      driverMinorVersion, driverBuildVersion;
};
struct cndevCardCoreCount_t {
  std::int32_t version, count;
};
struct cndevCardHealthState_t {
  std::int32_t version, health, deviceState, driverState;
};

int cndevInit(std::int32_t) {
  const char* path = std::getenv("AION_FAKE_CNDEV");
  if (!path) return 1;  // CNDEV_ERROR_NO_DRIVER
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  g_doc = Json::parse(ss.str(), nullptr, false);
  if (!g_doc.is_object()) return 1;
  int err = g_doc.value("init_error", 0);
  g_init = err == 0;
  return err;
}

int cndevRelease() {
  g_init = false;
  return kOk;
}

int cndevGetDeviceCount(cndevCardInfo_t* info) {
  if (!g_init) return kUninitialized;
  if (!info) return kInvalidArgument;
  if (info->version != kVersion) return kUnsupportedVersion;
  info->number = static_cast<std::uint32_t>(g_doc.value("devices", Json::array()).size());
  return kOk;
}

int cndevGetDeviceHandleByIndex(std::int32_t index, std::int32_t* handle) {
  if (!g_init) return kUninitialized;
  if (!handle) return kInvalidArgument;
  if (!device(index)) return kInvalidDevice;
  *handle = index;
  return kOk;
}

int cndevGetPCIeInfoV2(cndevPCIeInfoV2_t* p, std::int32_t h) {
  const Json* d = device(h);
  if (!d || !p) return kInvalidDevice;
  std::memset(p, 0, sizeof(*p));
  unsigned dom = 0, bus = 0, dev = 0, fn = 0;
  std::sscanf(d->value("pci", "").c_str(), "%x:%x:%x.%x", &dom, &bus, &dev, &fn);
  p->vendor = 0xcabc;
  p->domain = dom;
  p->bus = bus;
  p->device = dev;
  p->function = fn;
  p->slotId = 0xffff;
  return kOk;
}

int cndevGetMemoryUsageV2(cndevMemoryInfoV2_t* m, std::int32_t h) {
  const Json* d = device(h);
  if (!d || !m) return kInvalidDevice;
  std::memset(m, 0, sizeof(*m));
  m->physicalMemoryTotal = d->value("memory_mb", 0);
  return kOk;
}

const char* cndevGetCardNameStringByDevId(std::int32_t h) {
  // One name per device, kept for the library's life as the real one keeps its strings. Not
  // thread_local: dynamic TLS of a library that is unloaded later crashes LeakSanitizer's
  // scan at exit.
  static std::map<std::int32_t, std::string> names;
  const Json* d = device(h);
  return names.insert_or_assign(h, d ? d->value("name", "Unknown") : "Unknown")
      .first->second.c_str();
}

int cndevGetUUID(cndevUUID_t* u, std::int32_t h) {
  const Json* d = device(h);
  if (!d || !u) return kInvalidDevice;
  if (u->version != kVersion) return kUnsupportedVersion;
  std::memset(u->uuid, 0, sizeof(u->uuid));
  const std::string id = d->value("uuid", "");
  // The real library fills all 37 bytes without a NUL when the text is that long.
  std::memcpy(u->uuid, id.data(), std::min(id.size(), sizeof(u->uuid)));
  return kOk;
}

int cndevGetVersionInfo(cndevVersionInfo_t* v, std::int32_t h) {
  const Json* d = device(h);
  if (!d || !v) return kInvalidDevice;
  if (v->version != kVersion) return kUnsupportedVersion;
  Json ver = d->value("driver", Json::array({0, 0, 0}));
  v->driverMajorVersion = ver.at(0).get<std::uint32_t>();
  v->driverMinorVersion = ver.at(1).get<std::uint32_t>();
  v->driverBuildVersion = ver.at(2).get<std::uint32_t>();
  return kOk;
}

int cndevGetCoreCount(cndevCardCoreCount_t* c, std::int32_t h) {
  const Json* d = device(h);
  if (!d || !c) return kInvalidDevice;
  if (c->version != kVersion) return kUnsupportedVersion;
  c->count = d->value("cores", 0);
  return kOk;
}

int cndevGetCardHealthState(cndevCardHealthState_t* s, std::int32_t h) {
  const Json* d = device(h);
  if (!d || !s) return kInvalidDevice;
  if (s->version != kVersion) return kUnsupportedVersion;
  s->health = d->value("health", 1);
  s->deviceState = s->health;
  s->driverState = s->health ? 4 : 8;  // running / unknown
  return kOk;
}

}  // extern "C"
