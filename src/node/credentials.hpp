// What a node keeps to prove itself to a core (docs/SECURITY.md), in
// <data_dir>/tls (mode 0700): its private key and certificate from the
// core's CA (enrollment with a join token), the CA to check the core
// against, and the TOTP secret a core handed out. Blocking file I/O: the
// link calls it on its own thread, once per connection.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace honeycomb::node {

class NodeCredentials {
 public:
  explicit NodeCredentials(std::filesystem::path dir) : dir_(std::move(dir)) {}

  /// A key, a certificate and the CA are on disk.
  bool enrolled() const;
  /// The TLS client context for an enrolled node: TLS 1.3, its certificate
  /// and key, the core checked against the CA and its name
  /// (security::kCoreServerName). Null + `error` when the files are unusable.
  std::shared_ptr<boost::asio::ssl::context> client_tls(std::string& error) const;
  /// Saves a new key + certificate (+ CA), replacing the old ones (each
  /// file written whole, then renamed). Error text, empty on success.
  std::string save(const std::string& key_pem, const std::string& certificate_pem, const std::string& ca_pem) const;
  /// When the certificate will have used two thirds of its lifetime (Unix
  /// seconds): time to ask the core for a new one. 0 (due now) when it is
  /// unreadable. Reads and parses the certificate: call once per connection.
  std::int64_t renewal_time() const;
  /// The serial of the current certificate ("" when none).
  std::string certificate_serial() const;

  std::optional<std::string> totp_key() const;
  std::string save_totp_key(const std::string& key) const;

  std::filesystem::path key_file() const { return dir_ / "node.key"; }
  std::filesystem::path certificate_file() const { return dir_ / "node.crt"; }
  std::filesystem::path ca_file() const { return dir_ / "ca.crt"; }
  std::filesystem::path totp_file() const { return dir_ / "totp_key"; }

 private:
  std::string ensure_dir() const;
  std::filesystem::path dir_;
};

}  // namespace honeycomb::node
