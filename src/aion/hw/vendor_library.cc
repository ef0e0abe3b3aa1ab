#include "aion/hw/vendor_library.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace aion::hw {

std::string fixed_text(const char* buf, std::size_t cap) {
  return std::string(buf, std::find(buf, buf + cap, '\0'));
}

std::string pci_address_text(unsigned domain, unsigned bus, unsigned device, unsigned function) {
  if (bus > 0xff || device > 0x1f || function > 0x7) return {};
  char out[24];
  std::snprintf(out, sizeof out, "%04x:%02x:%02x.%x", domain, bus, device, function);
  return out;
}

std::string pci_address_text(const char* text, std::size_t cap) {
  const std::string s = fixed_text(text, cap);
  unsigned d = 0, b = 0, dev = 0, f = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%x:%x:%x.%x%c", &d, &b, &dev, &f, &tail) == 4)
    return pci_address_text(d, b, dev, f);
  if (std::sscanf(s.c_str(), "%x:%x.%x%c", &b, &dev, &f, &tail) == 3)
    return pci_address_text(0, b, dev, f);
  return {};
}

std::string library_path_from(const char* env, std::string_view fallback) {
  if (const char* v = std::getenv(env); v && *v) return v;
  return std::string(fallback);
}

Result<VendorLibrary> VendorLibrary::open(std::string_view what,
                                          const std::vector<std::string>& paths) {
  std::string first_error;
  for (const auto& path : paths) {
    if (void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL))
      return VendorLibrary(h, std::string(what), path);
    const char* err = ::dlerror();
    if (first_error.empty()) first_error = path + ": " + (err ? err : "not found");
  }
  return fail(ErrorCode::kUnavailable, std::string(what) + " not available (" +
                                           (first_error.empty() ? "no path" : first_error) + ")");
}

VendorLibrary::VendorLibrary(VendorLibrary&& other) noexcept
    : handle_(other.handle_),
      what_(std::move(other.what_)),
      path_(std::move(other.path_)),
      missing_(std::move(other.missing_)) {
  other.handle_ = nullptr;
}

VendorLibrary::~VendorLibrary() {
  if (handle_) ::dlclose(handle_);
}

Status VendorLibrary::check_bound() const {
  if (missing_.empty()) return {};
  return fail(ErrorCode::kUnsupported, what_ + " at " + path_ + " lacks " + missing_ +
                                           " (a driver older than this aion reads)");
}

void* VendorLibrary::symbol(const char* name) const {
  return handle_ ? ::dlsym(handle_, name) : nullptr;
}

}  // namespace aion::hw
