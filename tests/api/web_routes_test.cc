// The dashboard's door: sessions opened with a token, the session cookie, the CSRF rule for
// every state-changing call made with it, and the static files served without credentials.
// Played over a real TCP listener with raw HTTP, as a browser and as an attacker would.
#include "aion/api/web_routes.h"

#include <atomic>
#include <regex>

#include <gtest/gtest.h>

#include "aion/api/server.h"
#include "aion/api/sessions.h"
#include "support/sockets.h"

namespace aion::api {
namespace {

using namespace std::chrono_literals;

TEST(CookieTest, FindsTheNamedValueAmongOthers) {
  EXPECT_EQ(cookie_value("a=1; aion_session=abc; b=2", "aion_session"), "abc");
  EXPECT_EQ(cookie_value("aion_session=abc", "aion_session"), "abc");
  EXPECT_EQ(cookie_value(" x_aion_session=no;aion_session = yes ", "aion_session"), "yes");
  EXPECT_FALSE(cookie_value("a=1; b", "aion_session"));
  EXPECT_FALSE(cookie_value("", "aion_session"));
}

TEST(CookieTest, SessionCookieIsHttpOnlyStrictAndSecureUnderTls) {
  std::string plain = session_cookie("id", false);
  EXPECT_NE(plain.find("HttpOnly"), std::string::npos);
  EXPECT_NE(plain.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(plain.find("Secure"), std::string::npos);
  EXPECT_NE(session_cookie("id", true).find("; Secure"), std::string::npos);
  EXPECT_NE(session_cookie("", false, true).find("Max-Age=0"), std::string::npos);
}

TEST(SessionStoreTest, FindsCreatedSessionsUntilRemoved) {
  SessionStore store;
  NewSession s = store.create("tok");
  EXPECT_EQ(s.id.size(), 64u);
  EXPECT_EQ(s.csrf.size(), 64u);
  EXPECT_NE(s.id, s.csrf);
  auto found = store.find(s.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->token, "tok");
  EXPECT_EQ(found->csrf, s.csrf);
  EXPECT_FALSE(store.find(s.csrf)) << "the CSRF token is not a session id";
  EXPECT_FALSE(store.find("short"));
  store.remove(s.id);
  EXPECT_FALSE(store.find(s.id));
}

TEST(SessionStoreTest, DropsTheLeastRecentlyUsedPastItsBound) {
  SessionStore store(std::chrono::hours(1), 2);
  NewSession a = store.create("a");
  NewSession b = store.create("b");
  ASSERT_TRUE(store.find(a.id));  // a is now the more recent
  NewSession c = store.create("c");
  EXPECT_EQ(store.size(), 2u);
  EXPECT_TRUE(store.find(a.id));
  EXPECT_FALSE(store.find(b.id));
  EXPECT_TRUE(store.find(c.id));
}

TEST(SessionStoreTest, IdleSessionsExpire) {
  SessionStore store(std::chrono::seconds(0));
  NewSession s = store.create("t");
  std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(store.find(s.id));
}

TEST(CsrfTest, ReadsNeverNeedTheTokenWritesAlways) {
  Request r;
  r.method = "GET";
  EXPECT_EQ(csrf_refusal(r, "secret"), "");
  r.method = "POST";
  r.headers["host"] = "127.0.0.1:7070";
  EXPECT_NE(csrf_refusal(r, "secret"), "");
  r.headers["x-csrf-token"] = "wrong!";
  EXPECT_NE(csrf_refusal(r, "secret"), "");
  r.headers["x-csrf-token"] = "secret";
  EXPECT_EQ(csrf_refusal(r, "secret"), "");
  r.headers["origin"] = "http://127.0.0.1:7070";
  EXPECT_EQ(csrf_refusal(r, "secret"), "");
  r.headers["origin"] = "http://127.0.0.1:8080";  // another port: same site, other origin
  EXPECT_NE(csrf_refusal(r, "secret"), "");
  r.headers["origin"] = "null";
  EXPECT_NE(csrf_refusal(r, "secret"), "");
  r.headers.erase("origin");
  EXPECT_NE(csrf_refusal(r, ""), "") << "an empty token never matches";
}

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
  std::string header(const std::string& name) const {
    std::smatch m;
    std::regex re("\\r\\n" + name + ": ([^\\r]*)\\r\\n", std::regex::icase);
    return std::regex_search(head, m, re) ? m[1].str() : "";
  }
};

class WebServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add({"GET", "/v1/status", Role::kViewer, "status", [](Request& q) {
                   return Response::json_text(200, "{\"caller\":\"" + q.caller.name + "\"}");
                 }});
    router_.add({"POST", "/v1/jobs", Role::kOperator, "submit", [this](Request&) {
                   ++submitted_;
                   return Response::json_text(201, "{}");
                 }});
    Authenticator auth = [this](std::string_view token) -> Result<Identity> {
      if (token == "good" && !revoked_) return Identity{Role::kOperator, "token:good", -1};
      if (token == "viewer") return Identity{Role::kViewer, "token:viewer", -1};
      return fail(ErrorCode::kUnauthenticated, "unknown or revoked token");
    };
    add_web_routes(router_, sessions_, auth, {});
    server_ = std::make_unique<Server>(
        ServerOptions{.tcp_listen = "127.0.0.1:0", .sessions = sessions_}, router_, auth);
    ASSERT_TRUE(server_->start());
    std::string addr = server_->listeners().at(0).address;
    host_ = addr;
    port_ = std::stoi(addr.substr(addr.rfind(':') + 1));
  }
  void TearDown() override { server_->stop(1s); }

