// The core's CA: created with private modes and reloaded; half a CA refused;
// node certificates carry the identity the CA was given (never the CSR's),
// and a CSR whose signature is broken or whose key is of another kind is
// refused; real TLS 1.3 handshakes in memory (two SSL objects over a BIO
// pair): mutual TLS with a node of the CA, a node of another CA refused, a
// node certificate that cannot pose as the core, and the pinned-CA check a
// joining node makes.
#include "security/pki.hpp"

#include "security/ossl.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <openssl/pem.h>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace honeycomb::security {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using SslCtx = std::unique_ptr<SSL_CTX, ossl::Deleter<SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, ossl::Deleter<SSL_free>>;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "honeycomb-pki-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    }
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

unsigned mode_of(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return 0;
  }
  return st.st_mode & 07777;
}

/// A CA in `dir`; the test fails (bad_variant_access) when it cannot be made.
CertificateAuthority make_ca(const fs::path& dir) {
  auto result = CertificateAuthority::load_or_create(dir);
  if (result.index() == 1) {
    ADD_FAILURE() << std::get<1>(result);
  }
  return std::get<0>(std::move(result));
}

struct NodeCredentials {
  IssuedCertificate issued;
  std::string key_pem;
};

NodeCredentials make_node(const CertificateAuthority& ca, std::uint64_t id, std::string_view name) {
  const KeyAndCsr request = make_node_key_and_csr(name);
  auto signed_csr = ca.sign_node_csr(request.csr_pem, id, name, 24h);
  if (signed_csr.index() == 1) {
    ADD_FAILURE() << std::get<1>(signed_csr);
    return {};
  }
  return {std::get<0>(std::move(signed_csr)), request.key_pem};
}

/// A CSR for `key` with subject CN `cn` and, when not empty, the requested
/// extensions `extensions` (openssl.cnf syntax, e.g. {NID_basic_constraints, "CA:TRUE"}).
std::string make_csr(EVP_PKEY* key, const char* cn, const std::vector<std::pair<int, const char*>>& extensions = {}) {
  const ossl::Request request(X509_REQ_new());
  X509_NAME* subject = X509_REQ_get_subject_name(request.get());
  X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1,
                             0);
  X509_REQ_set_pubkey(request.get(), key);
  if (!extensions.empty()) {
    STACK_OF(X509_EXTENSION)* stack = sk_X509_EXTENSION_new_null();
    X509V3_CTX context{};
    X509V3_set_ctx(&context, nullptr, nullptr, request.get(), nullptr, 0);
    for (const auto& [nid, value] : extensions) {
      sk_X509_EXTENSION_push(stack, X509V3_EXT_conf_nid(nullptr, &context, nid, value));
    }
    X509_REQ_add_extensions(request.get(), stack);
    sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
  }
  const EVP_MD* md = EVP_PKEY_is_a(key, "ED25519") == 1 || EVP_PKEY_is_a(key, "ED448") == 1 ? nullptr : EVP_sha256();
  if (X509_REQ_sign(request.get(), key, md) <= 0) {
    return {};
  }
  const ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), request.get());
  return ossl::bio_text(bio.get());
}

std::vector<unsigned char> csr_der(const std::string& pem) {
  const ossl::Request request = ossl::parse_request(pem);
  unsigned char* der = nullptr;
  const int length = i2d_X509_REQ(request.get(), &der);
  std::vector<unsigned char> out(der, der + (length > 0 ? length : 0));
  OPENSSL_free(der);
  return out;
}

std::string csr_pem_of(const std::vector<unsigned char>& der) {
  const ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), "CERTIFICATE REQUEST", "", der.data(), static_cast<long>(der.size()));
  return ossl::bio_text(bio.get());
}

