#include "honeypot/web_site.hpp"

#include "honeypot/bytes.hpp"

#include <array>

namespace honeycomb::honeypot {

namespace {

constexpr std::size_t kMaxFormFields = 64;
constexpr std::string_view kWordPressVersion = "6.4.3";
constexpr std::string_view kWordPressCookie = "wordpress_logged_in_";
constexpr std::string_view kAdminCookie = "admin_session=";

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

bool is_form(const WebRequest& request) {
  return request.method == "POST" && request.content_type.substr(0, 33) == "application/x-www-form-urlencoded";
}

/// The first of `names` present in `fields`, cut to kMaxCredential.
std::string field(const std::vector<std::pair<std::string, std::string>>& fields,
                  std::initializer_list<std::string_view> names) {
  for (const auto name : names) {
    for (const auto& [key, value] : fields) {
      if (key == name) {
        return value.substr(0, WebSite::kMaxCredential);
      }
    }
  }
  return {};
}

std::string wordpress_login_page(std::string_view title, std::string_view error, std::string_view user) {
  std::string page;
  page.reserve(2048);
  page +=
      "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n"
      "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n<title>Log In &lsaquo; ";
  page += html_escape(title);
  page +=
      " &#8212; WordPress</title>\n<meta name='robots' content='max-image-preview:large, noindex, noarchive' />\n"
      "<link rel='stylesheet' id='login-css' href='/wp-admin/css/login.min.css?ver=";
  page += kWordPressVersion;
  page +=
      "' media='all' />\n<meta name='referrer' content='strict-origin-when-cross-origin' />\n"
      "<meta name=\"viewport\" content=\"width=device-width\" />\n</head>\n"
      "<body class=\"login no-js login-action-login wp-core-ui  locale-en-us\">\n<div id=\"login\">\n"
      "<h1><a href=\"https://wordpress.org/\">Powered by WordPress</a></h1>\n";
  page += error;
  page +=
      "<form name=\"loginform\" id=\"loginform\" action=\"/wp-login.php\" method=\"post\">\n"
      "<p><label for=\"user_login\">Username or Email Address</label>\n"
      "<input type=\"text\" name=\"log\" id=\"user_login\" class=\"input\" value=\"";
  page += html_escape(user);
  page +=
      "\" size=\"20\" autocapitalize=\"off\" autocomplete=\"username\" required=\"required\" /></p>\n"
      "<div class=\"user-pass-wrap\"><label for=\"user_pass\">Password</label>\n"
      "<div class=\"wp-pwd\"><input type=\"password\" name=\"pwd\" id=\"user_pass\" class=\"input password-input\" "
      "value=\"\" size=\"20\" autocomplete=\"current-password\" spellcheck=\"false\" required=\"required\" />"
      "</div></div>\n<p class=\"forgetmenot\"><input name=\"rememberme\" type=\"checkbox\" id=\"rememberme\" "
      "value=\"forever\" /> <label for=\"rememberme\">Remember Me</label></p>\n<p class=\"submit\">"
      "<input type=\"submit\" name=\"wp-submit\" id=\"wp-submit\" class=\"button button-primary button-large\" "
      "value=\"Log In\" />\n<input type=\"hidden\" name=\"redirect_to\" value=\"/wp-admin/\" />\n"
      "<input type=\"hidden\" name=\"testcookie\" value=\"1\" /></p>\n</form>\n"
      "<p id=\"nav\"><a href=\"/wp-login.php?action=lostpassword\">Lost your password?</a></p>\n"
      "<p id=\"backtoblog\"><a href=\"/\">&larr; Go to ";
  page += html_escape(title);
  page += "</a></p>\n</div>\n</body>\n</html>\n";
  return page;
}

std::string wordpress_home(std::string_view title) {
  const auto name = html_escape(title);
  std::string page = "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n<meta charset=\"UTF-8\" />\n<title>";
  page += name;
  page += "</title>\n<meta name=\"generator\" content=\"WordPress ";
  page += kWordPressVersion;
  page +=
      "\" />\n<link rel=\"https://api.w.org/\" href=\"/wp-json/\" />\n"
      "<link rel=\"EditURI\" type=\"application/rsd+xml\" title=\"RSD\" href=\"/xmlrpc.php?rsd\" />\n</head>\n"
      "<body class=\"home blog\">\n<header><h1><a href=\"/\">";
  page += name;
  page +=
      "</a></h1><p>Just another WordPress site</p></header>\n<main><article>\n"
      "<h2><a href=\"/?p=1\">Hello world!</a></h2>\n<p>Welcome to WordPress. This is your first post. Edit or "
      "delete it, then start writing!</p>\n</article></main>\n<footer><a href=\"/wp-login.php\">Log in</a>"
      "</footer>\n</body>\n</html>\n";
  return page;
}

std::string admin_login_page(std::string_view error, std::string_view user) {
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Admin Panel - Sign in</title>\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n</head>\n<body class=\"login\">\n"
      "<div class=\"login-box\">\n<h2>Administrator Login</h2>\n";
  page += error;
  page +=
      "<form method=\"post\" action=\"/admin/login\">\n"
      "<input type=\"text\" name=\"username\" placeholder=\"Username\" autocomplete=\"username\" value=\"";
  page += html_escape(user);
  page +=
      "\">\n<input type=\"password\" name=\"password\" placeholder=\"Password\" autocomplete=\"current-password\">\n"
      "<button type=\"submit\">Sign in</button>\n</form>\n</div>\n</body>\n</html>\n";
  return page;
}

std::string dashboard(std::string_view title) {
  return "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title></head>\n<body>\n<h1>" + html_escape(title) + "</h1>\n<p>Loading&hellip;</p>\n</body>\n</html>\n";
}

WebResponse redirect(std::string location) {
  WebResponse response;
  response.status = 302;
  response.location = std::move(location);
  return response;
}

}  // namespace

namespace {
/// &lt; &gt; &amp; &quot; &apos; and numeric references undone; others kept.
std::string xml_unescape(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, char>, 5> kEntities{
      {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}}};
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    bool replaced = false;
    if (text.front() == '&') {
      for (const auto& [entity, c] : kEntities) {
        if (text.starts_with(entity)) {
          out.push_back(c);
          text.remove_prefix(entity.size());
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) {
      out.push_back(text.front());
      text.remove_prefix(1);
    }
  }
  return out;
}

/// The text of every <methodName>, <string>, <int>/<i4> and untyped
/// <value> in order: a call's method name and then its parameters.
std::vector<std::string> xmlrpc_texts(std::string_view body, std::size_t max) {
  std::vector<std::string> texts;
  std::size_t at = 0;
  while (texts.size() < max) {
    const auto open = body.find('<', at);
    if (open == std::string_view::npos) {
      break;
    }
    const auto close = body.find('>', open);
    if (close == std::string_view::npos) {
      break;
    }
    const auto tag = body.substr(open + 1, close - open - 1);
    at = close + 1;
    if (tag != "methodName" && tag != "string" && tag != "value" && tag != "int" && tag != "i4") {
      continue;
    }
    const auto end = body.find('<', at);
    if (end == std::string_view::npos || (tag == "value" && end == at)) {
      continue;  // a typed <value><string>...: the inner tag is read next
    }
    texts.push_back(xml_unescape(body.substr(at, end - at)).substr(0, WebSite::kMaxCredential));
    at = end;
  }
  return texts;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> xmlrpc_credentials(std::string_view body) {
  // Every call's method name is followed by its parameters, in a plain call
  // as in each struct of a system.multicall.
  const auto texts = xmlrpc_texts(body, WebSite::kMaxXmlRpcLogins * 4);
  std::vector<std::pair<std::string, std::string>> found;
  for (std::size_t i = 0; i < texts.size() && found.size() < WebSite::kMaxXmlRpcLogins; ++i) {
    const auto& method = texts[i];
    if (!method.starts_with("wp.") && !method.starts_with("metaWeblog.") && !method.starts_with("blogger.") &&
        !method.starts_with("mt.")) {
      continue;
    }
    // wp.getUsersBlogs(user, password); the others take a blog id or app
    // key first: wp.getPosts(blog, user, password), blogger.*(appkey, ...).
    const std::size_t skip = method == "wp.getUsersBlogs" ? 0 : 1;
    if (i + skip + 2 < texts.size()) {
      found.emplace_back(texts[i + skip + 1], texts[i + skip + 2]);
      i += skip + 2;
    }
  }
  return found;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#039;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

namespace {
/// '+' is a space, %XX a byte; a '%' without two hex digits stays as it is.
std::string form_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 && hex_digit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view text) {
  // By hand rather than with Boost.URL's parse_query: that one rejects what
  // RFC 3986 does not allow in a query ('<', '"', raw bytes...), which PHP,
  // and so every site an attacker targets, accepts. Attackers' tools send
  // such bodies unencoded; their credentials must still be read.
  std::vector<std::pair<std::string, std::string>> fields;
  while (!text.empty() && fields.size() < kMaxFormFields) {
    const auto amp = text.find('&');
    const auto pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const auto equals = pair.find('=');
    fields.emplace_back(form_decode(pair.substr(0, equals)),
                        equals == std::string_view::npos ? std::string() : form_decode(pair.substr(equals + 1)));
  }
  return fields;
}

std::optional<WebSite> WebSite::make(std::string_view pages, std::string server, std::string title,
                                     std::string& error) {
  WebSite site;
  site.server_ = std::move(server);
  site.title_ = std::move(title);
  for (const auto name : split_list(pages)) {
    if (name == "wordpress") {
      site.wordpress_ = true;
    } else if (name == "admin") {
      site.admin_ = true;
    } else {
      error = "pages: unknown page set '" + std::string(name) + "' (use wordpress, admin)";
      return std::nullopt;
    }
  }
  return site;
}

WebResponse WebSite::answer(const WebRequest& request, const Decide& decide, std::vector<WebLogin>& logins) const {
  const auto path = path_of(request.target);
  if (wordpress_) {
    if (auto response = wordpress(request, path, decide, logins); response.status != 404) {
      return response;
    }
  }
  if (admin_) {
    if (auto response = admin(request, path, decide, logins); response.status != 404) {
      return response;
    }
    if (!wordpress_ && path == "/") {
      return redirect("/admin/login");
    }
  }
  return not_found();
}

WebResponse WebSite::wordpress(const WebRequest& request, std::string_view path, const Decide& decide,
                               std::vector<WebLogin>& logins) const {
  WebResponse response;
  if (path == "/" || path == "/index.php") {
    response.body = wordpress_home(title_);
    return response;
  }
  if (path == "/wp-login.php") {
    if (!is_form(request)) {
      response.set_cookie = "wordpress_test_cookie=WP%20Cookie%20check; path=/";
      response.body = wordpress_login_page(title_, {}, {});
      return response;
    }
    const auto fields = parse_form(request.body);
    WebLogin attempt{"wordpress", field(fields, {"log"}), field(fields, {"pwd"}), false};
    if (attempt.username.empty()) {
      response.body = wordpress_login_page(
          title_,
          "<div id=\"login_error\" class=\"notice notice-error\"><p><strong>Error:</strong> The username "
          "field is empty.</p></div>\n",
          {});
      return response;
    }
    attempt.accepted = decide(attempt.username, attempt.password);
    if (attempt.accepted) {
      response = redirect("/wp-admin/");
      response.set_cookie = std::string(kWordPressCookie) + "1=" + std::to_string(attempt.username.size()) +
                            "%7C1700000000%7Cx; path=/; HttpOnly";
    } else {
      response.body = wordpress_login_page(
          title_,
          "<div id=\"login_error\" class=\"notice notice-error\"><p><strong>Error:</strong> The password you "
          "entered for the username <strong>" +
              html_escape(attempt.username) +
              "</strong> is incorrect. <a href=\"/wp-login.php?action=lostpassword\">Lost your password?</a></p>"
              "</div>\n",
          attempt.username);
    }
    logins.push_back(std::move(attempt));
    return response;
  }
  if (path == "/wp-admin" || path.substr(0, 10) == "/wp-admin/") {
    if (request.cookie.find(kWordPressCookie) != std::string_view::npos) {
      response.body = dashboard("Dashboard &lsaquo; " + title_ + " &#8212; WordPress");
      return response;
    }
    return redirect("/wp-login.php?redirect_to=%2Fwp-admin%2F&reauth=1");
  }
  if (path == "/xmlrpc.php") {
    if (request.method != "POST") {
      response.status = 405;
      response.content_type = "text/plain;charset=UTF-8";
      response.body = "XML-RPC server accepts POST requests only.";
      return response;
    }
    for (auto& [user, password] : xmlrpc_credentials(request.body)) {
      const bool accepted = decide(user, password);
      logins.push_back({"wordpress-xmlrpc", std::move(user), std::move(password), accepted});
    }
    response.content_type = "text/xml; charset=UTF-8";
    response.body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse>\n  <fault>\n    <value>\n      <struct>\n"
        "        <member>\n          <name>faultCode</name>\n          <value><int>403</int></value>\n"
        "        </member>\n        <member>\n          <name>faultString</name>\n"
        "          <value><string>Incorrect username or password.</string></value>\n        </member>\n"
        "      </struct>\n    </value>\n  </fault>\n</methodResponse>\n";
    return response;
  }
  response.status = 404;
  return response;
}

WebResponse WebSite::admin(const WebRequest& request, std::string_view path, const Decide& decide,
                           std::vector<WebLogin>& logins) const {
  static constexpr std::array<std::string_view, 6> kLoginPaths{"/admin",       "/admin/",          "/login",
                                                               "/admin/login", "/admin/login.php", "/administrator/"};
  WebResponse response;
  bool login_path = false;
  for (const auto candidate : kLoginPaths) {
    login_path = login_path || path == candidate;
  }
  if (login_path) {
    if (!is_form(request)) {
      response.body = admin_login_page({}, {});
      return response;
    }
    const auto fields = parse_form(request.body);
    WebLogin attempt{"admin", field(fields, {"username", "user", "login", "email"}),
                     field(fields, {"password", "pass", "pwd"}), false};
    attempt.accepted = decide(attempt.username, attempt.password);
    if (attempt.accepted) {
      response = redirect("/admin/dashboard");
      response.set_cookie = std::string(kAdminCookie) + std::to_string(attempt.username.size()) + "; path=/; HttpOnly";
    } else {
      response.body =
          admin_login_page("<div class=\"alert alert-danger\">Invalid username or password.</div>\n", attempt.username);
    }
    logins.push_back(std::move(attempt));
    return response;
  }
  if (path == "/admin/dashboard") {
    if (request.cookie.find(kAdminCookie) != std::string_view::npos) {
      response.body = dashboard("Admin Panel - Dashboard");
      return response;
    }
    return redirect("/admin/login");
  }
  response.status = 404;
  return response;
}

WebResponse WebSite::not_found() const {
  WebResponse response;
  response.status = 404;
  if (server_.rfind("Apache", 0) == 0) {
    response.content_type = "text/html; charset=iso-8859-1";
    response.body =
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n"
        "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n";
  } else {
    response.content_type = "text/html";
    response.body =
        "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1>"
        "</center>\r\n<hr><center>" +
        html_escape(server_) + "</center>\r\n</body>\r\n</html>\r\n";
  }
  return response;
}

}  // namespace honeycomb::honeypot
