#include "aion/sched/job.h"
#include "aion/core/strings.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "aion/core/clock.h"
#include "aion/sched/job_json.h"

namespace aion::sched {

namespace {

constexpr std::array<std::string_view, 7> kStateNames = {
    "pending", "running", "completed", "failed", "cancelled", "preempted", "lost"};

std::string rfc3339_ms(std::int64_t ms) {
  if (ms <= 0) return "";
  return format_rfc3339(Clock::Wall(std::chrono::milliseconds(ms)));
}

}  // namespace

std::string_view to_string(JobState s) {
  return kStateNames[static_cast<std::size_t>(s)];
}

std::optional<JobState> job_state_from(std::string_view s) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == s) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorCode::kInvalidArgument, "invalid size '" + std::string(text) + "': " +
                                                 std::string(why) + " (examples: 512M, 64G, 1.5T)");
  };
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return bad("empty");
  if (s.front() == '-') return bad("a size cannot be negative");
  std::size_t digits = 0;
  while (digits < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[digits])) || s[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return bad("it must start with a number");
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + digits, value);
  if (ec != std::errc() || ptr != s.data() + digits || !std::isfinite(value)) {
    return bad("not a number");
  }
  std::string unit = lower(s.substr(digits));
  if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  double mult = 1;
  static constexpr std::array<std::pair<char, double>, 5> kUnits = {
      {{'k', 0x1p10}, {'m', 0x1p20}, {'g', 0x1p30}, {'t', 0x1p40}, {'p', 0x1p50}}};
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else {
    bool found = false;
    for (auto [c, m] : kUnits) {
      if (unit.front() != c) continue;
      std::string rest = unit.substr(1);
      if (rest.empty() || rest == "b" || rest == "i" || rest == "ib") {
        mult = m;
        found = true;
      }
    }
    if (!found) return bad("unknown unit '" + std::string(s.substr(digits)) + "'");
  }
  double bytes = value * mult;
  if (bytes >= 0x1p63) return bad("too large");
  return static_cast<std::uint64_t>(std::llround(bytes));
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<const char*, 6> kNames = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  std::size_t i = 0;
  while (v >= 1024 && i + 1 < kNames.size()) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  if (i == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kNames[i]);
  }
  return buf;
}

Result<std::string> resolve_command(const JobSpec& spec) {
  if (spec.command.empty() || spec.command[0].empty()) {
    return fail(ErrorCode::kInvalidArgument, "no command given (aion run [flags] -- CMD ARGS)");
  }
  const std::string& prog = spec.command[0];
  auto usable = [&](const std::filesystem::path& p) -> Status {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return fail(ErrorCode::kNotFound, "");
    if (S_ISDIR(st.st_mode)) {
      return fail(ErrorCode::kInvalidArgument, p.string() + " is a directory, not a program");
    }
    // Executable by the job's user: owner, group or other x bit as that user would see it.
    bool x = (spec.uid == 0)         ? (st.st_mode & 0111) != 0
             : st.st_uid == spec.uid ? (st.st_mode & S_IXUSR) != 0
             : st.st_gid == spec.gid ? (st.st_mode & S_IXGRP) != 0
                                     : (st.st_mode & S_IXOTH) != 0;
    if (!x) {
      return fail(ErrorCode::kPermissionDenied,
                  p.string() + " is not executable by " +
                      (spec.user.empty() ? "uid " + std::to_string(spec.uid) : spec.user));
    }
    return {};
  };
  if (prog.find('/') != std::string::npos) {
    std::filesystem::path p = prog;
    if (p.is_relative()) p = std::filesystem::path(spec.cwd) / p;
    auto st = usable(p);
    if (!st) {
      if (st.error().code() == ErrorCode::kNotFound) {
        return fail(ErrorCode::kNotFound, "no such command: " + p.string());
      }
      return std::unexpected(st.error());
    }
    return p.lexically_normal().string();
  }
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  if (auto it = spec.env.find("PATH"); it != spec.env.end()) path = it->second;
  std::optional<Error> first_problem;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = spec.cwd;  // an empty PATH entry means the current directory
    std::filesystem::path p = std::filesystem::path(dir) / prog;
    if (p.is_relative()) p = std::filesystem::path(spec.cwd) / p;
    auto st = usable(p);
    if (st) return p.string();
    if (st.error().code() != ErrorCode::kNotFound && !first_problem) first_problem = st.error();
    start = end + 1;
  }
  if (first_problem) return std::unexpected(*first_problem);
  return fail(ErrorCode::kNotFound,
              "no such command '" + prog + "' in the job's PATH (" + path + ")");
}