/// X509_V_OK when `certificate_pem` verifies against `ca_pem` alone for `purpose`.
int verify_against(const std::string& ca_pem, const std::string& certificate_pem, int purpose) {
  const ossl::Certificate ca = ossl::parse_certificate(ca_pem);
  const ossl::Certificate certificate = ossl::parse_certificate(certificate_pem);
  const ossl::Store store(X509_STORE_new());
  const ossl::StoreCtx context(X509_STORE_CTX_new());
  X509_STORE_add_cert(store.get(), ca.get());
  X509_STORE_CTX_init(context.get(), store.get(), certificate.get(), nullptr);
  X509_STORE_CTX_set_purpose(context.get(), purpose);
  X509_verify_cert(context.get());
  return X509_STORE_CTX_get_error(context.get());
}

/// A certificate for checks of node_identity(): signed by a throwaway key,
/// with subject CN `cn` (none when null) and SAN `san` (none when empty).
std::string certificate_with(const char* cn, const char* san) {
  const ossl::Pkey key = ossl::make_p256_key();
  const ossl::Certificate certificate(X509_new());
  X509_set_version(certificate.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 77);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 3600);
  X509_set_pubkey(certificate.get(), key.get());
  X509_NAME* name = X509_get_subject_name(certificate.get());
  if (cn != nullptr) {
    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1,
                               0);
  } else {
    X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("no cn"), -1, -1, 0);
  }
  X509_set_issuer_name(certificate.get(), name);
  if (*san != '\0') {
    X509V3_CTX context{};
    X509V3_set_ctx(&context, certificate.get(), certificate.get(), nullptr, nullptr, 0);
    const ossl::Extension extension(X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, san));
    EXPECT_TRUE(extension) << san;
    X509_add_ext(certificate.get(), extension.get(), -1);
  }
  X509_sign(certificate.get(), key.get(), EVP_sha256());
  return ossl::certificate_pem(certificate.get());
}

// ---- TLS over a BIO pair ----

SslCtx server_context(const std::string& certificate_pem, const std::string& key_pem, const std::string& chain_pem,
                      const std::string& client_ca_pem) {
  SslCtx ctx(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  EXPECT_EQ(use_certificate(ctx.get(), certificate_pem, key_pem, chain_pem), "");
  if (!client_ca_pem.empty()) {
    EXPECT_EQ(trust_certificate(ctx.get(), client_ca_pem), "");
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  }
  return ctx;
}

/// `server_ca_pem` empty: no verification (a joining node, which then calls verify_pinned_server).
SslCtx client_context(const std::string& certificate_pem, const std::string& key_pem,
                      const std::string& server_ca_pem) {
  SslCtx ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  if (!certificate_pem.empty()) {
    EXPECT_EQ(use_certificate(ctx.get(), certificate_pem, key_pem), "");
  }
  if (!server_ca_pem.empty()) {
    EXPECT_EQ(trust_certificate(ctx.get(), server_ca_pem), "");
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

struct Handshake {
  Ssl client;
  Ssl server;
  bool client_ok = false;
  bool server_ok = false;
};

/// Runs both sides' handshakes in turns until each has finished or failed.
Handshake handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx) {
  Handshake h{Ssl(SSL_new(client_ctx)), Ssl(SSL_new(server_ctx))};
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(h.client.get(), client_bio, client_bio);
  SSL_set_bio(h.server.get(), server_bio, server_bio);
  SSL_set_connect_state(h.client.get());
  SSL_set_accept_state(h.server.get());
  SSL_set1_host(h.client.get(), kCoreServerName);
  bool client_failed = false;
  bool server_failed = false;
  const auto step = [](SSL* ssl, bool& ok, bool& failed) {
    if (ok || failed) {
      return;
    }
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl);
    if (result == 1) {
      ok = true;
      return;
    }
    const int error = SSL_get_error(ssl, result);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      failed = true;
    }
  };
  for (int round = 0; round < 50; ++round) {
    step(h.client.get(), h.client_ok, client_failed);
    step(h.server.get(), h.server_ok, server_failed);
    if ((h.client_ok || client_failed) && (h.server_ok || server_failed)) {
      break;
    }
  }
  ERR_clear_error();
  return h;
}

// ---- the CA ----

