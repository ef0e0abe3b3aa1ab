// Every way out is proven before it is offered: for every machine description in
// tests/fixtures/machines, every framework and every release in the current tables (and every
// toolkit release), the plan is made, and each way out it offers is taken (the host upgrade
// applied to the machine, the request it names planned again); the new plan must fit. The
// count of (machine, request, way out) triples checked is printed and recorded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "aion/envcfg/resolver.h"
#include "support/fixtures.h"
#include "test_util.h"

namespace aion::envcfg {
namespace {

namespace fs = std::filesystem;
using testing::current_kb;

std::vector<std::string> machine_names() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(::aion::testing::fixture_path("machines")))
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Every request worth asking: each framework alone and at each release, each toolkit alone
// and at each release.
std::vector<std::string> requests(const Knowledge& kb) {
  std::vector<std::string> out;
  for (const auto& f : kb.frameworks) {
    out.push_back(f.name);
    for (const auto* r : kb.releases_of(f.name)) out.push_back(f.name + "==" + r->version.text());
  }
  out.push_back("cuda");
  for (const auto& t : kb.toolkits) out.push_back("cuda==" + t.version.text());
  out.push_back("rocm");
  for (const auto& r : kb.rocm) out.push_back("rocm==" + r.version.text());
  out.push_back("cann");
  for (const auto& c : kb.cann) out.push_back("cann==" + c.version.text());
  return out;
}

TEST(EnvWaysOutTest, EveryOfferedWayOutResolvesWhenTaken) {
  const Knowledge& kb = current_kb();
  std::size_t plans = 0, failing = 0, triples = 0, without = 0, dropped = 0;
  std::set<std::string> kinds;
  for (const auto& name : machine_names()) {
    const Machine m = testing::machine(name, kb);
    for (const auto& request : requests(kb)) {
      auto p = make_plan(kb, m, {request, "", ""});
      ASSERT_TRUE(p) << name << " / " << request << ": " << p.error().message();
      ++plans;
      if (p->ok) continue;
      ++failing;
      if (p->ways_out.empty()) ++without;
      dropped += p->ways_out_dropped;
      for (const auto& w : p->ways_out) {
        ++triples;
        kinds.insert(w.kind);
        auto again = make_plan(kb, apply_way_out(m, w), w.request);
        ASSERT_TRUE(again) << name << " / " << request << " -> [" << w.kind << "] " << w.text
                           << ": " << again.error().message();
        EXPECT_TRUE(again->ok) << name << " / " << request << " -> [" << w.kind << "] " << w.text
                               << "\n"
                               << plan_to_json(*again);
      }
    }
  }
  std::string kind_list;
  for (const auto& k : kinds) kind_list += (kind_list.empty() ? "" : ",") + k;
  std::printf(
      "ways out: %zu plans over %zu machines, %zu did not fit (%zu with no way out); %zu "
      "(machine, request, way out) triples re-planned, all fit; %zu offered by the rules were "
      "dropped by make_plan because they did not fit; kinds: %s\n",
      plans, machine_names().size(), failing, without, triples, dropped, kind_list.c_str());
  ::testing::Test::RecordProperty("plans", static_cast<int>(plans));
  ::testing::Test::RecordProperty("triples", static_cast<int>(triples));
  EXPECT_GT(triples, 100u);  // the fixtures include old drivers, old ROCm and missing GPUs
  for (const char* k : {"driver", "version", "cpu", "rocm"}) EXPECT_TRUE(kinds.count(k)) << k;
}

}  // namespace
}  // namespace aion::envcfg
