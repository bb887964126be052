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

  /// `pages`: "wordpress,admin" (the page sets served, comma-separated);
  /// `server`: the Server header, which also picks the 404 page's style
  /// (nginx or Apache); `title`: the WordPress site's name. nullopt, with
  /// `error` set, on an unknown page set.
  static std::optional<WebSite> make(std::string_view pages, std::string server, std::string title, std::string& error);

  /// Decides a login attempt (user, password) -> accepted.
  using Decide = std::function<bool(std::string_view user, std::string_view password)>;

  /// Answers `request`. When it is a login attempt, `decide` is asked and
  /// `login` is set.
  [[nodiscard]] WebResponse answer(const WebRequest& request, const Decide& decide,
                                   std::optional<WebLogin>& login) const;

  [[nodiscard]] const std::string& server() const { return server_; }

 private:
  [[nodiscard]] WebResponse not_found() const;
  [[nodiscard]] WebResponse wordpress(const WebRequest& request, std::string_view path, const Decide& decide,
                                      std::optional<WebLogin>& login) const;
  [[nodiscard]] WebResponse admin(const WebRequest& request, std::string_view path, const Decide& decide,
                                  std::optional<WebLogin>& login) const;

  bool wordpress_ = false;
  bool admin_ = false;
  std::string server_;
  std::string title_;
};

/// `text` with & < > " ' escaped for HTML.
std::string html_escape(std::string_view text);

/// The fields of an application/x-www-form-urlencoded body (or a query),
/// decoded ('+' is a space, %XX a byte), leniently as PHP reads them. At
/// most 64 fields.
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view text);

}  // namespace honeycomb::honeypot
