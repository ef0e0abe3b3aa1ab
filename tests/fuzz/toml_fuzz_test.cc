// Fuzzes every TOML reader aiond runs: the config loader (with the daemon's full schema and
// the option readers behind it) and the data-file loaders (signatures, environment tables,
// tuning profiles and kernel ranges, log masks, remediation playbooks). Seeds: the shipped
// data/ files and packaging/aion.toml, cut into one document per table row as well, so that
// inputs stay small and mutations land in rows rather than in comments. A bad file must be
// an error naming it, never a crash; a file that loads must hold values in their ranges.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <gtest/gtest.h>

#include "aion/api/node_schema.h"
#include "aion/core/config.h"
#include "aion/core/settings.h"
#include "aion/diagnose/catalog.h"
#include "aion/diagnose/matcher.h"
#include "aion/diagnose/remediation.h"
#include "aion/diagnose/service.h"
#include "aion/envcfg/knowledge.h"
#include "aion/hw/discovery.h"
#include "aion/logs/header_detect.h"
#include "aion/logs/masks.h"
#include "aion/logs/service.h"
#include "aion/sched/runner.h"
#include "aion/telemetry/service.h"
#include "aion/tune/plan.h"
#include "aion/tune/profile.h"
#include "mutator.h"
#include "support/temp_dir.h"

namespace aion {
namespace {

namespace fs = std::filesystem;
using fuzz::Verdict;

fs::path source(const std::string& rel) {
  return fs::path(AION_SOURCE_DIR) / rel;
}

const std::vector<std::string> kTomlTokens = {"=",
                                              "\"",
                                              "'",
                                              "[",
                                              "]",
                                              "[[",
                                              "]]",
                                              "{",
                                              "}",
                                              ",",
                                              ".",
                                              "\n",
                                              "#",
                                              "\"\"\"",
                                              "'''",
                                              "true",
                                              "false",
                                              "inf",
                                              "-inf",
                                              "nan",
                                              "-",
                                              "+",
                                              "1979-05-27T07:32:00Z",
                                              "07:32:00",
                                              "0x",
                                              "0o",
                                              "0b",
                                              "_",
                                              "\\u0000",
                                              "\\U0010FFFF",
                                              "\\",
                                              "\r\n",
                                              "\t",
                                              "\xff",
                                              "\xc3\x28",
                                              "1e999",
                                              "0.0",
                                              "schema_version",
                                              "as_of",
                                              "id",
                                              "regex",
                                              "pattern",
                                              "source",
                                              "name",
                                              "key",
                                              "value",
                                              "[[signature]]",
                                              "[daemon]",
                                              "[api]",
                                              "a.b.c",
                                              "\"a\".b",
                                              "= [",
                                              "= {",
                                              "9223372036854775808"};

// A document cut into the part before its first array-of-tables header and one document per
// row ("[[x]]" ... up to the next header), each with that head in front.
std::vector<std::string> rows_of(const std::string& doc) {
  std::vector<std::string> out;
  std::vector<std::size_t> starts;
  std::size_t pos = 0;
  while (pos < doc.size()) {
    if (doc.compare(pos, 2, "[[") == 0 || (doc[pos] == '[' && pos > 0)) starts.push_back(pos);
    std::size_t nl = doc.find('\n', pos);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  if (starts.empty()) return {doc};
  const std::string head = doc.substr(0, starts[0]);
  out.push_back(head);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    std::size_t e = i + 1 < starts.size() ? starts[i + 1] : doc.size();
    out.push_back(head + doc.substr(starts[i], e - starts[i]));
  }
  return out;
}

std::vector<std::string> seeds_from(const std::vector<fs::path>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) {
    std::string doc = fuzz::read_file(f);
    auto rows = rows_of(doc);
    out.insert(out.end(), rows.begin(), rows.end());
    if (doc.size() <= (8 << 10)) out.push_back(doc);
  }
  return out;
}

std::vector<fs::path> tomls_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".toml") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// A parse error must be one of the codes a loader documents, with a message naming the file.
std::string check_error(const Error& e, const std::string& file) {
  if (e.message().find(file) == std::string::npos)
    return "error does not name the file: " + e.message();
  return {};
}

void fuzz_text(const char* name, std::vector<std::string> seeds, std::uint64_t iterations,
               const std::function<Verdict(std::string_view)>& target, std::size_t max = 8 << 10) {
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, std::move(seeds), kTomlTokens, true);
  m.max_size = max;
  EXPECT_TRUE(fuzz::run_fuzz(name, m, fuzz::fuzz_options(iterations), target));
}

