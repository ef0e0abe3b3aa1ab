// Shared helpers for the envcfg tests: the knowledge tables and the machine descriptions in
// tests/fixtures/machines. kb() is the frozen copy of the tables the rule tests were worked
// out from (tests/fixtures/envcfg/2025-07-15), so they keep checking rules while data/envcfg
// grows; current_kb() is data/envcfg itself.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"
#include "support/fixtures.h"

namespace aion::envcfg::testing {

inline Knowledge load_tables(const std::string& dir) {
  auto r = load_knowledge(::aion::testing::source_path(dir));
  if (!r) {
    ADD_FAILURE() << r.error().message();
    return Knowledge{};
  }
  return std::move(*r);
}

inline const Knowledge& kb() {
  static const Knowledge k = load_tables("tests/fixtures/envcfg/2025-07-15");
  return k;
}

inline const Knowledge& current_kb() {
  static const Knowledge k = load_tables("data/envcfg");
  return k;
}

using ::aion::testing::read_fixture;

inline Machine machine(const std::string& name, const Knowledge& tables = kb()) {
  auto m = machine_from_json(read_fixture("machines/" + name + ".json"), name, tables);
  if (!m) {
    ADD_FAILURE() << m.error().message();
    return Machine{};
  }
  return std::move(*m);
}

}  // namespace aion::envcfg::testing