TEST(CertificateAuthority, CreatedWithPrivateModesAndReloadedUnchanged) {
  const TempDir temp;
  const fs::path dir = temp.path() / "pki";
  const CertificateAuthority ca = make_ca(dir);
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir / "ca.key"), 0600u);
  EXPECT_EQ(mode_of(dir / "ca.crt"), 0644u);
  EXPECT_EQ(ca.fingerprint().size(), 43u);
  EXPECT_EQ(ca.fingerprint(), certificate_fingerprint(ca.certificate_pem()));
  EXPECT_EQ(ca.certificate_pem(), read_file(dir / "ca.crt"));
  // No temporary files left beside them.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2);

  const ossl::Certificate certificate = ossl::parse_certificate(ca.certificate_pem());
  ASSERT_TRUE(certificate);
  EXPECT_EQ(X509_check_ca(certificate.get()), 1);
  EXPECT_EQ(X509_get_pathlen(certificate.get()), 0);
  EXPECT_EQ(X509_get_key_usage(certificate.get()), static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(certificate.get()), nullptr);
  int critical = -1;
  auto* constraints =
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(certificate.get(), NID_basic_constraints, &critical, nullptr));
  EXPECT_EQ(critical, 1);
  BASIC_CONSTRAINTS_free(constraints);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(certificate.get()), NID_commonName, cn, sizeof cn);
  const std::string name(cn);
  ASSERT_EQ(name.size(), std::string("honeycomb core CA ").size() + 8) << name;
  EXPECT_TRUE(name.starts_with("honeycomb core CA ")) << name;
  EXPECT_EQ(name.find_first_not_of("0123456789abcdef", 18), std::string::npos) << name;
  const auto left = seconds_left(ca.certificate_pem());
  ASSERT_TRUE(left);
  EXPECT_GT(*left, std::int64_t{3650} * 24 * 3600);
  char group[32] = {};
  std::size_t group_length = 0;
  EVP_PKEY_get_group_name(X509_get0_pubkey(certificate.get()), group, sizeof group, &group_length);
  EXPECT_STREQ(group, "prime256v1");

  const std::string key_before = read_file(dir / "ca.key");
  const CertificateAuthority again = make_ca(dir);
  EXPECT_EQ(again.fingerprint(), ca.fingerprint());
  EXPECT_EQ(again.certificate_pem(), ca.certificate_pem());
  EXPECT_EQ(read_file(dir / "ca.key"), key_before);
}

TEST(CertificateAuthority, TwoCasAreDifferent) {
  const TempDir temp;
  EXPECT_NE(make_ca(temp.path() / "a").fingerprint(), make_ca(temp.path() / "b").fingerprint());
}

TEST(CertificateAuthority, OneFileMissingIsAnErrorNamingIt) {
  const TempDir temp;
  for (const char* removed : {"ca.crt", "ca.key"}) {
    const fs::path dir = temp.path() / removed;
    make_ca(dir);
    fs::remove(dir / removed);
    const std::string kept = removed == std::string("ca.crt") ? "ca.key" : "ca.crt";
    const std::string kept_content = read_file(dir / kept);
    auto result = CertificateAuthority::load_or_create(dir);
    ASSERT_EQ(result.index(), 1u) << removed;
    EXPECT_NE(std::get<1>(result).find((dir / removed).string()), std::string::npos) << std::get<1>(result);
    // Nothing was recreated or overwritten.
    EXPECT_FALSE(fs::exists(dir / removed));
    EXPECT_EQ(read_file(dir / kept), kept_content);
  }
}