TEST(TomlFuzz, DaemonConfig) {
  const ConfigSchema schema = api::node_config_schema();
  // The packaged config, its defaults uncommented, and the defaults as rendered.
  std::string packaged = fuzz::read_file(source("packaging/aion.toml"));
  std::string uncommented;
  for (const auto& l : fuzz::lines_of({packaged})) {
    if (l.rfind("#", 0) == 0 && l.find(" = ") != std::string::npos) {
      uncommented += l.substr(1) + "\n";
    } else if (l.rfind("[", 0) == 0) {
      uncommented += l + "\n";
    }
  }
  std::vector<std::string> seeds = {packaged, uncommented, schema.render_defaults()};
  auto rows = rows_of(uncommented);
  seeds.insert(seeds.end(), rows.begin(), rows.end());
  const ::aion::testing::TempDir tmp("fuzz-state");
  const fs::path state = tmp.path();
  std::uint64_t n = 0;
  fuzz_text("config", seeds, 100000, [&](std::string_view in) -> Verdict {
    auto c = Config::parse(in, "fuzz.toml", schema);
    if (!c) {
      if (c.error().code() != ErrorCode::kConfig && c.error().code() != ErrorCode::kParse)
        return {false, "config error with code " + std::string(to_string(c.error().code()))};
      return {false, check_error(c.error(), "fuzz.toml")};
    }
    // Every key the schema holds has a value of its type and range (the getters abort if
    // not), and the readers that turn it into options take it (or refuse it) without a crash.
    for (const auto& f : schema.fields()) {
      switch (f.type) {
        case ConfigType::kString: (void)c->get_string(f.key); break;
        case ConfigType::kInt: {
          auto v = c->get_int(f.key);
          if ((f.min && v < *f.min) || (f.max && v > *f.max))
            return {true, f.key + " = " + std::to_string(v) + " is out of its range"};
          break;
        }
        case ConfigType::kBool: (void)c->get_bool(f.key); break;
        case ConfigType::kDouble: (void)c->get_double(f.key); break;
        case ConfigType::kStringArray: (void)c->get_strings(f.key); break;
        case ConfigType::kTableArray: (void)c->get_tables(f.key); break;
      }
      if (f.type == ConfigType::kString && !f.allowed.empty()) {
        const auto& v = c->get_string(f.key);
        if (std::find(f.allowed.begin(), f.allowed.end(), v) == f.allowed.end())
          return {true, f.key + " = '" + v + "' is not an allowed value"};
      }
    }
    (void)settings_from(*c);
    if (++n % 4 == 0) {
      ignore(telemetry::telemetry_options(*c, state),
             "the fuzz target checks that parsing does not crash, not its verdict");
      ignore(hw::discovery_options(*c),
             "the fuzz target checks that parsing does not crash, not its verdict");
      ignore(diagnose::diagnose_options(*c, state),
             "the fuzz target checks that parsing does not crash, not its verdict");
      ignore(logs::logs_options(*c, state, HostFs(state)),
             "the fuzz target checks that parsing does not crash, not its verdict");
      ignore(sched::runner_config(*c, state),
             "the fuzz target checks that parsing does not crash, not its verdict");
    }
    return {true, {}};
  });
}

TEST(TomlFuzz, Signatures) {
  fuzz_text("signatures", seeds_from(tomls_in(source("data/signatures"))), 100000,
            [](std::string_view in) -> Verdict {
              auto c = diagnose::Catalog::parse(in, "fuzz.toml");
              if (!c) return {false, check_error(c.error(), "fuzz.toml")};
              // A catalog that loads must build its matcher (regexes RE2 accepts).
              auto m = diagnose::Matcher::build(*c);
              if (!m) return {true, "loaded catalog has no matcher: " + m.error().message()};
              for (const auto& s : c->signatures())
                if (s.id.empty()) return {true, "a signature without id loaded"};
              return {true, {}};
            });
}

TEST(TomlFuzz, Playbooks) {
  fuzz_text("playbooks", seeds_from(tomls_in(source("data/playbooks"))), 100000,
            [](std::string_view in) -> Verdict {
              auto p = diagnose::parse_playbook(in, "fuzz.toml");
              if (!p) return {false, check_error(p.error(), "fuzz.toml")};
              return {true, {}};
            });
}

