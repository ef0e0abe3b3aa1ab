// The shipped detectors (data/privacy): positives per detector, look-alikes that must
// survive, the validators' arithmetic, and load errors that cite file:line.
#include <gtest/gtest.h>

#include <filesystem>

#include "aion/privacy/redactor.h"
#include "aion/privacy/validators.h"

namespace aion::privacy {
namespace {

const Redactor& shipped() {
  static const Redactor r = [] {
    auto set = DetectorSet::load_dir(std::filesystem::path(AION_SOURCE_DIR) / "data/privacy");
    EXPECT_TRUE(set.has_value()) << set.error().message();
    auto red = Redactor::create(std::move(*set), Policy{}, {"alice", "bwang"});
    EXPECT_TRUE(red.has_value()) << red.error().message();
    return std::move(*red);
  }();
  return r;
}

struct Hit {
  std::string category;
  std::string value;
};

std::vector<Hit> hits(std::string_view text) {
  std::vector<Hit> out;
  for (const Finding& f : shipped().scan(text)) {
    out.push_back({std::string(category_name(f.category)),
                   std::string(text.substr(f.begin, f.end - f.begin))});
  }
  return out;
}

// The text yields a finding of `category` whose value is exactly `value`.
::testing::AssertionResult finds(std::string_view text, std::string_view category,
                                 std::string_view value) {
  std::string all;
  for (const Hit& h : hits(text)) {
    if (h.category == category && h.value == value) return ::testing::AssertionSuccess();
    all += " [" + h.category + ":" + h.value + "]";
  }
  return ::testing::AssertionFailure()
         << "no " << category << " '" << value << "' in: " << text << "\n found:" << all;
}

::testing::AssertionResult clean(std::string_view text) {
  std::string all;
  for (const Hit& h : hits(text)) all += " [" + h.category + ":" + h.value + "]";
  if (all.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected nothing in: " << text << "\n found:" << all;
}

TEST(Secrets, CloudKeysAreFound) {
  EXPECT_TRUE(finds("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "secret", "AKIAIOSFODNN7EXAMPLE"));
  EXPECT_TRUE(finds("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
  EXPECT_TRUE(finds("key=AIzaSyD3x8Kq9_f2LmNpQrStUvWxYz012345678", "secret",
                    "AIzaSyD3x8Kq9_f2LmNpQrStUvWxYz012345678"));
  EXPECT_TRUE(
      finds("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey="
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net",
            "secret", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="));
  EXPECT_TRUE(finds("https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=AbCdEf%2BGhIjKlMnOp%3D",
                    "secret", "AbCdEf%2BGhIjKlMnOp%3D"));
  EXPECT_TRUE(finds("id LTAI5tQ9xYzAbCdEfGhIjK1 ok", "secret", "LTAI5tQ9xYzAbCdEfGhIjK1"));
  EXPECT_TRUE(finds("SecretId: AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA", "secret",
                    "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA"));
}

// Credentials in the config files of the tools a GPU node runs: a kubeconfig's client key and
// a Docker registry login (base64 of user:password).
TEST(Secrets, KubeconfigAndDockerCredentialsAreFound) {
  EXPECT_TRUE(finds("    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlF",
                    "secret", "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlF"));
  EXPECT_TRUE(finds(R"({"auths":{"registry.example.com":{"auth":"ZGVwbG95OlN1cGVyU2VjcmV0"}}})",
                    "secret", "ZGVwbG95OlN1cGVyU2VjcmV0"));
  EXPECT_TRUE(finds(R"("identitytoken": "b1f5c0de-token-value-9f8e7d")", "secret",
                    "b1f5c0de-token-value-9f8e7d"));
  // A certificate is public: its data stays.
  EXPECT_TRUE(clean("    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"));
}

TEST(Secrets, VendorTokensAreFound) {
  for (std::string_view t :
       {"ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
        "sk-ant-api03-AbCdEf1234567890GhIjKlMnOp_qrstuvwx-yz",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "pypi-AgEIcHlwaS5vcmcCJGE0ZjE2ZjI0LTk3ZDUtNGQ5OS1iN2Y2"}) {
    EXPECT_TRUE(finds("token " + std::string(t) + " end", "secret", t));
  }
  EXPECT_TRUE(finds("https://hooks.slack.com/services/T0123ABCD/B0456EFGH/AbCdEfGhIjKlMnOpQrStUvWx",
                    "secret", "T0123ABCD/B0456EFGH/AbCdEfGhIjKlMnOpQrStUvWx"));
  EXPECT_TRUE(finds("export WANDB_API_KEY=0123456789abcdef0123456789abcdef01234567", "secret",
                    "0123456789abcdef0123456789abcdef01234567"));
}

TEST(Secrets, JwtNeedsAHeaderWithAlg) {
  const std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
      "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  EXPECT_TRUE(finds("Authorization: Bearer " + jwt, "secret", jwt));
  EXPECT_TRUE(jwt_header_has_alg(jwt));
  EXPECT_FALSE(jwt_header_has_alg("eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.abc"));  // {"foo":"bar"}
}

TEST(Secrets, PemPrivateKeyBodyIsOneFindingOverLines) {
  const std::string body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\nAbCd==";
  auto h = hits("-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].value, body);
}

TEST(Secrets, PemKeysAfterLongTextAndInsideJsonStrings) {
  // The key detectors run from the first line naming a private key: one far down a long
  // text, two in a row, and one escaped in a JSON string are all replaced.
  const auto redacted = [](const std::string& text) {
    PlaceholderMap map;
    return shipped().redact(text, map).text;
  };
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "step " + std::to_string(i) + " loss 0.25\n";
  text +=
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
      "-----END PRIVATE KEY-----\n";
  text +=
      "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBmVtbY0e4WkQpB9wUu1Y\n"
      "-----END EC PRIVATE KEY-----\n";
  const std::string out = redacted(text);
  for (const char* part : {"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BKcwggSjAgEAAoIBAQC7",
                           "MHcCAQEEIBmVtbY0e4WkQpB9wUu1Y"}) {
    EXPECT_EQ(out.find(part), std::string::npos) << part;
  }
  EXPECT_NE(out.find("-----END EC PRIVATE KEY-----"), std::string::npos);
  const std::string json =
      R"({"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----\n"})";
  EXPECT_EQ(redacted(json).find("MIIEvQIBADANBgkqhkiG9w0B"), std::string::npos);
}

TEST(Secrets, PasswordsInUrlsCommandLinesAndFiles) {
  EXPECT_TRUE(
      finds("postgresql://app:S3cr3t!pw@db.corp.internal:5432/prod", "secret", "S3cr3t!pw"));
  EXPECT_TRUE(finds("Server=db;Database=x;User Id=sa;Password=Pa55word;", "secret", "Pa55word"));
  EXPECT_TRUE(finds("mysql -u root -pHunter22 mydb", "secret", "Hunter22"));
  EXPECT_TRUE(finds("./train --password=opensesame1", "secret", "opensesame1"));
  EXPECT_TRUE(finds("./train --password opensesame1", "secret", "opensesame1"));
  EXPECT_TRUE(finds("PGPASSWORD=tr0ub4dor psql -h db", "secret", "tr0ub4dor"));
  EXPECT_TRUE(finds("sshpass -p 'letmein9' ssh node", "secret", "'letmein9'"));
  EXPECT_TRUE(finds("machine api.example.com login bob password pw12345", "secret", "pw12345"));
  EXPECT_TRUE(finds("db.example.com:5432:app:bob:xyzzy42", "secret", "xyzzy42"));
  EXPECT_TRUE(
      finds("index-url = https://bob:pipPass9@pypi.corp.example.com/simple", "secret", "pipPass9"));
  EXPECT_TRUE(finds("Authorization: Basic Ym9iOnNlY3JldA==", "secret", "Ym9iOnNlY3JldA=="));
  EXPECT_TRUE(finds(R"({"password": "correct horse battery"})", "secret", "correct horse battery"));
  EXPECT_TRUE(finds("api_key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0", "secret",
                    "9f8e7d6c5b4a39281706f5e4d3c2b1a0"));
}

TEST(Secrets, BenignAssignmentsSurvive) {
  EXPECT_TRUE(clean("password: ${DB_PASSWORD}"));
  EXPECT_TRUE(clean("max_tokens=512 num_tokens: 4096 tokenizer: meta-llama/Llama-3.1-8B"));
  EXPECT_TRUE(clean("secret_name: registry-credentials"));
  EXPECT_TRUE(clean("token: <your token here>"));
  EXPECT_TRUE(clean("docker login --password-stdin"));
  EXPECT_TRUE(clean("api_key: not-set-yet"));
}

TEST(Personal, AddressesAndNames) {
  EXPECT_TRUE(finds("mail alice.w@corp.example.com now", "email", "alice.w@corp.example.com"));
  EXPECT_TRUE(finds("from 10.20.30.40 port 22", "ip", "10.20.30.40"));
  EXPECT_TRUE(
      finds("addr fe80::1ff:fe23:4567:890a%eth0 up", "ip", "fe80::1ff:fe23:4567:890a%eth0"));
  EXPECT_TRUE(finds("link/ether 3c:ec:ef:12:34:56 brd", "mac", "3c:ec:ef:12:34:56"));
  EXPECT_TRUE(finds("connect to gpu07.cluster.internal", "host", "gpu07.cluster.internal"));
  EXPECT_TRUE(finds("Accepted publickey for bob from 10.0.0.8", "user", "bob"));
  EXPECT_TRUE(finds("cd /home/carol/project", "user", "carol"));
  EXPECT_TRUE(finds("owner is alice today", "user", "alice"));  // from /etc/passwd
}

TEST(Personal, Ipv6FormsAndTimesThatAreNot) {
  EXPECT_TRUE(finds("peer 2001:db8:85a3::8a2e:370:7334 up", "ip", "2001:db8:85a3::8a2e:370:7334"));
  EXPECT_TRUE(finds("peer 2001:0db8:0000:0000:0000:ff00:0042:8329 up", "ip",
                    "2001:0db8:0000:0000:0000:ff00:0042:8329"));
  EXPECT_TRUE(finds("from ::ffff:10.20.30.40 port 22", "ip", "::ffff:10.20.30.40"));
  EXPECT_TRUE(finds("route 2001:db8::/32", "ip", "2001:db8::"));
  EXPECT_TRUE(clean("at 12:34:56 and 2024-05-06T10:22:33 ok"));
  EXPECT_TRUE(clean("bind :: and ::1 only"));
}

TEST(Personal, VersionStringsAreNotAddresses) {
  EXPECT_TRUE(clean("driver version 1.2.3.4 loaded"));
  EXPECT_TRUE(clean("VBIOS Version : 96.00.89.00.01"));
  EXPECT_TRUE(clean("oid 1.3.6.1.4.1.2021"));
  EXPECT_TRUE(clean("listen 0.0.0.0 and 127.0.0.1"));
}

TEST(Personal, FileNamesAndCodeAreNotHosts) {
  EXPECT_TRUE(clean("loaded model.safetensors and config.json via train.py"));
  EXPECT_TRUE(clean("File \"/usr/lib/python3/dist-packages/torch/nn/modules/module.py\", line 1"));
  EXPECT_TRUE(clean("logger.info(msg) self.info np.int"));
  EXPECT_TRUE(clean("pull nvcr.io/nvidia/pytorch:24.01-py3 from github.com"));
}

TEST(Personal, NumbersWithCheckDigits) {
  EXPECT_TRUE(finds("card 4111 1111 1111 1111 exp", "card", "4111 1111 1111 1111"));
  EXPECT_TRUE(clean("card 4111 1111 1111 1112 exp"));  // Luhn fails
  EXPECT_TRUE(luhn_valid("378282246310005"));
  EXPECT_TRUE(finds("id 11010519491231002X ok", "national_id", "11010519491231002X"));
  EXPECT_TRUE(cn_resident_id_valid("11010519491231002X"));
  EXPECT_FALSE(cn_resident_id_valid("110105194912310021"));
  EXPECT_TRUE(finds("SSN: 123-45-6789", "national_id", "123-45-6789"));
  EXPECT_TRUE(clean("ssn 000-12-3456"));
}

TEST(Personal, PhonesAndSerials) {
  EXPECT_TRUE(finds("call +44 20 7946 0958", "phone", "+44 20 7946 0958"));
  EXPECT_TRUE(finds("mobile 13812345678", "phone", "13812345678"));
  EXPECT_TRUE(finds("office (415) 555-0132", "phone", "(415) 555-0132"));
  EXPECT_TRUE(finds("    Serial Number                         : 1320221034567", "serial",
                    "1320221034567"));
  EXPECT_TRUE(clean("\tSerial Number: Not Specified"));
  EXPECT_TRUE(clean("rx_bytes=13812345678"));
}

TEST(LookAlikes, IdentifiersSurvive) {
  EXPECT_TRUE(clean("commit 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39"));
  EXPECT_TRUE(
      clean("image sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
  EXPECT_TRUE(clean("job 123e4567-e89b-12d3-a456-426614174000 on 0000:3b:00.0"));
  EXPECT_TRUE(clean("segfault at 0x7ffd5a3c2b10 ip 00007f3a1b2c3d4e"));
  EXPECT_TRUE(clean("CUDA Version: 12.4 Driver Version: 550.54.15 at 2024-05-01T10:22:33Z"));
}

TEST(DetectorFiles, UnknownKeyFailsWithFileAndLine) {
  auto r = DetectorSet::parse("schema_version = 1\n\n[[detector]]\nid = \"x\"\nregexp = 'a'\n",
                              "bad.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("bad.toml:5"), std::string::npos) << r.error().message();
}

TEST(DetectorFiles, BadRegexFailsWithFileLineAndField) {
  auto r = DetectorSet::parse(
      "schema_version = 1\n[[detector]]\nid = \"ok\"\ncategory = \"secret\"\nregex = 'a'\n"
      "source = \"s\"\n\n[[detector]]\nid = \"broken\"\ncategory = \"secret\"\n"
      "regex = '(unclosed'\nsource = \"s\"\n",
      "site.toml");
  ASSERT_FALSE(r.has_value());
  // A broken data file is broken data (exit 1), not a usage error (exit 2).
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message().find("site.toml:8: detector 'broken': regex: RE2 rejects it"),
            std::string::npos)
      << r.error().message();
}

TEST(DetectorFiles, MissingSourceAndUnknownValidatorAreErrors) {
  auto r = DetectorSet::parse(
      "schema_version = 1\n[[detector]]\nid = \"x\"\ncategory = \"secret\"\nregex = 'a'\n",
      "f.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("f.toml:2: detector 'x': source: missing"), std::string::npos)
      << r.error().message();
  r = DetectorSet::parse(
      "schema_version = 1\n[[detector]]\nid = \"x\"\ncategory = \"secret\"\nregex = 'a'\n"
      "source = \"s\"\nvalidate = \"bogus\"\n",
      "f.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("validate: unknown validator 'bogus'"), std::string::npos);
}

}  // namespace
}  // namespace aion::privacy
