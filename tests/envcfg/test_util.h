// Shared helpers for the envcfg tests: the real knowledge tables from the source tree and
// the machine descriptions in tests/fixtures/machines.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"
#include "support/fixtures.h"

namespace aion::envcfg::testing {

inline const Knowledge& kb() {
  static const Knowledge k = [] {
    auto r = load_knowledge(::aion::testing::source_path("data/envcfg"));
    if (!r) {
      ADD_FAILURE() << r.error().message();
      return Knowledge{};
    }
    return std::move(*r);
  }();
  return k;
}

using ::aion::testing::read_fixture;

inline Machine machine(const std::string& name) {
  auto m = machine_from_json(read_fixture("machines/" + name + ".json"), name, kb());
  if (!m) {
    ADD_FAILURE() << m.error().message();
    return Machine{};
  }
  return std::move(*m);
}

}  // namespace aion::envcfg::testing
