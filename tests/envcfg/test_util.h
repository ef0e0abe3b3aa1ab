// Shared helpers for the envcfg tests: the real knowledge tables from the source tree and
// the recorded machine descriptions in tests/fixtures/machines.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"

namespace aion::envcfg::testing {

inline const Knowledge& kb() {
  static const Knowledge k = [] {
    auto r = load_knowledge(std::string(AION_SOURCE_DIR) + "/data/envcfg");
    if (!r) {
      ADD_FAILURE() << r.error().message();
      return Knowledge{};
    }
    return std::move(*r);
  }();
  return k;
}

inline std::string read_fixture(const std::string& rel) {
  std::ifstream in(std::string(AION_TEST_FIXTURES) + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline Machine machine(const std::string& name) {
  auto m = machine_from_json(read_fixture("machines/" + name + ".json"), name, kb());
  if (!m) {
    ADD_FAILURE() << m.error().message();
    return Machine{};
  }
  return std::move(*m);
}

}  // namespace aion::envcfg::testing
