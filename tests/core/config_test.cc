#include "aion/core/config.h"

#include <gtest/gtest.h>

namespace aion {
namespace {

ConfigSchema test_schema() {
  ConfigSchema gpu;
  gpu.string("model", "A100-SXM4-80GB", "GPU model").integer("numa_node", 0, "NUMA node", 0, 64);
  ConfigSchema s;
  s.path("daemon.state_dir", "/var/lib/aion", "Where state lives")
      .string("log.level", "info", "Log level", {"debug", "info", "warn", "error"})
      .integer("api.threads", 2, "Worker threads", 1, 64)
      .boolean("api.tcp.enabled", false, "TCP listener")
      .number("x.ratio", 0.5, "A ratio")
      .strings("x.names", {"a"}, "Names")
      .table_array("simulate.gpu", gpu, "Simulated GPUs");
  return s;
}

TEST(ConfigTest, DefaultsFillEveryKey) {
  Config c = Config::defaults(test_schema());
  EXPECT_EQ(c.get_string("daemon.state_dir"), "/var/lib/aion");
  EXPECT_EQ(c.get_int("api.threads"), 2);
  EXPECT_FALSE(c.get_bool("api.tcp.enabled"));
  EXPECT_TRUE(c.get_tables("simulate.gpu").empty());
  EXPECT_FALSE(c.is_set("api.threads"));
}

TEST(ConfigTest, ParsesValuesAndNestedTables) {
  auto c = Config::parse(R"(
[daemon]
state_dir = "/tmp/s"
[api]
threads = 4
[api.tcp]
enabled = true
[x]
ratio = 2
names = ["p", "q"]
[[simulate.gpu]]
model = "H100"
numa_node = 1
[[simulate.gpu]]
numa_node = 3
)",
                         "aion.toml", test_schema());
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->get_string("daemon.state_dir"), "/tmp/s");
  EXPECT_EQ(c->get_int("api.threads"), 4);
  EXPECT_TRUE(c->get_bool("api.tcp.enabled"));
  EXPECT_DOUBLE_EQ(c->get_double("x.ratio"), 2.0);
  EXPECT_EQ(c->get_strings("x.names"), (std::vector<std::string>{"p", "q"}));
  ASSERT_EQ(c->get_tables("simulate.gpu").size(), 2u);
  EXPECT_EQ(c->get_tables("simulate.gpu")[0].get_string("model"), "H100");
  EXPECT_EQ(c->get_tables("simulate.gpu")[1].get_string("model"), "A100-SXM4-80GB");
  EXPECT_EQ(c->get_tables("simulate.gpu")[1].get_int("numa_node"), 3);
  EXPECT_TRUE(c->is_set("api.threads"));
}

TEST(ConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  auto c = Config::parse("[daemon]\nstate_dir = \"/x\"\nthreads = = 3\n", "/etc/aion/aion.toml",
                         test_schema());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kConfig);
  EXPECT_EQ(c.error().message().rfind("/etc/aion/aion.toml:3:", 0), 0u) << c.error().message();
  EXPECT_NE(c.error().message().find("syntax error"), std::string::npos);
}

TEST(ConfigTest, UnknownKeyIsRejectedWithSuggestion) {
  auto c = Config::parse("[daemon]\nstat_dir = \"/x\"\n", "a.toml", test_schema());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(),
            "a.toml:2:12: unknown key 'daemon.stat_dir' (did you mean 'daemon.state_dir'?)");
}

TEST(ConfigTest, UnknownSectionIsRejected) {
  auto c = Config::parse("[deamon]\nx = 1\n", "a.toml", test_schema());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("unknown section [deamon]"), std::string::npos)
      << c.error().message();
}

TEST(ConfigTest, WrongTypeNamesExpectedAndFound) {
  auto c = Config::parse("[api]\nthreads = \"four\"\n", "a.toml", test_schema());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "a.toml:2:11: api.threads: expected an integer, found string");
}

TEST(ConfigTest, EnumAndRangeAndPathAreChecked) {
  auto e = Config::parse("[log]\nlevel = \"loud\"\n", "a.toml", test_schema());
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("expected one of debug, info, warn, error, found 'loud'"),
            std::string::npos);
  auto r = Config::parse("[api]\nthreads = 0\n", "a.toml", test_schema());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("between 1 and 64"), std::string::npos);
  auto p = Config::parse("[daemon]\nstate_dir = \"relative\"\n", "a.toml", test_schema());
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("absolute path"), std::string::npos);
}

TEST(ConfigTest, TableArrayElementsAreValidated) {
  auto c = Config::parse("[[simulate.gpu]]\nmodle = \"x\"\n", "a.toml", test_schema());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("unknown key 'simulate.gpu.modle'"), std::string::npos)
      << c.error().message();
  auto t = Config::parse("[[simulate.gpu]]\nnuma_node = \"one\"\n", "a.toml", test_schema());
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("simulate.gpu.numa_node: expected an integer"),
            std::string::npos)
      << t.error().message();
}

TEST(ConfigTest, MissingFileIsAConfigError) {
  auto c = Config::load("/nonexistent/aion.toml", test_schema());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kConfig);
  EXPECT_NE(c.error().message().find("/nonexistent/aion.toml"), std::string::npos);
}

TEST(ConfigTest, RenderedDefaultsParseBackToDefaults) {
  ConfigSchema s = test_schema();
  std::string text = s.render_defaults();
  auto c = Config::parse(text, "defaults", s);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE(c->is_set("api.threads"));
  EXPECT_NE(text.find("#threads = 2"), std::string::npos) << text;
  EXPECT_NE(text.find("[api.tcp]"), std::string::npos);
}

}  // namespace
}  // namespace aion
