// The pages of the http honeypot: sets of pages with a login form that
// scanners and brute-forcers look for (a WordPress site's wp-login.php, a
// generic admin panel), the web server's own 404 page, and the login
// attempts they receive. Pure logic, no I/O: the service
// (services/http) reads requests and writes what this answers.
//
// Runs on attacker input: every field it echoes into a page is HTML-escaped
// and bounded, forms are parsed by Boost.URL, nothing throws.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::honeypot {

struct WebRequest {
  std::string_view method;  ///< "GET", "POST"...
  std::string_view target;  ///< origin form: path and query
  std::string_view body;
  std::string_view content_type;
  std::string_view cookie;
};

struct WebResponse {
  int status = 200;
  std::string content_type = "text/html; charset=UTF-8";
  std::string body;
  std::string location;    ///< for 302
  std::string set_cookie;  ///< for a successful login
};

struct WebLogin {
  std::string page;  ///< "wordpress", "admin"
  std::string username;
  std::string password;
  bool accepted = false;
};

class WebSite {
 public:
  /// Longest user name or password recorded (and echoed); the rest is cut.
  static constexpr std::size_t kMaxCredential = 256;
  /// Login attempts read from one XML-RPC request at most.
  static constexpr std::size_t kMaxXmlRpcLogins = 64;

  /// `pages`: "wordpress,admin" (the page sets served, comma-separated);
  /// `server`: the Server header, which also picks the 404 page's style
  /// (nginx or Apache); `title`: the WordPress site's name. nullopt, with
  /// `error` set, on an unknown page set.
  static std::optional<WebSite> make(std::string_view pages, std::string server, std::string title, std::string& error);

  /// Decides a login attempt (user, password) -> accepted.
  using Decide = std::function<bool(std::string_view user, std::string_view password)>;

  /// Answers `request`. For each login attempt it carries (a form posts
  /// one, an XML-RPC multicall up to kMaxXmlRpcLogins), `decide` is asked
  /// and the attempt appended to `logins`.
  [[nodiscard]] WebResponse answer(const WebRequest& request, const Decide& decide,
                                   std::vector<WebLogin>& logins) const;

  [[nodiscard]] const std::string& server() const { return server_; }

 private:
  [[nodiscard]] WebResponse not_found() const;
  [[nodiscard]] WebResponse wordpress(const WebRequest& request, std::string_view path, const Decide& decide,
                                      std::vector<WebLogin>& logins) const;
  [[nodiscard]] WebResponse admin(const WebRequest& request, std::string_view path, const Decide& decide,
                                  std::vector<WebLogin>& logins) const;

  bool wordpress_ = false;
  bool admin_ = false;
  std::string server_;
  std::string title_;
};

/// The (user, password) pairs of the XML-RPC calls in `body` that log in
/// first (wp.getUsersBlogs, wp.getProfile, metaWeblog.*, blogger.* after
/// its app key...), also inside system.multicall: how WPScan and bots
/// brute-force WordPress. At most WebSite::kMaxXmlRpcLogins, each cut to
/// WebSite::kMaxCredential.
std::vector<std::pair<std::string, std::string>> xmlrpc_credentials(std::string_view body);

/// `text` with & < > " ' escaped for HTML.
std::string html_escape(std::string_view text);

/// The fields of an application/x-www-form-urlencoded body (or a query),
/// decoded ('+' is a space, %XX a byte), leniently as PHP reads them. At
/// most 64 fields.
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view text);

}  // namespace honeycomb::honeypot