TEST(CertificateAuthority, MismatchedOrMalformedFilesAreErrorsNamingThem) {
  ERR_clear_error();  // the queue is per thread: start from an empty one
  const TempDir temp;
  make_ca(temp.path() / "a");
  make_ca(temp.path() / "b");
  fs::copy_file(temp.path() / "b" / "ca.key", temp.path() / "a" / "ca.key", fs::copy_options::overwrite_existing);
  auto mismatched = CertificateAuthority::load_or_create(temp.path() / "a");
  ASSERT_EQ(mismatched.index(), 1u);
  EXPECT_NE(std::get<1>(mismatched).find("ca.key"), std::string::npos) << std::get<1>(mismatched);

  ASSERT_EQ(write_file(temp.path() / "b" / "ca.crt", "not a certificate", false), "");
  auto malformed = CertificateAuthority::load_or_create(temp.path() / "b");
  ASSERT_EQ(malformed.index(), 1u);
  EXPECT_NE(std::get<1>(malformed).find("ca.crt"), std::string::npos) << std::get<1>(malformed);

  ASSERT_EQ(write_file(temp.path() / "b" / "ca.key", "-----BEGIN PRIVATE KEY-----\ngarbage\n", true), "");
  auto bad_key = CertificateAuthority::load_or_create(temp.path() / "b");
  ASSERT_EQ(bad_key.index(), 1u);
  EXPECT_NE(std::get<1>(bad_key).find("ca.key"), std::string::npos) << std::get<1>(bad_key);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(WriteFile, AtomicWithTheRequestedMode) {
  const TempDir temp;
  const fs::path file = temp.path() / "secret";
  const mode_t old_umask = ::umask(0);  // the mode must not depend on it
  ASSERT_EQ(write_file(file, "one"), "");
  ::umask(old_umask);
  EXPECT_EQ(mode_of(file), 0600u);
  ASSERT_EQ(write_file(file, "two", false), "");
  EXPECT_EQ(mode_of(file), 0644u);
  EXPECT_EQ(read_file(file), "two");
  EXPECT_EQ(std::distance(fs::directory_iterator(temp.path()), fs::directory_iterator()), 1);
  EXPECT_NE(write_file(temp.path() / "missing" / "file", "x"), "");
}

// ---- node certificates ----

TEST(SignNodeCsr, CertificateCarriesTheGivenIdentity) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const KeyAndCsr request = make_node_key_and_csr("node-a");
  ASSERT_FALSE(request.key_pem.empty());
  ASSERT_FALSE(request.csr_pem.empty());
  auto result = ca.sign_node_csr(request.csr_pem, 42, "node-a", 30 * 24h);
  ASSERT_EQ(result.index(), 0u) << std::get<1>(result);
  const IssuedCertificate& issued = std::get<0>(result);
  EXPECT_TRUE(issued.key_pem.empty());
  EXPECT_FALSE(issued.serial.empty());
  EXPECT_LE(issued.serial.size(), 32u);
  EXPECT_EQ(issued.serial.find_first_not_of("0123456789abcdef"), std::string::npos) << issued.serial;

  const auto identity = node_identity_pem(issued.certificate_pem);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->node_id, 42u);
  EXPECT_EQ(identity->node_name, "node-a");
  EXPECT_EQ(identity->serial, issued.serial);
  EXPECT_EQ(identity->not_after, issued.not_after);
  const auto left = seconds_left(issued.certificate_pem);
  ASSERT_TRUE(left);
  EXPECT_NEAR(static_cast<double>(*left), 30.0 * 24 * 3600, 60.0);

  const ossl::Certificate certificate = ossl::parse_certificate(issued.certificate_pem);
  EXPECT_EQ(X509_check_ca(certificate.get()), 0);
  EXPECT_EQ(X509_get_extended_key_usage(certificate.get()), static_cast<std::uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_key_usage(certificate.get()), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_NE(X509_get0_authority_key_id(certificate.get()), nullptr);
  const auto not_before = X509_get0_notBefore(certificate.get());
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, not_before), 1);  // not_before - now
  EXPECT_NEAR(days * 86400.0 + seconds, -300.0, 60.0);
  EXPECT_EQ(verify_against(ca.certificate_pem(), issued.certificate_pem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_NE(verify_against(ca.certificate_pem(), issued.certificate_pem, X509_PURPOSE_SSL_SERVER), X509_V_OK);

  // The node's key is the CSR's.
  const ossl::Pkey key = ossl::parse_private_key(request.key_pem);
  EXPECT_EQ(X509_check_private_key(certificate.get(), key.get()), 1);

  // Serials differ between certificates.
  auto second = ca.sign_node_csr(request.csr_pem, 42, "node-a", 24h);
  ASSERT_EQ(second.index(), 0u);
  EXPECT_NE(std::get<0>(second).serial, issued.serial);
}

TEST(SignNodeCsr, CsrSubjectAndExtensionsAreIgnored) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const ossl::Pkey key = ossl::make_p256_key();
  const std::string csr = make_csr(key.get(), "evil",
                                   {{NID_basic_constraints, "critical,CA:TRUE"},
                                    {NID_ext_key_usage, "serverAuth,clientAuth"},
                                    {NID_subject_alt_name, "URI:urn:honeycomb:node:1,DNS:honeycomb-core"}});
  ASSERT_FALSE(csr.empty());
  auto result = ca.sign_node_csr(csr, 7, "node-b", 24h);
  ASSERT_EQ(result.index(), 0u) << std::get<1>(result);
  const std::string& pem = std::get<0>(result).certificate_pem;
  const auto identity = node_identity_pem(pem);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->node_id, 7u);
  EXPECT_EQ(identity->node_name, "node-b");
  const ossl::Certificate certificate = ossl::parse_certificate(pem);
  EXPECT_EQ(X509_check_ca(certificate.get()), 0);
  EXPECT_EQ(X509_get_extended_key_usage(certificate.get()), static_cast<std::uint32_t>(XKU_SSL_CLIENT));
  EXPECT_NE(X509_check_host(certificate.get(), kCoreServerName, 0, 0, nullptr), 1);
}

