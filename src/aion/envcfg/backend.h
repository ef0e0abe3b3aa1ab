// Backend: what a framework build runs on, as the knowledge tables, requests and plans name
// it ("cuda", "rocm", "npu" for Ascend CANN, "openvino", "cpu"). Words are parsed once, where
// a table or a request is read; to_string() gives the same word back for output. Pure
// functions; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace aion::envcfg {

enum class Backend { kCuda, kRocm, kNpu, kOpenVino, kCpu };

// The table word: "cuda", "rocm", "npu", "openvino", "cpu".
std::string_view to_string(Backend b);
// The backend a table word names; nullopt for any other text (case-sensitive).
std::optional<Backend> parse_backend(std::string_view word);
// The words parse_backend() accepts, for messages: "cuda, rocm, cpu, openvino, npu".
std::string_view backend_words();

// The accelerator vendor (hw's vendor names) whose devices a backend drives: "nvidia",
// "amd", "huawei"; "" for openvino and cpu.
std::string_view gpu_vendor(Backend b);
// Whether builds for the backend carry a runtime version (CUDA, ROCm or CANN).
bool has_runtime(Backend b);

}  // namespace aion::envcfg
