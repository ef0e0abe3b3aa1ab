#include "aion/cluster/trace.h"

#include <gtest/gtest.h>

namespace aion::cluster {
namespace {

TEST(TraceTest, ReadsNodesByHeaderName) {
  auto nodes = parse_nodes("model,gpu,sn,memory_mib,cpu_milli\nT4,2,n0,1024,8000\n,0,n1,64,1000\n",
                           "nodes.csv");
  ASSERT_TRUE(nodes) << nodes.error().message();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].name, "n0");
  EXPECT_EQ((*nodes)[0].gpus, 2);
  EXPECT_EQ((*nodes)[0].model, "T4");
  EXPECT_EQ((*nodes)[0].cpu_milli, 8000);
  EXPECT_EQ((*nodes)[1].gpus, 0);
}

TEST(TraceTest, ReadsPodsWithOptionalColumns) {
  auto pods = parse_pods(
      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time\r\n"
      "p0,4000,100,1,500,V100M16|V100M32,10,20\r\np1,1000,0,0,0,,5,\r\n",
      "pods.csv");
  ASSERT_TRUE(pods) << pods.error().message();
  ASSERT_EQ(pods->size(), 2u);
  EXPECT_EQ((*pods)[0].gpu_spec, "V100M16|V100M32");
  EXPECT_EQ((*pods)[0].creation_time, 10);
  EXPECT_EQ((*pods)[1].deletion_time, -1);
  auto bare = parse_pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,2,1000\n", "x");
  ASSERT_TRUE(bare);
  EXPECT_EQ((*bare)[0].creation_time, -1);
}

TEST(TraceTest, ErrorsNameFileLineAndColumn) {
  auto bad = parse_pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,1,500\np1,1,1,1,5x0\n",
                        "pods.csv");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "pods.csv:3:5 (gpu_milli): '5x0' is not an integer");

  auto range = parse_pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,1,1500\n", "p.csv");
  ASSERT_FALSE(range);
  EXPECT_NE(range.error().message().find("p.csv:2:5 (gpu_milli): 1500 is out of range"),
            std::string::npos);

  auto missing = parse_nodes("sn,cpu_milli,gpu,model\nn,1,1,T4\n", "n.csv");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "n.csv:1: missing column 'memory_mib'");

  auto fields = parse_nodes("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,1\n", "n.csv");
  ASSERT_FALSE(fields);
  EXPECT_EQ(fields.error().message(), "n.csv:2: expected 5 fields, found 4");

  auto share = parse_pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,2,500\n", "p.csv");
  ASSERT_FALSE(share);
  EXPECT_NE(share.error().message().find("whole"), std::string::npos);

  auto none = load_pods("/nonexistent/pods.csv");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace aion::cluster