TEST(SignNodeCsr, BrokenSignatureIsRefused) {
  ERR_clear_error();  // the queue is per thread: start from an empty one
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const ossl::Pkey key = ossl::make_p256_key();
  const std::string csr = make_csr(key.get(), "node-abcdef");
  ASSERT_EQ(ca.sign_node_csr(csr, 1, "n", 24h).index(), 0u);
  const std::vector<unsigned char> der = csr_der(csr);
  ASSERT_FALSE(der.empty());

  // A byte of the signed part (the subject's "node-abcdef").
  std::vector<unsigned char> signed_part = der;
  const std::string needle = "node-abcdef";
  const auto at = std::search(signed_part.begin(), signed_part.end(), needle.begin(), needle.end());
  ASSERT_NE(at, signed_part.end());
  *(at + 5) ^= 0x01;
  auto refused = ca.sign_node_csr(csr_pem_of(signed_part), 1, "n", 24h);
  ASSERT_EQ(refused.index(), 1u);
  EXPECT_NE(std::get<1>(refused).find("signature"), std::string::npos) << std::get<1>(refused);

  // The last byte of the signature itself.
  std::vector<unsigned char> signature = der;
  signature.back() ^= 0x01;
  auto refused_too = ca.sign_node_csr(csr_pem_of(signature), 1, "n", 24h);
  ASSERT_EQ(refused_too.index(), 1u);
  EXPECT_NE(std::get<1>(refused_too).find("signature"), std::string::npos) << std::get<1>(refused_too);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(SignNodeCsr, OnlyP256AndEd25519KeysAreSigned) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());

  const ossl::Pkey ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  auto accepted = ca.sign_node_csr(make_csr(ed25519.get(), "ed"), 3, "ed", 24h);
  ASSERT_EQ(accepted.index(), 0u) << std::get<1>(accepted);
  EXPECT_EQ(node_identity_pem(std::get<0>(accepted).certificate_pem)->node_id, 3u);

  const ossl::Pkey p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  const ossl::Pkey rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048)));
  const ossl::Pkey ed448(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  for (EVP_PKEY* key : {p384.get(), rsa.get(), ed448.get()}) {
    ASSERT_NE(key, nullptr);
    const std::string csr = make_csr(key, "other");
    ASSERT_FALSE(csr.empty());
    auto refused = ca.sign_node_csr(csr, 3, "other", 24h);
    ASSERT_EQ(refused.index(), 1u);
    EXPECT_NE(std::get<1>(refused).find("P-256"), std::string::npos) << std::get<1>(refused);
  }
}

