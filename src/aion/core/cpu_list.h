// Linux's list syntax for CPU and NUMA node numbers: "0-3,8,10-11", as the kernel writes it
// in /sys/devices/system/{cpu,node}/*/cpulist and cpuset files, and as Slurm writes Cores=.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion {

// The numbers of a list of numbers and ranges, in the order written (a range ascending),
// duplicates kept. Surrounding whitespace is ignored; "" gives {}. kParse on anything else:
// a negative number, a range written backwards, or one spanning more than 2^20 numbers.
Result<std::vector<int>> parse_int_ranges(std::string_view text);

// A CPU list: the numbers sorted and without duplicates, each at most kMaxCpuId.
inline constexpr int kMaxCpuId = 65535;
Result<std::vector<int>> parse_cpu_list(std::string_view text);

// A CPU mask as sysfs writes it (cpumap, local_cpus): 32-bit hex words separated by commas,
// the most significant first ("0000,00000022,22222222"). kParse on anything else, or on a
// set bit above kMaxCpuId.
Result<std::vector<int>> parse_cpu_mask(std::string_view text);

// The shortest list for `values` (sorted, duplicates dropped): {0,1,2,3,8} -> "0-3,8".
std::string format_cpu_list(std::vector<int> values);

}  // namespace aion