// ---- JSON ----

Json to_json(const JobSpec& s) {
  Json r = {{"gpus", s.resources.gpus},
            {"gpu_fraction", s.resources.gpu_fraction},
            {"gpu_memory_bytes", s.resources.gpu_memory_bytes},
            {"gpu_model", s.resources.gpu_model},
            {"accel_kind", s.resources.accel_kind},
            {"cpus", s.resources.cpus},
            {"memory_bytes", s.resources.memory_bytes}};
  return {{"name", s.name},
          {"command", s.command},
          {"env", s.env},
          {"cwd", s.cwd},
          {"resources", r},
          {"priority", s.priority},
          {"queue", s.queue},
          {"requeue", s.requeue},
          {"uid", s.uid},
          {"gid", s.gid},
          {"user", s.user},
          {"sandbox", s.sandbox},
          {"allow_net", s.allow_net},
          {"verify", s.verify}};
}

namespace {

// A kind of accelerator ("npu"): short, lowercase letters and digits; "" is the node's default.
bool valid_kind(std::string_view k) {
  return k.size() <= 32 && std::all_of(k.begin(), k.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         });
}

std::unexpected<Error> field_error(const std::string& key, const std::string& expected) {
  return fail(ErrorCode::kInvalidArgument, "job field '" + key + "' must be " + expected);
}

template <class T>
Status read_int(const Json& j, const char* key, T& out, long long lo, long long hi,
                const std::string& prefix = "") {
  if (!j.contains(key)) return {};
  const Json& v = j[key];
  if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi) {
    return field_error(prefix + key,
                       "an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  out = static_cast<T>(v.get<long long>());
  return {};
}

Status read_size(const Json& j, const char* key, std::uint64_t& out, const std::string& prefix) {
  if (!j.contains(key)) return {};
  const Json& v = j[key];
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<long long>() >= 0)) {
    out = v.get<std::uint64_t>();
    return {};
  }
  if (v.is_string()) {
    auto s = parse_size(v.get<std::string>());
    if (!s) return fail(ErrorCode::kInvalidArgument, prefix + key + ": " + s.error().message());
    out = *s;
    return {};
  }
  return field_error(prefix + key, "a size in bytes (>= 0) or a string like \"64G\"");
}

Status read_string(const Json& j, const char* key, std::string& out) {
  if (!j.contains(key)) return {};
  if (!j[key].is_string()) return field_error(key, "a string");
  out = j[key].get<std::string>();
  return {};
}

// The "resources" object of a job: what placement is asked for.
Status read_resources(const Json& r, Request& q) {
  if (!r.is_object()) return field_error("resources", "an object");
  const std::string p = "resources.";
  if (auto st = read_int(r, "gpus", q.gpus, 0, 4096, p); !st) return std::unexpected(st.error());
  if (auto st = read_int(r, "cpus", q.cpus, 1, 1 << 20, p); !st) {
    return std::unexpected(st.error());
  }
  if (r.contains("gpu_fraction")) {
    const Json& f = r["gpu_fraction"];
    if (!f.is_number() || f.get<double>() < 0 || f.get<double>() >= 1) {
      return field_error("resources.gpu_fraction",
                         "a number from 0 to below 1 (0.25 = a quarter of a GPU)");
    }
    q.gpu_fraction = f.get<double>();
  }
  if (auto st = read_size(r, "gpu_memory_bytes", q.gpu_memory_bytes, p); !st) {
    return std::unexpected(st.error());
  }
  if (auto st = read_size(r, "memory_bytes", q.memory_bytes, p); !st) {
    return std::unexpected(st.error());
  }
  if (r.contains("gpu_model")) {
    if (!r["gpu_model"].is_string()) return field_error("resources.gpu_model", "a string");
    q.gpu_model = r["gpu_model"].get<std::string>();
  }
  if (r.contains("accel_kind")) {
    const Json& k = r["accel_kind"];
    if (!k.is_string() || !valid_kind(k.get<std::string>()))
      return field_error("resources.accel_kind",
                         "a kind of accelerator in lowercase letters (\"npu\", \"vector\")");
    q.accel_kind = k.get<std::string>();
  }
  return {};
}