TEST(TomlFuzz, TuningProfilesAndKernelRanges) {
  auto seeds = seeds_from(tomls_in(source("data/profiles")));
  auto ranges = seeds_from({source("data/tune/kernel_ranges.toml")});
  seeds.insert(seeds.end(), ranges.begin(), ranges.end());
  fuzz_text("tuning", seeds, 100000, [](std::string_view in) -> Verdict {
    // Either reader on either kind of file: a profile is never a range table and back.
    auto p = tune::parse_profile(in, "fuzz.toml");
    auto k = tune::KernelRanges::parse(in, "fuzz.toml");
    if (!p) {
      if (auto why = check_error(p.error(), "fuzz.toml"); !why.empty()) return {false, why};
    }
    if (!k) {
      if (auto why = check_error(k.error(), "fuzz.toml"); !why.empty()) return {false, why};
    }
    return {p.has_value() || k.has_value(), {}};
  });
}

TEST(TomlFuzz, LogMasks) {
  fuzz_text("masks", seeds_from({source("data/logs/masks.toml")}), 100000,
            [](std::string_view in) -> Verdict {
              auto m = logs::MaskSet::parse(in, "fuzz.toml");
              if (!m) return {false, check_error(m.error(), "fuzz.toml")};
              // A mask set that loads must mask a line with a value of each kind.
              auto out = m->apply("gpu 0000:3b:00.0 at 10.0.0.7 pid=4242 took 12.5ms");
              if (out.values.size() != out.rules.size()) return {true, "values and rules differ"};
              return {true, {}};
            });
}

TEST(TomlFuzz, LogHeaderLayouts) {
  fuzz_text("headers", seeds_from({source("data/logs/headers.toml")}), 100000,
            [](std::string_view in) -> Verdict {
              auto d = logs::HeaderDetector::parse(in, "fuzz.toml");
              if (!d) return {false, check_error(d.error(), "fuzz.toml")};
              // Layouts that load must take any line, with or without a header.
              auto found = d->detect({"Dec  7 00:52:32 gpu01 sshd[22]: Accepted key", "", "x"});
              if (found && found->matched > found->sampled) return {true, "matched > sampled"};
              return {true, {}};
            });
}

// The environment tables load as a set: the mutated table sits beside minimal ones (a
// version and a date, no rows; those that must have more, as shipped), so that each input
// costs the parse of little more than one table.
TEST(TomlFuzz, EnvironmentTables) {
  const ::aion::testing::TempDir tmp("fuzz-envcfg");
  const fs::path dir = tmp.path();
  const char* files[] = {"cuda.toml",      "gpus.toml",       "rocm.toml",   "cann.toml",
                         "platforms.toml", "frameworks.toml", "images.toml", "doctor.toml"};
  const std::string stub =
      "schema_version = " + std::to_string(envcfg::kSchemaVersion) + "\nas_of = \"2026-12-01\"\n";
  auto write = [](const fs::path& p, std::string_view text) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
  };
  // Each table starts minimal; one the loader refuses that way (it requires rows or keys)
  // is taken as shipped instead.
  auto shipped_text = [&](std::string_view f) {
    std::ifstream in(source("data/envcfg/" + std::string(f)), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::map<std::string, std::string, std::less<>> base;
  for (const char* f : files) base[f] = stub;
  for (std::size_t round = 0; round <= std::size(files); ++round) {
    for (const auto& [f, text] : base) write(dir / f, text);
    auto kb = envcfg::load_knowledge(dir);
    if (kb) break;
    for (const char* f : files)
      if (kb.error().message().find(std::string("/") + f + ":") != std::string::npos)
        base[f] = shipped_text(f);
  }
  auto stub_for = [&](std::string_view f) { return base.find(f)->second; };
  auto empty = envcfg::load_knowledge(dir);
  ASSERT_TRUE(empty) << "tables without rows load: " << empty.error().message();
  // ≥100,000 inputs over the eight tables together.
  const std::uint64_t per_table = (fuzz::fuzz_options(100000).iterations + 7) / 8;
  for (const char* f : files) {
    SCOPED_TRACE(f);
    const fs::path shipped = source(std::string("data/envcfg/") + f);
    const fs::path target_file = dir / f;
    auto target = [&](std::string_view in) -> Verdict {
      write(target_file, in);
      auto kb = envcfg::load_knowledge(dir);
      if (!kb) return {false, check_error(kb.error(), f)};
      return {true, {}};
    };
    fuzz::Mutator m(fuzz::fuzz_options(0).seed, seeds_from({shipped}), kTomlTokens, true);
    m.max_size = 8 << 10;
    fuzz::FuzzOptions o = fuzz::fuzz_options(0);
    o.iterations = per_table;
    EXPECT_TRUE(fuzz::run_fuzz(std::string("envcfg_") + f, m, o, target));
    write(target_file, stub_for(f));
  }
}

}  // namespace
}  // namespace aion
