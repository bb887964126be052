#include "honeypot/web_site.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace honeycomb::honeypot {
namespace {

using namespace std::string_literals;
using Fields = std::vector<std::pair<std::string, std::string>>;

WebSite site(std::string_view pages, std::string server = "nginx/1.22.1") {
  std::string error;
  auto made = WebSite::make(pages, std::move(server), "Blog", error);
  EXPECT_TRUE(made) << error;
  return *made;
}

const WebSite::Decide kNever = [](std::string_view, std::string_view) { return false; };

TEST(WebForm, DecodesLikePhp) {
  EXPECT_EQ(parse_form("log=ad%6Din&pwd=a+b%2Bc&empty=&flag"),
            (Fields{{"log", "admin"}, {"pwd", "a b+c"}, {"empty", ""}, {"flag", ""}}));
  // What RFC 3986 forbids, PHP reads: so do we.
  EXPECT_EQ(parse_form("log=<b>\"x\"&pwd=100%&bad=%zz"),
            (Fields{{"log", "<b>\"x\""}, {"pwd", "100%"}, {"bad", "%zz"}}));
  EXPECT_EQ(parse_form("a=%00%ff"), (Fields{{"a", "\x00\xff"s}}));
  std::string many;
  for (int i = 0; i < 100; ++i) {
    many += "k=v&";
  }
  EXPECT_EQ(parse_form(many).size(), 64U);
}

TEST(WebForm, HtmlEscapeCoversAttributesAndText) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#039;&amp;&#039;&lt;/a&gt;");
}

TEST(WebSite, UnknownPageSetIsRefusedByName) {
  std::string error;
  EXPECT_FALSE(WebSite::make("wordpress,joomla", "nginx", "t", error));
  EXPECT_NE(error.find("'joomla'"), std::string::npos);
}

TEST(WebSite, WordPressLoginAsksAndRecords) {
  const auto wordpress = site("wordpress");
  std::vector<WebLogin> login;
  std::string seen_user;
  std::string seen_password;
  const WebSite::Decide decide = [&](std::string_view user, std::string_view password) {
    seen_user = user;
    seen_password = password;
    return password == "right";
  };
  auto page = wordpress.answer({"GET", "/wp-login.php?redirect_to=x", "", "", ""}, decide, login);
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(login.empty());
  const WebRequest wrong{"POST", "/wp-login.php", "log=admin&pwd=wrong", "application/x-www-form-urlencoded", ""};
  page = wordpress.answer(wrong, decide, login);
  ASSERT_EQ(login.size(), 1U);
  EXPECT_EQ((std::pair{login[0].username, login[0].password}), (std::pair{"admin"s, "wrong"s}));
  EXPECT_FALSE(login[0].accepted);
  EXPECT_NE(page.body.find("is incorrect"), std::string::npos);
  const WebRequest right{"POST", "/wp-login.php", "log=admin&pwd=right", "application/x-www-form-urlencoded", ""};
  page = wordpress.answer(right, decide, login);
  ASSERT_EQ(login.size(), 2U);
  EXPECT_TRUE(login[1].accepted);
  EXPECT_EQ((std::pair{page.status, page.location}), (std::pair{302, "/wp-admin/"s}));
  const auto cookie = page.set_cookie.substr(0, page.set_cookie.find(';'));
  EXPECT_EQ(wordpress.answer({"GET", "/wp-admin/", "", "", cookie}, decide, login).status, 200);
  EXPECT_EQ(wordpress.answer({"GET", "/wp-admin/", "", "", ""}, decide, login).status, 302);
}

TEST(WebSite, NotAFormIsNotALogin) {
  const auto wordpress = site("wordpress");
  std::vector<WebLogin> login;
  // The login page again, and no attempt recorded.
  EXPECT_EQ(wordpress.answer({"POST", "/wp-login.php", "log=a&pwd=b", "text/plain", ""}, kNever, login).status, 200);
  EXPECT_TRUE(login.empty());
  EXPECT_EQ(wordpress.answer({"POST", "/wp-login.php", "pwd=b", "application/x-www-form-urlencoded", ""}, kNever, login)
                .status,
            200);
  EXPECT_TRUE(login.empty());  // no user name: WordPress says the field is empty
}

