#include "aion/core/error.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace aion {
namespace {

TEST(ErrorTest, ContextIsPrependedInOrder) {
  Error e(ErrorCode::kNotFound, "no such file");
  e.context("reading x").context("loading config");
  EXPECT_EQ(e.message(), "loading config: reading x: no such file");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
}

TEST(ErrorTest, ErrnoMapsToCodes) {
  EXPECT_EQ(errno_error(ENOENT, "x").code(), ErrorCode::kNotFound);
  EXPECT_EQ(errno_error(EACCES, "x").code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(errno_error(ENOSPC, "x").code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(errno_error(EIO, "x").code(), ErrorCode::kIo);
  EXPECT_NE(errno_error(ENOENT, "opening /a").message().find("opening /a: "), std::string::npos);
}

TEST(ErrorTest, CodeNamesAreStableSnakeCase) {
  EXPECT_EQ(to_string(ErrorCode::kPermissionDenied), "permission_denied");
  EXPECT_EQ(to_string(ErrorCode::kResourceExhausted), "resource_exhausted");
}

TEST(ErrorTest, FailBuildsAnUnexpected) {
  Result<int> r = fail(ErrorCode::kConflict, "busy");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kConflict);
}

}  // namespace
}  // namespace aion
