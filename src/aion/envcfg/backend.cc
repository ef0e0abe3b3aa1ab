#include "aion/envcfg/backend.h"

namespace aion::envcfg {

std::string_view to_string(Backend b) {
  switch (b) {
    case Backend::kCuda: return "cuda";
    case Backend::kRocm: return "rocm";
    case Backend::kNpu: return "npu";
    case Backend::kOpenVino: return "openvino";
    case Backend::kCpu: return "cpu";
  }
  return "cpu";
}

std::optional<Backend> parse_backend(std::string_view word) {
  for (Backend b :
       {Backend::kCuda, Backend::kRocm, Backend::kNpu, Backend::kOpenVino, Backend::kCpu}) {
    if (word == to_string(b)) return b;
  }
  return std::nullopt;
}

std::string_view backend_words() {
  return "cuda, rocm, cpu, openvino, npu";
}

std::string_view gpu_vendor(Backend b) {
  switch (b) {
    case Backend::kCuda: return "nvidia";
    case Backend::kRocm: return "amd";
    case Backend::kNpu: return "huawei";
    case Backend::kOpenVino:
    case Backend::kCpu: return "";
  }
  return "";
}

bool has_runtime(Backend b) {
  return b == Backend::kCuda || b == Backend::kRocm || b == Backend::kNpu;
}

}  // namespace aion::envcfg
