// Golden files: what a renderer prints (CLI tables and --json, /metrics, gres.conf,
// Dockerfiles, incidents), kept in tests/golden/<name> and reviewed as diffs when it changes.
// matches_golden() compares the output, normalised, with the file; with AION_UPDATE_GOLDEN=1
// in the environment it rewrites the file instead and passes. tests/golden/README.md says how
// to regenerate them. Thread-safe as long as no two tests write the same name.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace aion::testing {

// tests/golden in the source tree.
std::filesystem::path golden_dir();

// The one place where what varies between runs and machines is made stable before a
// comparison. In this order:
//   1. the build directory (the parent of the built programs' bin/) becomes @BUILD@;
//   2. the source directory becomes @SRC@;
//   3. a TempDir path (<temp dir>/aion-<tag>-XXXXXX, see temp_dir.h) becomes @TMP@;
//   4. a measured run time, the number of a JSON member named "seconds" (the stats of
//      `aion --json diagnose`), becomes the string "@DURATION@".
// Renderers print fixture data (fixed times, hosts, pids) as is; output that depends on the
// clock must be rendered with a fixed clock by the test, not patched here.
std::string normalize_output(std::string_view text);

// Success when normalize_output(actual) equals tests/golden/<name> byte for byte; otherwise
// a failure that names the file, the first differing line and how to accept the change.
// With AION_UPDATE_GOLDEN=1, writes the file (when it differs) and succeeds.
::testing::AssertionResult matches_golden(std::string_view name, std::string_view actual);
// The same against any file (the helper's own tests use a TempDir).
::testing::AssertionResult matches_golden_file(const std::filesystem::path& file,
                                               std::string_view actual);

// For machine-readable JSON (`--json`), whose contract is its members and values, not its
// layout: `actual` must be one JSON document; it is laid out with 2-space indents (members in
// the order printed) before normalize_output() and the comparison, so that a change reads as
// a diff of the members that changed. A renderer whose layout is the product (a file users
// keep, such as a devcontainer.json) uses matches_golden() instead.
::testing::AssertionResult matches_golden_json(std::string_view name, std::string_view actual);

}  // namespace aion::testing

#define EXPECT_GOLDEN(name, actual) EXPECT_TRUE(::aion::testing::matches_golden((name), (actual)))
#define EXPECT_GOLDEN_JSON(name, actual) \
  EXPECT_TRUE(::aion::testing::matches_golden_json((name), (actual)))