TEST(SignNodeCsr, BadArgumentsGiveErrorsNotExceptions) {
  ERR_clear_error();  // the queue is per thread: start from an empty one
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const std::string csr = make_node_key_and_csr("n").csr_pem;
  const std::string huge(kMaxPemBytes + 1, 'A');
  for (const std::string& bad : {std::string(), std::string("garbage"), huge,
                                 std::string("-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE "
                                             "REQUEST-----\n"),
                                 ca.certificate_pem()}) {
    EXPECT_EQ(ca.sign_node_csr(bad, 1, "n", 24h).index(), 1u) << bad.substr(0, 40);
  }
  EXPECT_EQ(ca.sign_node_csr(csr, 0, "n", 24h).index(), 1u);
  EXPECT_EQ(ca.sign_node_csr(csr, 1, "", 24h).index(), 1u);
  EXPECT_EQ(ca.sign_node_csr(csr, 1, "a\nb", 24h).index(), 1u);
  EXPECT_EQ(ca.sign_node_csr(csr, 1, std::string("a\0b", 3), 24h).index(), 1u);
  EXPECT_EQ(ca.sign_node_csr(csr, 1, "\xff\xfe", 24h).index(), 1u);  // not UTF-8
  EXPECT_EQ(ca.sign_node_csr(csr, 1, "n", 0s).index(), 1u);
  EXPECT_EQ(ca.sign_node_csr(csr, 1, "n", -1s).index(), 1u);
  EXPECT_EQ(ca.sign_node_csr(csr, 1, "n", std::chrono::seconds::max()).index(), 1u);
  EXPECT_EQ(ca.sign_node_csr(csr, UINT64_MAX, "n", 24h).index(), 0u);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(SignNodeCsr, LongNamesAreCutOnACharacterBoundary) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const std::string csr = make_node_key_and_csr("n").csr_pem;
  auto ascii = ca.sign_node_csr(csr, 1, std::string(100, 'x'), 24h);
  ASSERT_EQ(ascii.index(), 0u) << std::get<1>(ascii);
  EXPECT_EQ(node_identity_pem(std::get<0>(ascii).certificate_pem)->node_name, std::string(64, 'x'));
  // 63 bytes, then a 2-byte character that would straddle byte 64.
  auto utf8 = ca.sign_node_csr(csr, 1, std::string(63, 'a') + "\xc3\xa9" + "tail", 24h);
  ASSERT_EQ(utf8.index(), 0u) << std::get<1>(utf8);
  EXPECT_EQ(node_identity_pem(std::get<0>(utf8).certificate_pem)->node_name, std::string(63, 'a'));
  auto accented = ca.sign_node_csr(csr, 1, "ruche-\xc3\xa9t\xc3\xa9", 24h);
  ASSERT_EQ(accented.index(), 0u) << std::get<1>(accented);
  EXPECT_EQ(node_identity_pem(std::get<0>(accented).certificate_pem)->node_name, "ruche-\xc3\xa9t\xc3\xa9");
}

TEST(NodeIdentity, OnlyOneCanonicalNodeUriIsAccepted) {
  ERR_clear_error();  // the queue is per thread: start from an empty one
  EXPECT_EQ(node_identity_pem(certificate_with("n", "URI:urn:honeycomb:node:5"))->node_id, 5u);
  EXPECT_EQ(node_identity_pem(certificate_with("n", "URI:urn:honeycomb:node:18446744073709551615"))->node_id,
            UINT64_MAX);
  EXPECT_EQ(
      node_identity_pem(certificate_with("n", "URI:https://example.org/,URI:urn:honeycomb:node:9,DNS:x"))->node_id, 9u);
  for (const char* san :
       {"", "DNS:honeycomb-core", "URI:urn:honeycomb:node:", "URI:urn:honeycomb:node:0", "URI:urn:honeycomb:node:007",
        "URI:urn:honeycomb:node:12a", "URI:urn:honeycomb:node:-1", "URI:urn:honeycomb:node:+1",
        "URI:urn:honeycomb:node: 1", "URI:urn:honeycomb:node:18446744073709551616", "URI:urn:honeycomb:node:1/2",
        "URI:urn:honeycomb:node:1,URI:urn:honeycomb:node:2", "URI:urn:honeycomb:node:1,URI:urn:honeycomb:node:1",
        "URI:urn:honeycomb:nodes:1"}) {
    EXPECT_FALSE(node_identity_pem(certificate_with("n", san))) << san;
  }
  EXPECT_FALSE(node_identity_pem(certificate_with(nullptr, "URI:urn:honeycomb:node:5")));
  EXPECT_FALSE(node_identity(nullptr));
  EXPECT_FALSE(node_identity_pem(""));
  EXPECT_FALSE(node_identity_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(Fingerprint, Base64urlOfTheDerSha256) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const ossl::Certificate certificate = ossl::parse_certificate(ca.certificate_pem());
  unsigned char* der = nullptr;
  const int length = i2d_X509(certificate.get(), &der);
  ASSERT_GT(length, 0);
  std::array<unsigned char, 32> digest{};
  ASSERT_TRUE(
      ossl::sha256(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length)), digest));
  OPENSSL_free(der);
  EXPECT_EQ(certificate_fingerprint(certificate.get()), ossl::base64url(digest));
  EXPECT_EQ(certificate_fingerprint(ca.certificate_pem()), ossl::base64url(digest));
  EXPECT_EQ(certificate_fingerprint(std::string_view("nope")), "");
  EXPECT_EQ(certificate_fingerprint(static_cast<X509*>(nullptr)), "");
  EXPECT_FALSE(seconds_left("nope"));
}