  Reply call(const std::string& method, const std::string& path, const std::string& headers = "",
             const std::string& body = "") {
    int fd = ::aion::testing::connect_from("127.0.0.1", port_);
    EXPECT_GE(fd, 0);
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + host_ +
                      "\r\nConnection: close\r\n" + headers +
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    ::aion::testing::send_all(fd, req);
    std::string raw = ::aion::testing::read_until_closed(fd, 5s);
    ::close(fd);
    Reply r;
    auto split = raw.find("\r\n\r\n");
    r.head = raw.substr(0, split + 2);
    r.body = split == std::string::npos ? "" : raw.substr(split + 4);
    if (raw.size() > 12) r.status = std::stoi(raw.substr(9, 3));
    return r;
  }

  // Logs in with `token`; returns the Cookie header line and the CSRF token.
  std::pair<std::string, std::string> login(const std::string& token) {
    Reply r = call("POST", "/v1/session", "Content-Type: application/json\r\n",
                   "{\"token\":\"" + token + "\"}");
    EXPECT_EQ(r.status, 200) << r.body;
    std::string cookie = r.header("Set-Cookie");
    std::string value = cookie.substr(0, cookie.find(';'));
    std::smatch m;
    std::regex re("\"csrf\":\"([0-9a-f]+)\"");
    std::regex_search(r.body, m, re);
    return {"Cookie: " + value + "\r\n", m[1].str()};
  }

  std::shared_ptr<SessionStore> sessions_ = std::make_shared<SessionStore>();
  Router router_;
  std::unique_ptr<Server> server_;
  std::string host_;
  int port_ = 0;
  std::atomic<int> submitted_{0};
  std::atomic<bool> revoked_{false};
};

TEST_F(WebServerTest, ThePageIsServedWithoutCredentialsUnderAStrictPolicy) {
  Reply r = call("GET", "/");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_NE(r.body.find("<html"), std::string::npos) << "the compiled-in index.html";
  EXPECT_NE(r.header("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_NE(r.header("Content-Security-Policy").find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
  Reply again = call("GET", "/", "If-None-Match: " + r.header("ETag") + "\r\n");
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(call("GET", "/v1/status").status, 401) << "the API itself still needs a credential";
}

TEST_F(WebServerTest, FileNamesCannotLeaveTheDashboard) {
  for (std::string p :
       {"/ui/..%2F..%2Fetc%2Fpasswd", "/ui/%2e%2e/passwd", "/ui/.hidden", "/ui/no-such-file.js"}) {
    EXPECT_EQ(call("GET", p).status, 404) << p;
  }
  // Deeper paths reach no route, so no public one: the caller is asked who it is.
  EXPECT_EQ(call("GET", "/ui/a/b/c.js").status, 401);
}

TEST_F(WebServerTest, ALoginGivesAnHttpOnlyCookieThatActsAsTheToken) {
  Reply bad = call("POST", "/v1/session", "", "{\"token\":\"nope\"}");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.header("Set-Cookie"), "");
  Reply r = call("POST", "/v1/session", "", "{\"token\":\"good\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string cookie = r.header("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_EQ(r.body.find("\"token\""), std::string::npos) << "never echoed: " << r.body;
  auto [c, csrf] = login("good");
  Reply who = call("GET", "/v1/status", c);
  EXPECT_EQ(who.status, 200);
  EXPECT_NE(who.body.find("token:good"), std::string::npos);
  Reply me = call("GET", "/v1/session", c);
  EXPECT_NE(me.body.find(csrf), std::string::npos) << "a reloaded page gets its CSRF token back";
}

TEST_F(WebServerTest, ACookieAloneChangesNothing) {
  auto [c, csrf] = login("good");
  EXPECT_EQ(call("POST", "/v1/jobs", c, "{}").status, 403);
  EXPECT_EQ(
      call("POST", "/v1/jobs", c + "X-CSRF-Token: " + std::string(64, '0') + "\r\n", "{}").status,
      403);
  // Another port of the same host is the same site (the Strict cookie is sent) but another
  // origin: refused even with the right token.
  EXPECT_EQ(call("POST", "/v1/jobs",
                 c + "X-CSRF-Token: " + csrf + "\r\nOrigin: http://127.0.0.1:1\r\n", "{}")
                .status,
            403);
  // A form post from another origin cannot set the header; the login itself is guarded too.
  EXPECT_EQ(
      call("POST", "/v1/session", "Origin: http://evil.example\r\n", "{\"token\":\"good\"}").status,
      403);
  EXPECT_EQ(submitted_, 0);
  Reply ok = call("POST", "/v1/jobs",
                  c + "X-CSRF-Token: " + csrf + "\r\nOrigin: http://" + host_ + "\r\n", "{}");
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(submitted_, 1);
}

TEST_F(WebServerTest, RolesOfTheTokenApplyThroughTheSession) {
  auto [c, csrf] = login("viewer");
  Reply r = call("POST", "/v1/jobs", c + "X-CSRF-Token: " + csrf + "\r\n", "{}");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(submitted_, 0);
}

TEST_F(WebServerTest, LogoutAndRevocationEndTheSession) {
  auto [c, csrf] = login("good");
  EXPECT_EQ(call("DELETE", "/v1/session", c).status, 403) << "logout needs the CSRF token too";
  Reply out = call("DELETE", "/v1/session", c + "X-CSRF-Token: " + csrf + "\r\n");
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(out.header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(call("GET", "/v1/status", c).status, 401);

  auto [c2, csrf2] = login("good");
  EXPECT_EQ(call("GET", "/v1/status", c2).status, 200);
  revoked_ = true;
  EXPECT_EQ(call("GET", "/v1/status", c2).status, 401) << "a revoked token ends its sessions";
  EXPECT_EQ(sessions_->size(), 0u);
}

}  // namespace
}  // namespace aion::api
