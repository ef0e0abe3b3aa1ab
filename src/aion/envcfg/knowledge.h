// The environment knowledge base: the versioned tables in data/envcfg/*.toml (CUDA toolkits
// and compatibility rules, GPU architectures and models, ROCm releases, framework releases
// and their builds, container images, platforms, failure signatures), loaded and validated
// once. Every row keeps its public source so answers can cite it.
//
// load_knowledge() rejects a table with a wrong schema_version, a missing field or a bad
// regular expression with "file:line: what is wrong". A Knowledge is immutable after loading;
// thread-safe, share it freely between threads.
#pragma once

#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/envcfg/backend.h"
#include "aion/envcfg/version.h"

namespace aion::envcfg {

inline constexpr int kSchemaVersion = 1;

struct Toolkit {
  Version version;
  Version min_driver;              // full compatibility
  std::vector<std::string> archs;  // compute capabilities nvcc accepts: "3.7", "9.0"
  std::string source;
};

struct MinorCompat {
  int major = 0;
  Version min_driver;
  std::string source;
};

struct ForwardCompat {
  Version cuda_min, cuda_max;
  std::vector<Version> branches;  // the lowest supported release of each branch
  std::string source;
};

struct ArchInfo {
  std::string cc;  // "3.7"
  std::string name;
  std::string last_driver_branch;  // "470"; empty while still supported
  Version min_driver;  // the first driver that drives GPUs of this architecture; empty: unknown
  std::string source;
  std::string min_driver_source;
};

struct GpuModel {
  std::string vendor;  // "nvidia" | "amd"
  std::string match;   // case-insensitive substring of the model name
  std::string cc;      // NVIDIA
  std::string gfx;     // AMD
  bool datacenter = false;
  Version min_driver;  // the first driver for this model when later than its architecture's
  std::string source;
};

struct RocmRelease {
  Version version;
  std::vector<std::string> gfx;
  std::string source;
};

// An Ascend CANN release: the NPUs it supports and the NPU driver (Ascend HDK) it needs.
struct CannRelease {
  Version version;                // "8.0.0", "8.1.RC1"
  std::vector<std::string> npus;  // model substrings: "910B", "310P"
  Version min_driver;             // Ascend NPU driver; empty when not published
  std::string source;
};

struct OsInfo {
  std::string id;       // os-release ID
  std::string version;  // os-release VERSION_ID
  std::string python;
  std::string codename;   // "jammy", "bookworm": apt suites of vendor repositories
  std::string cuda_repo;  // NVIDIA's repository directory: "ubuntu2204"; "" when none
  std::string source;
};

// How a toolkit is installed on an OS family (platforms.toml [[install]]): command templates
// with placeholders ({version}, {major}, {minor}, {repo}, {codename}, {arch}, {machine},
// {branch}).
struct ToolkitInstall {
  std::string toolkit;          // "cuda" | "rocm" | "cann"
  std::vector<std::string> os;  // os-release IDs
  std::vector<std::string> commands;
  std::string after;    // what makes it usable in a shell
  std::string driver;   // the command that installs a driver branch; "" when none
  Version max_version;  // the newest release the commands install; empty: any
  std::string source;
};

// One build of a framework release.
struct Variant {
  std::string name;  // "cu121", "rocm6.2.4", "cpu"
  Backend kind = Backend::kCpu;
  Version runtime;  // CUDA, ROCm or CANN version; empty for cpu/openvino
  std::string cudnn;
  std::vector<std::string> archs;    // "sm_80" SASS, "compute_90" PTX
  std::string index;                 // wheel index URL
  std::vector<std::string> install;  // pip command lines (templates); the framework's if empty
  bool is_default = false;           // what plain `pip install` gets
};

struct Release {
  std::string framework;
  Version version;
  Version python_min, python_max;
  std::vector<std::string> companions;
  std::string requires_torch;  // vLLM/torch_npu: the torch version they are built against
  std::string source;
  std::string confidence;  // "" or "approximate"
  std::vector<Variant> variants;
};

struct Framework {
  std::string name;  // canonical: "torch"
  std::string display;
  std::vector<std::string> aliases;
  std::string package;                      // the pip distribution installed by default
  std::vector<std::string> other_packages;  // other distributions of it ("tensorflow-cpu")
  std::string min_cc;
  std::vector<std::string> install;
  std::string source;
};

// What a vendor publishes about its framework stack (frameworks.toml [[vendor_stack]]).
struct VendorStack {
  std::string vendor;  // hw's vendor name: "huawei", "hygon", "cambricon"
  std::string stack;
  std::string status;  // "published" | "partial" | "unpublished"
  std::string what;
  std::string source;
};

struct Image {
  std::string ref;
  Backend kind = Backend::kCpu;
  Version runtime;
  std::string cudnn;
  std::string os;      // "ubuntu:22.04"
  std::string python;  // "" when the image has none
  std::string contains;
  std::string source;
};

struct Access {
  Backend kind = Backend::kCpu;
  std::vector<std::string> run_args;
  std::string note;
  std::string source;
};

struct Signature {
  std::string id;
  std::string title;
  std::vector<std::string> patterns;
  std::vector<std::regex> regexes;
  int cuda_group = 0;  // capture group holding a CUDA version; 0: none
  std::string cause;
  std::string fix;
  std::string source;
};

// What one table file holds, for `aion env kb`.
struct TableInfo {
  std::string file;
  int schema_version = 0;
  std::string as_of;
  std::size_t rows = 0;
  std::string coverage;
  bool releases = true;  // lists vendors' releases, so it ages as they ship new ones
};

struct Knowledge {
  std::filesystem::path dir;
  std::vector<TableInfo> tables;
  std::vector<Toolkit> toolkits;  // ascending
  std::vector<MinorCompat> minor_compat;
  std::vector<ForwardCompat> forward_compat;
  std::vector<ArchInfo> archs;
  std::vector<GpuModel> gpus;
  std::vector<RocmRelease> rocm;  // ascending
  std::vector<CannRelease> cann;  // ascending
  std::vector<OsInfo> platforms;
  std::string python_default_cap;
  std::vector<ToolkitInstall> installs;
  std::vector<Framework> frameworks;
  std::vector<Release> releases;  // per framework, newest first
  std::vector<VendorStack> vendor_stacks;
  std::vector<Image> images;
  std::vector<Access> access;
  std::string uv_image;
  std::vector<Signature> signatures;  // root causes first