TEST(IssueServer, CertificateForTheCoreName) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const IssuedCertificate server = ca.issue_server(24h);
  ASSERT_FALSE(server.certificate_pem.empty());
  ASSERT_FALSE(server.key_pem.empty());
  const ossl::Certificate certificate = ossl::parse_certificate(server.certificate_pem);
  EXPECT_EQ(X509_check_host(certificate.get(), kCoreServerName, 0, 0, nullptr), 1);
  EXPECT_EQ(X509_get_extended_key_usage(certificate.get()), static_cast<std::uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_get_key_usage(certificate.get()), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_check_ca(certificate.get()), 0);
  EXPECT_NE(X509_get0_authority_key_id(certificate.get()), nullptr);
  EXPECT_EQ(verify_against(ca.certificate_pem(), server.certificate_pem, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_NE(verify_against(ca.certificate_pem(), server.certificate_pem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_FALSE(node_identity_pem(server.certificate_pem));
  const ossl::Pkey key = ossl::parse_private_key(server.key_pem);
  EXPECT_EQ(X509_check_private_key(certificate.get(), key.get()), 1);
  EXPECT_NEAR(static_cast<double>(*seconds_left(server.certificate_pem)), 24.0 * 3600, 60.0);
  EXPECT_TRUE(ca.issue_server(0s).certificate_pem.empty());
}

// ---- TLS ----

TEST(Tls, MutualTlsAcceptsANodeOfTheCa) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const IssuedCertificate server = ca.issue_server(1h);
  const NodeCredentials node = make_node(ca, 9, "node-9");
  const SslCtx server_ctx = server_context(server.certificate_pem, server.key_pem, "", ca.certificate_pem());
  const SslCtx client_ctx = client_context(node.issued.certificate_pem, node.key_pem, ca.certificate_pem());
  const Handshake h = handshake(client_ctx.get(), server_ctx.get());
  ASSERT_TRUE(h.client_ok);
  ASSERT_TRUE(h.server_ok);
  EXPECT_EQ(SSL_version(h.client.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_get_verify_result(h.server.get()), X509_V_OK);
  EXPECT_EQ(SSL_get_verify_result(h.client.get()), X509_V_OK);
  const auto identity = node_identity(SSL_get0_peer_certificate(h.server.get()));
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->node_id, 9u);
  EXPECT_EQ(identity->node_name, "node-9");
  EXPECT_EQ(identity->serial, node.issued.serial);
}

TEST(Tls, NodeOfAnotherCaIsRefused) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path() / "ours");
  const CertificateAuthority other = make_ca(temp.path() / "theirs");
  const IssuedCertificate server = ca.issue_server(1h);
  const NodeCredentials stranger = make_node(other, 9, "node-9");
  const SslCtx server_ctx = server_context(server.certificate_pem, server.key_pem, "", ca.certificate_pem());
  const SslCtx client_ctx = client_context(stranger.issued.certificate_pem, stranger.key_pem, ca.certificate_pem());
  const Handshake h = handshake(client_ctx.get(), server_ctx.get());
  EXPECT_FALSE(h.server_ok);
  EXPECT_NE(SSL_get_verify_result(h.server.get()), X509_V_OK);
}

