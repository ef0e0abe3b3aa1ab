#include "aion/api/router.h"

#include <gtest/gtest.h>

namespace aion::api {
namespace {

Router make_router() {
  Router r;
  r.add({"GET", "/v1/status", Role::kViewer, "status",
         [](Request&) { return Response::json_text(200, "{}"); }});
  r.add({"DELETE", "/v1/admin/tokens/{id}", Role::kAdmin, "revoke",
         [](Request& q) { return Response::json_text(200, "\"" + q.params.at("id") + "\""); }});
  r.add({"POST", "/v1/events", Role::kOperator, "post",
         [](Request&) -> Response { throw std::runtime_error("boom"); }});
  return r;
}

Request req(std::string method, std::string path, Role role) {
  Request q;
  q.method = std::move(method);
  q.path = std::move(path);
  q.caller = {role, "test", -1};
  return q;
}

TEST(RouterTest, MatchesPatternAndFillsParams) {
  Router r = make_router();
  auto q = req("DELETE", "/v1/admin/tokens/ab%20c", Role::kAdmin);
  Response res = r.dispatch(q);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "\"ab c\"");
}

TEST(RouterTest, LowRoleGets403InEnvelope) {
  Router r = make_router();
  auto q = req("DELETE", "/v1/admin/tokens/x", Role::kOperator);
  Response res = r.dispatch(q);
  EXPECT_EQ(res.status, 403);
  EXPECT_NE(res.body.find("\"code\":\"permission_denied\""), std::string::npos) << res.body;
}

TEST(RouterTest, UnknownPathIs404AndWrongMethodIs405) {
  Router r = make_router();
  auto a = req("GET", "/v1/nope", Role::kAdmin);
  EXPECT_EQ(r.dispatch(a).status, 404);
  auto b = req("POST", "/v1/status", Role::kAdmin);
  Response res = r.dispatch(b);
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.headers["Allow"], "GET");
}

TEST(RouterTest, ThrowingHandlerBecomes500) {
  Router r = make_router();
  auto q = req("POST", "/v1/events", Role::kAdmin);
  Response res = r.dispatch(q);
  EXPECT_EQ(res.status, 500);
  EXPECT_NE(res.body.find("\"code\":\"internal\""), std::string::npos);
}

TEST(HttpTest, UrlEncodeKeepsUnreservedAndRoundTrips) {
  EXPECT_EQ(url_encode("aion_gpu{gpu=\"0\"} a+b/~_.-"),
            "aion_gpu%7Bgpu%3D%220%22%7D%20a%2Bb%2F~_.-");
  for (std::string s : {std::string("x y&z=1"), std::string("\xff\x00%", 3), std::string()}) {
    EXPECT_EQ(url_decode(url_encode(s)), s);
  }
}

TEST(HttpTest, UrlDecodeHandlesEscapesAndBadInput) {
  EXPECT_EQ(url_decode("a%2Fb+c"), "a/b c");
  EXPECT_EQ(url_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(url_decode("%41"), "A");
}

TEST(HttpTest, ErrorCodesMapToStatus) {
  EXPECT_EQ(http_status(ErrorCode::kNotFound), 404);
  EXPECT_EQ(http_status(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(http_status(ErrorCode::kResourceExhausted), 413);
  EXPECT_EQ(Response::from_error(Error(ErrorCode::kConflict, "x")).status, 409);
}

}  // namespace
}  // namespace aion::api
