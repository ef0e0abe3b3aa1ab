#include "aion/hw/vendor_library.h"

#include <dlfcn.h>

#include <cstdlib>

namespace aion::hw {

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
