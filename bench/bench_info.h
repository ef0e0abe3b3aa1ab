// What every benchmark records beside its figures: the build and the CPU it ran on.
// Pure functions; thread-safe.
#pragma once

#include <fstream>
#include <string>

namespace aion::bench {

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

inline const char* build_kind() {
#ifdef NDEBUG
  return "release";
#else
  return "debug";
#endif
}

}  // namespace aion::bench
