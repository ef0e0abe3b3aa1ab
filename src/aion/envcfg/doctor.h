// The environment doctor: recognises common AI-environment failures in a log (driver too old
// for the runtime, no kernel image for the GPU, missing cuDNN/cudart, NVML mismatch, ...)
// from the signatures in data/envcfg/doctor.toml, and explains each with this machine's facts
// (driver, the CUDA it runs, GPUs and their architectures) filled into the signature's cause
// and fix. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"

namespace aion::envcfg {

struct DoctorFinding {
  std::string id;
  std::string title;
  int line = 0;  // the first matching line, 1-based
  std::string excerpt;
  int matches = 0;  // matching lines
  std::string cause;
  std::string fix;
  std::string source;
  bool diagnosis = false;  // the first finding in signature order; the others are symptoms
};

struct DoctorReport {
  std::size_t lines = 0;
  std::vector<DoctorFinding> findings;  // in the tables' order: root causes first
};

DoctorReport diagnose(std::string_view log, const Knowledge& kb, const Machine& m);

std::string doctor_to_json(const DoctorReport& r, int indent = 2);

}  // namespace aion::envcfg
