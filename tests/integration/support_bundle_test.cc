// aion support-bundle against a running aiond: secrets and personal data planted in the
// config (a comment and the config file's own name), a job's environment and a kernel log
// line never reach the archive, the manifest counts what was replaced, and `aion audit`
// records the exit with the archive's size and SHA-256.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/privacy/gate.h"
#include "support/daemon_harness.h"
#include "support/fixtures.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every regular file under `dir`, with its text.
std::vector<std::pair<fs::path, std::string>> files_under(const fs::path& dir) {
  std::vector<std::pair<fs::path, std::string>> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.emplace_back(e.path(), slurp(e.path()));
  return out;
}

TEST(SupportBundleTest, PlantedSecretsNeverLeaveAndTheExitIsAudited) {
  const std::string aws = "AKIAZ7Q3XK4M2P9WLR5T";
  const std::string github = "ghp_R8kq2ZxV7mN4pT1wY6cB3dF9gH0jL5sA2eQu";
  const std::string hf = "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";
  const std::string db_password = "Tr0ub4dor-9xQ";
  const std::string email = "li.wei@example-corp.cn";
  DaemonHarness h;
  const std::string config =
      "# rotate the ops token " + github + " monthly\n[daemon]\nsocket = \"" + h.socket().string() +
      "\"\nstate_dir = \"" + h.state_dir().string() + "\"\n[sched]\ncgroups = false\n";
  h.write_config(config);
  ASSERT_TRUE(h.start()) << h.log();
  // The same config under a name holding a secret: the manifest names its source.
  const fs::path named = h.dir() / ("aion-" + aws + ".toml");
  std::ofstream(named) << config;
  // A host root whose kernel log holds a connection string and an address.
  const fs::path root = h.dir() / "root";
  fs::create_directories(root / "var/log");
  fs::create_directories(root / "proc");
  std::ofstream(root / "proc/version") << "Linux version 6.1.0-test\n";
  std::ofstream(root / "var/log/kern.log")
      << "Dec  7 10:00:01 gpu07 kernel: NVRM: Xid 79, pid=4242\n"
      << "Dec  7 10:00:02 gpu07 kernel: mount.cifs: postgres://svc:" << db_password
      << "@db.internal:5432/app mounted by " << email << "\n";
  auto aion = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {DaemonHarness::aion_path(), "--config", named.string(),
                               "--host-root", root.string()});
    return run_program(args);
  };
  ::setenv("HF_TOKEN", hf.c_str(), 1);  // a job's environment is the submitter's
  // The job prints its token, as jobs that log their environment do.
  Exit job = run_program({DaemonHarness::aion_path(), "--config", named.string(), "run", "--", "sh",
                          "-c", "echo starting with HF_TOKEN=$HF_TOKEN"});
  ::unsetenv("HF_TOKEN");
  ASSERT_EQ(job.code, 0) << job.out;
  ASSERT_NE(job.out.find(hf), std::string::npos) << "the job saw the token: " << job.out;

  const fs::path bundle = h.dir() / "bundle.tar.gz";
  Exit b = aion({"support-bundle", "-o", bundle.string()});
  ASSERT_EQ(b.code, 0) << b.out;
  const fs::path out = h.dir() / "extracted";
  fs::create_directories(out);
  const std::string tar_bin = fs::exists("/usr/bin/tar") ? "/usr/bin/tar" : "/bin/tar";
  Exit tar = run_program({tar_bin, "-xzf", bundle.string(), "-C", out.string()});
  ASSERT_EQ(tar.code, 0) << tar.out;
  const auto files = files_under(out);
  std::vector<std::string> names;
  for (const auto& [path, text] : files) {
    names.push_back(fs::relative(path, out).string());
    for (const auto& planted : {aws, github, hf, db_password, email})
      EXPECT_EQ(text.find(planted), std::string::npos) << planted << " left in " << path;
  }
  for (const char* want : {"hw.json", "kernel.log", "aion.toml", "daemon/jobs.json",
                           "daemon/events.json", "manifest.json"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  // What the planted values became is still useful: placeholders, and the rest of the line.
  const std::string kernel = slurp(out / "kernel.log");
  EXPECT_NE(kernel.find("Xid 79"), std::string::npos) << kernel;
  EXPECT_NE(kernel.find("<EMAIL_1>"), std::string::npos) << kernel;
  std::string job_files;
  for (const auto& [path, text] : files)
    if (path.parent_path().filename() == "jobs") job_files += text;
  // aiond's API does not show a job's environment; what the job printed of it is in its
  // output, redacted.
  EXPECT_NE(job_files.find("starting with HF_TOKEN=<SECRET_"), std::string::npos) << job_files;
  Json manifest = Json::parse(slurp(out / "manifest.json"));
  EXPECT_GE(manifest["replaced"]["secret"].get<int>(), 4) << manifest.dump(2);
  EXPECT_GE(manifest["replaced"]["email"].get<int>(), 1) << manifest.dump(2);

  // The exit is in the audit log, with the archive's size and hash.
  Exit audit = aion({"--json", "audit"});
  ASSERT_EQ(audit.code, 0) << audit.out;
  Json log = Json::parse(audit.out);
  ASSERT_EQ(log["records"].size(), 1u) << audit.out;
  const Json& rec = log["records"][0];
  const std::string archive = slurp(bundle);
  EXPECT_EQ(rec["caller"], "support-bundle");
  EXPECT_EQ(rec["bytes"].get<std::size_t>(), archive.size());
  EXPECT_EQ(rec["sha256"], privacy::sha256_hex(archive));
  EXPECT_EQ(rec["destination"], fs::absolute(bundle).string());
  EXPECT_EQ(fs::status(h.state_dir() / "audit.jsonl").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace
}  // namespace aion::testing
