#include "node/credentials.hpp"

#include "security/pki.hpp"

#include <boost/asio/ssl/host_name_verification.hpp>

#include <fstream>
#include <memory>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sstream>
#include <sys/stat.h>

namespace honeycomb::node {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

std::optional<std::string> read_small_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > security::kMaxPemBytes) {
    return std::nullopt;
  }
  return text.str();
}

/// notBefore and notAfter of a PEM certificate, unix seconds.
std::optional<std::pair<std::int64_t, std::int64_t>> validity_of(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) {
    return std::nullopt;
  }
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) {
    return std::nullopt;
  }
  auto to_unix = [](const ASN1_TIME* t) -> std::optional<std::int64_t> {
    struct tm parts = {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &parts) != 1) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(timegm(&parts));
  };
  auto from = to_unix(X509_get0_notBefore(cert.get()));
  auto to = to_unix(X509_get0_notAfter(cert.get()));
  if (!from || !to) {
    return std::nullopt;
  }
  return std::make_pair(*from, *to);
}

}  // namespace

bool NodeCredentials::enrolled() const {
  std::error_code ec;
  return fs::exists(key_file(), ec) && fs::exists(certificate_file(), ec) && fs::exists(ca_file(), ec);
}

std::shared_ptr<asio::ssl::context> NodeCredentials::client_tls(std::string& error) const {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(certificate_file().string(), ec);
  if (ec) {
    error = certificate_file().string() + ": " + ec.message();
    return nullptr;
  }
  ctx->use_private_key_file(key_file().string(), asio::ssl::context::pem, ec);
  if (ec) {
    error = key_file().string() + ": " + ec.message();
    return nullptr;
  }
  ctx->load_verify_file(ca_file().string(), ec);
  if (ec) {
    error = ca_file().string() + ": " + ec.message();
    return nullptr;
  }
  // Only the core's own CA is trusted (not the system's), and the peer must
  // be the core's node port (its certificate's name), not a node
  // certificate from the same CA or anything else.
  ctx->set_verify_mode(asio::ssl::verify_peer);
  ctx->set_verify_callback(asio::ssl::host_name_verification(security::kCoreServerName));
  return ctx;
}

std::string NodeCredentials::ensure_dir() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return dir_.string() + ": " + ec.message();
  }
  fs::permissions(dir_, fs::perms::owner_all, ec);
  return ec ? dir_.string() + ": " + ec.message() : std::string();
}

std::string NodeCredentials::save(const std::string& key_pem, const std::string& certificate_pem,
                                  const std::string& ca_pem) const {
  if (auto error = ensure_dir(); !error.empty()) {
    return error;
  }
  // The CA first and the certificate last: enrolled() needs all three, and
  // a crash in between leaves the old, matching key and certificate... or a
  // new key without its certificate, which a fresh enrollment repairs.
  if (auto error = security::write_file(ca_file(), ca_pem, false); !error.empty()) {
    return error;
  }
  if (auto error = security::write_file(key_file(), key_pem, true); !error.empty()) {
    return error;
  }
  return security::write_file(certificate_file(), certificate_pem, false);
}

std::int64_t NodeCredentials::renewal_time() const {
  auto pem = read_small_file(certificate_file());
  if (!pem) {
    return 0;
  }
  auto validity = validity_of(*pem);
  if (!validity) {
    return 0;
  }
  const auto [from, to] = *validity;
  return to - (to - from) / 3;
}

std::string NodeCredentials::certificate_serial() const {
  auto pem = read_small_file(certificate_file());
  if (!pem) {
    return {};
  }
  auto identity = security::node_identity_pem(*pem);
  return identity ? identity->serial : std::string();
}

std::optional<std::string> NodeCredentials::totp_key() const {
  auto text = read_small_file(totp_file());
  if (!text) {
    return std::nullopt;
  }
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r' || text->back() == ' ')) {
    text->pop_back();
  }
  if (text->empty()) {
    return std::nullopt;
  }
  return text;
}

std::string NodeCredentials::save_totp_key(const std::string& key) const {
  if (auto error = ensure_dir(); !error.empty()) {
    return error;
  }
  return security::write_file(totp_file(), key + "\n", true);
}

}  // namespace honeycomb::node
