// A stand-in for the librocm_smi64.so of Hygon's driver package (/opt/hyhal/lib) that exports
// the ROCm SMI functions aion calls, with the signatures of the rocm_smi.h Hygon ships, and
// answers from a JSON description named by AION_FAKE_HYHAL_SMI. Loaded by aion through the
// same dlopen path as the real library.
//
// JSON: {"init_error": 0, "driver": "6.3.13-V1.5.0", "dcus": [{"pci": "0000:41:00.0",
//   "partition": 0, "name": "K100_AI", "unique_id": 1234, "vram": 68719476736}]}
#include <cstdint>
#include <cstdio>
#include <string>

#include "fake_library.h"

namespace {

using aion::fake::Json;
constexpr int kSuccess = 0, kInvalidArgs = 1, kNotSupported = 2, kInsufficientSize = 8,
              kInitError = 9;

Json g_doc;
bool g_init = false;

const Json* dcu(std::uint32_t i) {
  if (!g_init || i >= g_doc["dcus"].size()) return nullptr;
  return &g_doc["dcus"][i];
}

}  // namespace

extern "C" {

int rsmi_init(std::uint64_t /*flags*/) {
  g_doc = aion::fake::load_description("AION_FAKE_HYHAL_SMI");
  if (!g_doc.is_object()) return kInitError;
  if (!g_doc.contains("dcus")) g_doc["dcus"] = Json::array();
  int err = g_doc.value("init_error", 0);
  g_init = err == 0;
  return err;
}

int rsmi_shut_down() {
  g_init = false;
  return kSuccess;
}

int rsmi_num_monitor_devices(std::uint32_t* count) {
  if (!g_init) return kInitError;
  if (!count) return kInvalidArgs;
  *count = static_cast<std::uint32_t>(g_doc["dcus"].size());
  return kSuccess;
}

// The BDF id of rocm_smi.h, with the partition number in bits 31:28.
int rsmi_dev_pci_id_get(std::uint32_t i, std::uint64_t* bdfid) {
  const Json* d = dcu(i);
  if (!d || !bdfid) return kInvalidArgs;
  unsigned dom = 0, bus = 0, dev = 0, fn = 0;
  std::sscanf(d->value("pci", "").c_str(), "%x:%x:%x.%x", &dom, &bus, &dev, &fn);
  const std::uint64_t partition = d->value("partition", 0u) & 0xf;
  *bdfid = (std::uint64_t{dom} << 32) | (partition << 28) | ((bus & 0xff) << 8) |
           ((dev & 0x1f) << 3) | (fn & 0x7);
  return kSuccess;
}

int rsmi_dev_name_get(std::uint32_t i, char* name, std::size_t len) {
  const Json* d = dcu(i);
  if (!d) return kInvalidArgs;
  return aion::fake::put_text(name, len, d->value("name", "")) ? kSuccess : kInsufficientSize;
}

int rsmi_dev_unique_id_get(std::uint32_t i, std::uint64_t* id) {
  const Json* d = dcu(i);
  if (!d || !id) return kInvalidArgs;
  if (!d->contains("unique_id")) return kNotSupported;
  *id = (*d)["unique_id"].get<std::uint64_t>();
  return kSuccess;
}

int rsmi_dev_memory_total_get(std::uint32_t i, int type, std::uint64_t* total) {
  const Json* d = dcu(i);
  if (!d || !total) return kInvalidArgs;
  if (type != 0) return kNotSupported;  // RSMI_MEM_TYPE_VRAM only
  *total = d->value("vram", std::uint64_t{0});
  return kSuccess;
}

int rsmi_version_str_get(int component, char* text, std::uint32_t len) {
  if (!g_init) return kInitError;
  if (component != 0) return kInvalidArgs;  // RSMI_SW_COMP_DRIVER
  return aion::fake::put_text(text, len, g_doc.value("driver", "")) ? kSuccess : kInsufficientSize;
}

}  // extern "C"