  // By canonical name or alias, case-insensitive; nullptr when unknown.
  const Framework* find_framework(std::string_view name) const;
  std::vector<const Release*> releases_of(std::string_view framework) const;
  // The toolkit row of a CUDA version (matching major.minor), nullptr when not in the table.
  const Toolkit* toolkit(const Version& cuda) const;
  const MinorCompat* minor(int major) const;
  const ArchInfo* arch(std::string_view cc) const;
  const RocmRelease* rocm_release(const Version& v) const;  // by major.minor
  const CannRelease* cann_release(const Version& v) const;  // by major.minor
  const GpuModel* gpu_model(std::string_view vendor, std::string_view model) const;
  const OsInfo* platform(std::string_view id, std::string_view version) const;
  const Access* access_for(Backend kind) const;
  // The install commands of a toolkit release on an OS family; nullptr when none.
  const ToolkitInstall* install_for(std::string_view toolkit, std::string_view os_id,
                                    const Version& release = {}) const;
  // The newest toolkit the driver runs with full compatibility, nullptr when none.
  const Toolkit* newest_toolkit_for(const Version& driver) const;
  // The oldest as_of date of the tables of releases ("2026-12-07"): what plans are current
  // to. doctor.toml (failure texts, not releases) keeps its own date.
  std::string as_of() const;
};

// How many months the tables may age before answers warn about it.
inline constexpr int kStaleMonths = 6;

// Today's date in UTC as "YYYY-MM-DD"; AION_TODAY (same form) overrides it, so answers can
// be reproduced.
std::string today_utc();

// A warning when the tables' date is more than kStaleMonths before `today` ("YYYY-MM-DD"):
// releases after it are unknown to aion. "" when current, or when a date does not parse.
std::string staleness_warning(const Knowledge& kb, std::string_view today);

// Loads every table from `dir` (data_dir()/envcfg at run time).
Result<Knowledge> load_knowledge(const std::filesystem::path& dir);

}  // namespace aion::envcfg