// "sandbox": a profile name; "allow_net": at most 64 network rules the job adds to its
// profile's (their syntax is checked when the job is planned); "verify": checksum files.
Status read_sandbox(const Json& j, JobSpec& s) {
  if (auto st = read_string(j, "sandbox", s.sandbox); !st) return st;
  if (s.sandbox.size() > 64 ||
      s.sandbox.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
    return field_error("sandbox", "a profile name (lowercase letters, digits, - and _)");
  if (j.contains("allow_net")) {
    if (!j["allow_net"].is_array() || j["allow_net"].size() > 64)
      return field_error("allow_net", "a list of at most 64 network rules");
    for (const auto& r : j["allow_net"]) {
      if (!r.is_string() || r.get<std::string>().empty() || r.get<std::string>().size() > 256)
        return field_error("allow_net", "a list of rules such as \"api.openai.com:443\"");
      s.allow_net.push_back(r.get<std::string>());
    }
  }
  if (!s.allow_net.empty() && s.sandbox.empty())
    return field_error("allow_net", "rules added to a sandbox profile: name one with sandbox");
  if (!j.contains("verify")) return {};
  if (!j["verify"].is_array() || j["verify"].size() > 16)
    return field_error("verify", "a list of at most 16 checksum files");
  for (const auto& f : j["verify"]) {
    if (!f.is_string() || f.get<std::string>().empty() || f.get<std::string>().front() != '/' ||
        f.get<std::string>().size() > 4096)
      return field_error("verify", "a list of absolute paths of checksum files");
    s.verify.push_back(f.get<std::string>());
  }
  return {};
}

// No string of a job may hold a NUL byte: the launch file aion-shim reads separates its
// records with NUL, so one inside a value would be read as a record of its own (a "groups=0"
// smuggled in an argument), and no program, path or environment can carry one anyway.
Status check_no_nul(const JobSpec& s) {
  auto clean = [](std::string_view v) { return v.find('\0') == std::string_view::npos; };
  auto all_clean = [&](const std::vector<std::string>& v) {
    return std::all_of(v.begin(), v.end(), clean);
  };
  bool env_clean = true;
  for (const auto& [k, v] : s.env) env_clean = env_clean && clean(k) && clean(v);
  const std::pair<const char*, bool> fields[] = {
      {"command", all_clean(s.command)},
      {"env", env_clean},
      {"name", clean(s.name) && clean(s.queue) && clean(s.user)},
      {"cwd", clean(s.cwd)},
      {"resources", clean(s.resources.gpu_model) && clean(s.resources.accel_kind)},
      {"sandbox", clean(s.sandbox) && all_clean(s.allow_net)},
      {"verify", all_clean(s.verify)}};
  for (const auto& [field, ok] : fields)
    if (!ok) return field_error(field, "text without NUL bytes");
  return {};
}

}  // namespace

Result<JobSpec> spec_from_json(const Json& j) {
  if (!j.is_object()) return fail(ErrorCode::kInvalidArgument, "a job must be a JSON object");
  JobSpec s;
  static constexpr std::array<std::string_view, 14> kKeys = {
      "name",    "command", "env", "cwd",  "resources", "priority",  "queue",
      "requeue", "uid",     "gid", "user", "sandbox",   "allow_net", "verify"};
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (auto kk : kKeys) known = known || kk == k;
    if (!known) return fail(ErrorCode::kInvalidArgument, "unknown job field '" + k + "'");
  }
  if (!j.contains("command") || !j["command"].is_array() || j["command"].empty()) {
    return field_error("command", "a non-empty list of strings (the program and its arguments)");
  }
  for (const auto& a : j["command"]) {
    if (!a.is_string()) return field_error("command", "a list of strings");
    s.command.push_back(a.get<std::string>());
  }
  if (s.command[0].empty()) return field_error("command", "a list whose first item is a program");
  if (j.contains("env")) {
    if (!j["env"].is_object()) return field_error("env", "an object of strings");
    for (const auto& [k, v] : j["env"].items()) {
      if (!v.is_string() || k.empty() || k.find('=') != std::string::npos) {
        return field_error("env", "an object of NAME: \"value\" strings");
      }
      s.env[k] = v.get<std::string>();
    }
  }
  if (auto st = read_string(j, "name", s.name); !st) return std::unexpected(st.error());
  if (auto st = read_string(j, "cwd", s.cwd); !st) return std::unexpected(st.error());
  if (auto st = read_string(j, "queue", s.queue); !st) return std::unexpected(st.error());
  if (auto st = read_string(j, "user", s.user); !st) return std::unexpected(st.error());
  if (s.queue.empty()) s.queue = "default";
  if (s.name.size() > 128) return field_error("name", "at most 128 characters");
  if (!s.cwd.empty() && s.cwd.front() != '/') return field_error("cwd", "an absolute path");
  if (auto st = read_int(j, "priority", s.priority, -1000, 1000); !st) {
    return std::unexpected(st.error());
  }
  if (auto st = read_int(j, "uid", s.uid, 0, 0xfffffffeLL); !st) return std::unexpected(st.error());
  if (auto st = read_int(j, "gid", s.gid, 0, 0xfffffffeLL); !st) return std::unexpected(st.error());
  if (j.contains("requeue")) {
    if (!j["requeue"].is_boolean()) return field_error("requeue", "true or false");
    s.requeue = j["requeue"].get<bool>();
  }
  if (j.contains("resources")) {
    if (auto st = read_resources(j["resources"], s.resources); !st)
      return std::unexpected(st.error());
  }
  if (auto st = read_sandbox(j, s); !st) return std::unexpected(st.error());
  if (auto st = check_no_nul(s); !st) return std::unexpected(st.error());
  return s;
}

