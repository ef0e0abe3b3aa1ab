// A vendor's management library (DCMI, CNDev, ...) opened with dlopen for the length of one
// query, so that aion builds and runs on machines without it; the handle closes with the
// object. Functions are bound by name, and the required ones that are missing are collected
// so that one error can name them all. Not thread-safe: one query at a time per object.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::hw {

// At most this many devices are read from one library (a bound on what a broken or hostile
// library can make aion allocate).
inline constexpr unsigned kMaxLibraryDevices = 128;

// The text in a fixed buffer of `cap` bytes, up to its first NUL (the buffer need not hold one).
std::string fixed_text(const char* buf, std::size_t cap);

// A PCI address as the kernel writes it, "0000:1b:00.0": from its numbers, or from a library's
// text ("00000000:1B:00.0", "0000:1b:00.0" or "1b:00.0", read up to the buffer's end); "" for
// text that is not a PCI address.
std::string pci_address_text(unsigned domain, unsigned bus, unsigned device, unsigned function);
std::string pci_address_text(const char* text, std::size_t cap);

// The text a library call writes into a buffer of `size` bytes: `call(buffer, size)` returns
// 0 on success. `fallback` when the call fails (or is absent and returns non-zero).
template <typename Call>
std::string library_text(Call call, unsigned size, std::string fallback = {}) {
  std::string buf(size, '\0');
  if (call(buf.data(), size) != 0) return fallback;
  std::string text = fixed_text(buf.data(), size);
  return text.empty() ? fallback : text;
}

// Runs `shutdown` when the scope ends: a library's shutdown call after a query, on every path.
template <typename Fn>
struct LibraryShutdown {
  Fn shutdown;
  ~LibraryShutdown() { shutdown(); }
};
template <typename Fn>
LibraryShutdown(Fn) -> LibraryShutdown<Fn>;

// The library file a reader loads: the one the environment variable `env` names when it is
// set and not empty (the tests point it at a fake), else `fallback`.
std::string library_path_from(const char* env, std::string_view fallback);

class VendorLibrary {
 public:
  // Opens the first of `paths` that loads. kUnavailable, with the loader's message for the
  // first path, when none does; `what` names the library in it ("DCMI").
  static Result<VendorLibrary> open(std::string_view what, const std::vector<std::string>& paths);

  VendorLibrary(VendorLibrary&& other) noexcept;
  VendorLibrary& operator=(VendorLibrary&&) = delete;
  VendorLibrary(const VendorLibrary&) = delete;
  VendorLibrary& operator=(const VendorLibrary&) = delete;
  ~VendorLibrary();

  // Sets `fn` to the library's function `name`, or to null when it has none; a required one
  // that is missing is remembered for check_bound().
  template <typename Fn>
  void bind(Fn*& fn, const char* name, bool required = true) {
    fn = reinterpret_cast<Fn*>(symbol(name));
    if (!fn && required) missing_ += (missing_.empty() ? "" : ", ") + std::string(name);
  }
  // kUnsupported naming every required function bind() did not find (a driver older than
  // the functions aion reads); ok when all were found.
  Status check_bound() const;

 private:
  VendorLibrary(void* handle, std::string what, std::string path)
      : handle_(handle), what_(std::move(what)), path_(std::move(path)) {}
  void* symbol(const char* name) const;

  void* handle_ = nullptr;
  std::string what_;
  std::string path_;
  std::string missing_;
};

}  // namespace aion::hw
