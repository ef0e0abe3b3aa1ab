// Shared pieces of the fake vendor libraries (fake_xpuml.cc, fake_ixml.cc, ...): each answers
// from a JSON description named by an environment variable, and writes text into the caller's
// buffers as the real libraries do. Header-only; each fake is its own shared library.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace aion::fake {

using Json = nlohmann::json;

// The JSON object the file named by `env` holds; a discarded (non-object) value when the
// variable is unset or the file is not JSON.
inline Json load_description(const char* env) {
  const char* path = std::getenv(env);
  if (!path) return Json(Json::value_t::discarded);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  Json doc = Json::parse(ss.str(), nullptr, false);
  return doc.is_object() ? doc : Json(Json::value_t::discarded);
}

// Copies `s` and its NUL into `out` of `size` bytes; false when it does not fit.
inline bool put_text(char* out, std::size_t size, const std::string& s) {
  if (!out || s.size() + 1 > size) return false;
  std::memcpy(out, s.c_str(), s.size() + 1);
  return true;
}

// A device handle for position i (never null) and back; -1 for a handle not made here.
inline void* handle_of(std::size_t i) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(i) + 1);
}
inline long position_of(const void* handle, std::size_t count) {
  auto v = reinterpret_cast<std::uintptr_t>(handle);
  return v == 0 || v > count ? -1 : static_cast<long>(v - 1);
}

}  // namespace aion::fake