TEST(WebSite, CredentialsAreCut) {
  const auto admin = site("admin");
  std::vector<WebLogin> login;
  const auto body = "username=" + std::string(1000, 'u') + "&password=p";
  EXPECT_EQ(
      admin
          .answer({"POST", "/admin/login", body, "application/x-www-form-urlencoded; charset=UTF-8", ""}, kNever, login)
          .status,
      200);  // a failed login: the form again
  ASSERT_EQ(login.size(), 1U);
  EXPECT_EQ(login[0].username.size(), WebSite::kMaxCredential);
  EXPECT_EQ(login[0].page, "admin");
}

TEST(WebXmlRpc, PlainCallsAndMulticallsYieldEveryAttempt) {
  const auto plain =
      "<?xml version=\"1.0\"?><methodCall><methodName>wp.getUsersBlogs</methodName><params>"
      "<param><value><string>admin</string></value></param><param><value>p&amp;ss</value></param>"
      "</params></methodCall>";
  EXPECT_EQ(xmlrpc_credentials(plain), (Fields{{"admin", "p&ss"}}));
  std::string multicall = "<methodCall><methodName>system.multicall</methodName><params><param><value><array><data>";
  for (const auto* password : {"123456", "password", "admin"}) {
    multicall +=
        "<value><struct><member><name>methodName</name><value><string>wp.getUsersBlogs</string></value>"
        "</member><member><name>params</name><value><array><data><value><string>editor</string></value>"
        "<value><string>";
    multicall += password;
    multicall += "</string></value></data></array></value></member></struct></value>";
  }
  multicall += "</data></array></value></param></params></methodCall>";
  EXPECT_EQ(xmlrpc_credentials(multicall), (Fields{{"editor", "123456"}, {"editor", "password"}, {"editor", "admin"}}));
  // A blog id first (an <int>), then the credentials.
  EXPECT_EQ(xmlrpc_credentials("<methodName>wp.getPosts</methodName><value><int>1</int></value>"
                               "<value><string>u</string></value><value><string>p</string></value>"),
            (Fields{{"u", "p"}}));
  EXPECT_TRUE(xmlrpc_credentials("<methodName>system.listMethods</methodName>").empty());
  EXPECT_TRUE(xmlrpc_credentials("<methodName>wp.getUsersBlogs</methodName><string>only-one").empty());
}

TEST(WebXmlRpc, EachAttemptIsALoginOfTheSite) {
  const auto wordpress = site("wordpress");
  std::vector<WebLogin> logins;
  const WebRequest request{"POST", "/xmlrpc.php",
                           "<methodCall><methodName>wp.getUsersBlogs</methodName><params><param><value><string>"
                           "root</string></value></param><param><value><string>toor</string></value></param>"
                           "</params></methodCall>",
                           "text/xml", ""};
  const auto response = wordpress.answer(request, kNever, logins);
  ASSERT_EQ(logins.size(), 1U);
  EXPECT_EQ((std::tuple{logins[0].page, logins[0].username, logins[0].password}),
            (std::tuple{"wordpress-xmlrpc"s, "root"s, "toor"s}));
  EXPECT_NE(response.body.find("Incorrect username or password."), std::string::npos);
}

TEST(WebSite, NotFoundLooksLikeTheServer) {
  std::vector<WebLogin> login;
  const auto nginx = site("admin", "nginx/1.22.1").answer({"GET", "/x", "", "", ""}, kNever, login);
  EXPECT_EQ(nginx.status, 404);
  EXPECT_NE(nginx.body.find("<hr><center>nginx/1.22.1</center>"), std::string::npos);
  const auto apache = site("wordpress", "Apache/2.4.62 (Debian)").answer({"GET", "/x", "", "", ""}, kNever, login);
  EXPECT_NE(apache.body.find("The requested URL was not found on this server."), std::string::npos);
  EXPECT_EQ(site("admin").answer({"GET", "/", "", "", ""}, kNever, login).location, "/admin/login");
}

}  // namespace
}  // namespace honeycomb::honeypot
