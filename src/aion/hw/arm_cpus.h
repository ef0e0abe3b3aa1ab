// ARM CPU names from the MIDR fields /proc/cpuinfo shows ("CPU implementer : 0x48",
// "CPU part : 0xd01"), read from data/hw/arm_cpus.toml. An ArmCpuTable is a value: const
// members only read, thread-safe; shipped_arm_cpu_table() loads the shipped file once (a
// function-local static) and is safe from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion {
class DataFile;
}

namespace aion::hw {

struct ArmPart {
  std::uint32_t implementer = 0;
  std::uint32_t part = 0;
  std::string name;  // "Kunpeng 920"
  std::string core;  // "TaiShan v110", "" when the core has no name of its own
};

class ArmCpuTable {
 public:
  static Result<ArmCpuTable> parse(std::string_view text, const std::string& source);
  static Result<ArmCpuTable> load(const std::filesystem::path& file);

  // "HiSilicon", or "" when the code is unknown.
  std::string implementer(std::uint32_t id) const;
  const ArmPart* part(std::uint32_t implementer, std::uint32_t part) const;
  // What `aion hw` shows: "HiSilicon Kunpeng 920 (TaiShan v110)"; an unknown part reads
  // "HiSilicon part 0xd99", an unknown implementer "ARM implementer 0x99 part 0xd99".
  std::string model(std::uint32_t implementer, std::uint32_t part) const;

 private:
  static Result<ArmCpuTable> from(const DataFile& file);

  std::vector<std::pair<std::uint32_t, std::string>> implementers_;
  std::vector<ArmPart> parts_;
};

std::filesystem::path default_arm_cpu_table_file();  // data_dir()/hw/arm_cpus.toml
const Result<ArmCpuTable>& shipped_arm_cpu_table();

// Reads "0x48" or "72" as written in /proc/cpuinfo and hwloc's CPUImplementer/CPUPart.
std::optional<std::uint32_t> parse_midr_field(std::string_view text);

}  // namespace aion::hw
