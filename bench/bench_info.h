// What every benchmark records beside its figures: the build and the CPU it ran on; and the
// one way a benchmark writes its JSON. Thread-safe (write_results writes only its own file).
#pragma once

#include <cstdio>
#include <fstream>
#include <string>

#include "aion/core/json.h"

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

// Writes `results` to `file` and says so; false (said on stderr, naming `program`) when the
// file cannot be written.
inline bool write_results(const Json& results, const std::string& file, const char* program) {
  std::ofstream out(file);
  out << results.dump(2) << "\n";
  if (!out) {
    std::fprintf(stderr, "%s: cannot write %s\n", program, file.c_str());
    return false;
  }
  std::printf("wrote %s\n", file.c_str());
  return true;
}

}  // namespace aion::bench
