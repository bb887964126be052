// The http honeypot's page logic on hostile requests: method, target,
// content type, cookie and body all cut from the input. Every answer must
// be a bounded page; a login's credentials must stay within their cap.
#include "honeypot/web_site.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

/// The next piece of `input`, up to a NUL byte.
std::string_view take(std::string_view& input) {
  const auto end = input.find('\0');
  const auto piece = input.substr(0, end);
  input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
  return piece;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace honeycomb::honeypot;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string error;
  static const auto site = WebSite::make("wordpress,admin", "nginx/1.22.1", "Fuzz", error);
  WebRequest request;
  request.method = take(input);
  request.target = take(input);
  request.content_type = take(input);
  request.cookie = take(input);
  request.body = input;
  std::vector<WebLogin> logins;
  const auto response = site->answer(
      request, [](std::string_view user, std::string_view) { return user.size() % 7 == 3; }, logins);
  require(response.status == 200 || response.status == 302 || response.status == 404 || response.status == 405);
  // Pages are templates plus escaped credentials (6 bytes per byte at most).
  require(response.body.size() <= 4096 + 12 * WebSite::kMaxCredential);
  require(logins.size() <= WebSite::kMaxXmlRpcLogins);
  for (const auto& login : logins) {
    require(login.username.size() <= WebSite::kMaxCredential && login.password.size() <= WebSite::kMaxCredential);
  }
  for (const auto& [user, password] : xmlrpc_credentials(input)) {
    require(user.size() <= WebSite::kMaxCredential && password.size() <= WebSite::kMaxCredential);
  }
  for (const auto& [key, value] : parse_form(input)) {
    require(key.size() <= input.size() && value.size() <= input.size());
  }
  return 0;
}