TEST(Tls, ClientWithoutCertificateIsRefused) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const IssuedCertificate server = ca.issue_server(1h);
  const SslCtx server_ctx = server_context(server.certificate_pem, server.key_pem, "", ca.certificate_pem());
  const SslCtx client_ctx = client_context("", "", ca.certificate_pem());
  const Handshake h = handshake(client_ctx.get(), server_ctx.get());
  EXPECT_FALSE(h.server_ok);
}

TEST(Tls, NodeCertificateCannotActAsTheCore) {
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path());
  const NodeCredentials node = make_node(ca, 5, "node-5");
  const SslCtx server_ctx =
      server_context(node.issued.certificate_pem, node.key_pem, ca.certificate_pem(), /*client_ca_pem=*/"");
  const SslCtx client_ctx = client_context("", "", ca.certificate_pem());
  const Handshake h = handshake(client_ctx.get(), server_ctx.get());
  EXPECT_FALSE(h.client_ok);
  EXPECT_NE(SSL_get_verify_result(h.client.get()), X509_V_OK);

  // Nor for a joining node pinning the CA.
  const SslCtx joining_ctx = client_context("", "", "");
  const Handshake joining = handshake(joining_ctx.get(), server_ctx.get());
  ASSERT_TRUE(joining.client_ok);
  EXPECT_NE(verify_pinned_server(joining.client.get(), ca.fingerprint()), "");
}

TEST(Tls, PinnedServerVerification) {
  ERR_clear_error();  // the queue is per thread: start from an empty one
  const TempDir temp;
  const CertificateAuthority ca = make_ca(temp.path() / "ours");
  const CertificateAuthority other = make_ca(temp.path() / "theirs");
  const IssuedCertificate server = ca.issue_server(1h);
  const SslCtx joining_ctx = client_context("", "", "");

  // The core sends its CA after its certificate; the node has no certificate yet.
  const SslCtx core_ctx = server_context(server.certificate_pem, server.key_pem, ca.certificate_pem(), "");
  const Handshake h = handshake(joining_ctx.get(), core_ctx.get());
  ASSERT_TRUE(h.client_ok);
  ASSERT_TRUE(h.server_ok);
  EXPECT_EQ(verify_pinned_server(h.client.get(), ca.fingerprint()), "");
  EXPECT_NE(verify_pinned_server(h.client.get(), other.fingerprint()), "");
  EXPECT_NE(verify_pinned_server(h.client.get(), ""), "");
  EXPECT_NE(verify_pinned_server(h.client.get(), certificate_fingerprint(server.certificate_pem)), "");
  EXPECT_NE(verify_pinned_server(nullptr, ca.fingerprint()), "");

  // A core that does not send its CA cannot be checked.
  const SslCtx bare_ctx = server_context(server.certificate_pem, server.key_pem, "", "");
  const Handshake bare = handshake(joining_ctx.get(), bare_ctx.get());
  ASSERT_TRUE(bare.client_ok);
  EXPECT_NE(verify_pinned_server(bare.client.get(), ca.fingerprint()), "");

  // An impostor with its own CA that also sends our (public) CA certificate.
  const IssuedCertificate impostor = other.issue_server(1h);
  const SslCtx impostor_ctx = server_context(impostor.certificate_pem, impostor.key_pem, ca.certificate_pem(), "");
  const Handshake fake = handshake(joining_ctx.get(), impostor_ctx.get());
  ASSERT_TRUE(fake.client_ok);
  const std::string refused = verify_pinned_server(fake.client.get(), ca.fingerprint());
  EXPECT_NE(refused, "");
  EXPECT_NE(refused.find("does not verify"), std::string::npos) << refused;
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace honeycomb::security