Json to_json(const Allocation& a) {
  return {{"gpus", a.gpus},
          {"gpu_fraction", a.gpu_fraction},
          {"gpu_memory_bytes", a.gpu_memory_bytes},
          {"cpus", a.cpus},
          {"mems", a.mems},
          {"memory_bytes", a.memory_bytes}};
}

Result<Allocation> allocation_from_json(const Json& j) {
  Allocation a;
  try {
    a.gpus = j.at("gpus").get<std::vector<int>>();
    a.gpu_fraction = j.at("gpu_fraction").get<double>();
    a.gpu_memory_bytes = j.at("gpu_memory_bytes").get<std::uint64_t>();
    a.cpus = j.at("cpus").get<std::vector<int>>();
    a.mems = j.at("mems").get<std::vector<int>>();
    a.memory_bytes = j.at("memory_bytes").get<std::uint64_t>();
  } catch (const Json::exception& e) {
    return fail(ErrorCode::kParse, std::string("stored allocation is malformed: ") + e.what());
  }
  return a;
}

Json to_json(const Accounting& a) {
  return {{"cpu_time_ms", a.cpu_time_ms},
          {"memory_peak_bytes", a.memory_peak_bytes},
          {"gpu_time_ms", a.gpu_time_ms},
          {"gpu_memory_peak_bytes", a.gpu_memory_peak_bytes}};
}

Accounting accounting_from_json(const Json& j) {
  Accounting a;
  if (!j.is_object()) return a;
  a.cpu_time_ms = j.value("cpu_time_ms", 0LL);
  a.memory_peak_bytes = j.value("memory_peak_bytes", 0ULL);
  a.gpu_time_ms = j.value("gpu_time_ms", 0LL);
  a.gpu_memory_peak_bytes = j.value("gpu_memory_peak_bytes", 0ULL);
  return a;
}

Json to_json(const Job& job) {
  Json j = {{"id", job.id},
            {"name", job.spec.name},
            {"state", to_string(job.state)},
            {"reason", job.reason},
            {"user", job.spec.user},
            {"uid", job.spec.uid},
            {"queue", job.spec.queue},
            {"priority", job.spec.priority},
            {"requeue", job.spec.requeue},
            {"spec", to_json(job.spec)},
            {"submit_ms", job.submit_ms},
            {"start_ms", job.start_ms},
            {"end_ms", job.end_ms},
            {"submitted_at", rfc3339_ms(job.submit_ms)},
            {"started_at", rfc3339_ms(job.start_ms)},
            {"ended_at", rfc3339_ms(job.end_ms)},
            {"pid", job.pid},
            {"exit_code", job.exit_code},
            {"signal", job.signal},
            {"oom_killed", job.oom_killed},
            {"restarts", job.restarts},
            {"usage", to_json(job.usage)}};
  j["spec"].erase("env");  // may hold secrets; `aion show` does not need it
  j["allocation"] = job.allocation ? to_json(*job.allocation) : Json(nullptr);
  return j;
}

void strip_private(Json& job) {
  if (!job.is_object()) return;
  job["name"] = "";
  if (auto state = job.find("state"); state != job.end() && state->is_string()) {
    auto s = job_state_from(state->get<std::string>());
    if (!s || is_terminal(*s)) job["reason"] = state->get<std::string>();
  } else {
    job.erase("reason");
  }
  if (auto spec = job.find("spec"); spec != job.end() && spec->is_object()) {
    for (const char* k : {"command", "env", "cwd"}) spec->erase(k);
    (*spec)["name"] = "";
  }
  job["private"] = true;
}

}  // namespace aion::sched
