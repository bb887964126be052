// The CA's certificates are built here from scratch: nothing of a node's CSR
// but its public key reaches a certificate, so a node cannot ask for a
// name, an id, a CA bit or a usage it was not given.
#include "security/pki.hpp"

#include "security/ossl.hpp"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>
#include <vector>

namespace honeycomb::security {
namespace fs = std::filesystem;
namespace {

/// Certificates start 5 minutes in the past so that a peer whose clock is a
/// little behind does not see them as not yet valid.
constexpr std::int64_t kBackdateSeconds = std::int64_t{5} * 60;
constexpr std::chrono::seconds kCaValidity{std::int64_t{3653} * 24 * 3600};  // 10 years with leap days
/// Above this a CA file is refused unread (a PEM key or certificate is ~1 KiB).
constexpr std::uintmax_t kMaxCaFileBytes = std::uintmax_t{1024} * 1024;
/// Random bytes of the CA's CN suffix: tells apart the CAs of several cores.
constexpr std::size_t kCaNameRandomBytes = 4;

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string errno_text(int error) {
  return std::system_category().message(error);
}

std::optional<std::int64_t> unix_time(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day date{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                            day{static_cast<unsigned>(tm.tm_mday)}};
  if (!date.ok()) {
    return std::nullopt;
  }
  return std::int64_t{sys_days{date}.time_since_epoch().count()} * 86400 + std::int64_t{tm.tm_hour} * 3600 +
         std::int64_t{tm.tm_min} * 60 + tm.tm_sec;
}

std::string serial_hex(const X509* certificate) {
  const ossl::Bignum number(ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr));
  if (!number) {
    return {};
  }
  char* text = BN_bn2hex(number.get());
  if (text == nullptr) {
    return {};
  }
  std::string out(text);
  OPENSSL_free(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

/// 128 random bits with the top one cleared (RFC 5280 wants a positive
/// serial): unpredictable serials keep a chosen-prefix collision on the
/// signature hash from being prepared in advance.
ossl::Integer random_serial() {
  std::array<unsigned char, 16> bytes{};
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (!ossl::random_bytes(bytes)) {
      return nullptr;
    }
    bytes[0] &= 0x7f;
    const ossl::Bignum number(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
    if (number && !BN_is_zero(number.get())) {
      return ossl::Integer(BN_to_ASN1_INTEGER(number.get(), nullptr));
    }
  }
  return nullptr;
}

/// Ed25519/Ed448 sign without a separate digest; everything else with SHA-256.
const EVP_MD* digest_for(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519") == 1 || EVP_PKEY_is_a(key, "ED448") == 1) {
    return nullptr;
  }
  return EVP_sha256();
}

/// The first `max` bytes of `text`, cut before a UTF-8 sequence rather than
/// inside it (a split sequence is invalid UTF-8, which OpenSSL refuses).
std::string_view cut_utf8(std::string_view text, std::size_t max) {
  if (text.size() <= max) {
    return text;
  }
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) {
    --n;
  }
  return text.substr(0, n);
}

bool has_control_characters(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return true;
    }
  }
  return false;
}

/// One extension by its openssl.cnf-style value, e.g. {NID_key_usage, "critical,digitalSignature"}.
struct ExtensionSpec {
  int nid;
  std::string value;
};

struct CertificateSpec {
  std::string_view common_name;
  EVP_PKEY* subject_key = nullptr;  ///< only its public half is used
  X509* issuer = nullptr;           ///< null: self-signed
  EVP_PKEY* issuer_key = nullptr;
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  std::vector<ExtensionSpec> extensions;
};

std::variant<ossl::Certificate, std::string> build_certificate(const CertificateSpec& spec) {
  ossl::Certificate certificate(X509_new());
  const ossl::Name subject(X509_NAME_new());
  const ossl::Integer serial = random_serial();
  if (!certificate || !subject || !serial) {
    return std::string("out of memory or no randomness");
  }
  const auto* cn = reinterpret_cast<const unsigned char*>(spec.common_name.data());
  if (X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, MBSTRING_UTF8, cn,
                                 static_cast<int>(spec.common_name.size()), -1, 0) != 1) {
    return fmt::format("the name is not a valid common name: {}", ossl::last_error());
  }
  X509_NAME* issuer_name = spec.issuer != nullptr ? X509_get_subject_name(spec.issuer) : subject.get();
  if (X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(certificate.get(), serial.get()) != 1 ||
      X509_set_subject_name(certificate.get(), subject.get()) != 1 ||
      X509_set_issuer_name(certificate.get(), issuer_name) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(certificate.get()), static_cast<time_t>(spec.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(certificate.get()), static_cast<time_t>(spec.not_after)) == nullptr ||
      X509_set_pubkey(certificate.get(), spec.subject_key) != 1) {
    return fmt::format("cannot fill the certificate: {}", ossl::last_error());
  }
  // The subject's public key must be in place before the extensions:
  // subjectKeyIdentifier=hash is computed from it.
  X509V3_CTX context{};
  X509V3_set_ctx(&context, spec.issuer != nullptr ? spec.issuer : certificate.get(), certificate.get(), nullptr,
                 nullptr, 0);
  for (const ExtensionSpec& extension : spec.extensions) {
    const ossl::Extension made(X509V3_EXT_conf_nid(nullptr, &context, extension.nid, extension.value.c_str()));
    if (!made || X509_add_ext(certificate.get(), made.get(), -1) != 1) {
      return fmt::format("cannot add the {} extension: {}", OBJ_nid2sn(extension.nid), ossl::last_error());
    }
  }
  if (X509_sign(certificate.get(), spec.issuer_key, digest_for(spec.issuer_key)) <= 0) {
    return fmt::format("cannot sign the certificate: {}", ossl::last_error());
  }
  return certificate;
}

std::variant<std::int64_t, std::string> validity_end(std::int64_t now, std::chrono::seconds validity) {
  if (validity.count() <= 0 || validity > kMaxValidity) {
    return fmt::format("validity {} s is not in (0, {}] s", validity.count(), kMaxValidity.count());
  }
  return now + validity.count();
}

IssuedCertificate issued(X509* certificate, std::string key_pem) {
  IssuedCertificate out;
  out.certificate_pem = ossl::certificate_pem(certificate);
  if (out.certificate_pem.empty()) {
    return {};
  }
  out.key_pem = std::move(key_pem);
  out.serial = serial_hex(certificate);
  out.not_after = unix_time(X509_get0_notAfter(certificate)).value_or(0);
  return out;
}

/// Reads a whole (small) file into `content`; "" or an error naming it.
std::string read_small_file(const fs::path& file, std::string& content) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(file, error);
  if (error) {
    return fmt::format("cannot read {}: {}", file.string(), error.message());
  }
  if (size > kMaxCaFileBytes) {
    return fmt::format("{} is too large ({} bytes) for a PEM key or certificate", file.string(), size);
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return fmt::format("cannot open {}", file.string());
  }
  content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return fmt::format("cannot read {}", file.string());
  }
  return {};
}

/// The EC group of `key` is P-256 (OpenSSL names it "prime256v1").
bool is_p256(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) {
    return false;
  }
  char group[64] = {};
  std::size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) != 1) {
    return false;
  }
  const std::string_view name(group, length);
  return name == "prime256v1" || name == "P-256";
}

/// The node id of a URI SAN value; nullopt unless it is the prefix and a
/// canonical non-zero decimal u64 (one spelling per id, so two certificates
/// cannot name the same node differently).
std::optional<std::uint64_t> node_id_of_uri(std::string_view uri) {
  if (!uri.starts_with(kNodeUriPrefix)) {
    return std::nullopt;
  }
  const std::string_view digits = uri.substr(kNodeUriPrefix.size());
  if (digits.empty() || digits.front() == '0') {
    return std::nullopt;
  }
  std::uint64_t id = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (error != std::errc() || end != digits.data() + digits.size() || id == 0) {
    return std::nullopt;
  }
  return id;
}

}  // namespace

// ---- CertificateAuthority ----

CertificateAuthority::CertificateAuthority(std::shared_ptr<EVP_PKEY> key, std::shared_ptr<X509> certificate)
    : key_(std::move(key)), certificate_(std::move(certificate)) {
  certificate_pem_ = ossl::certificate_pem(certificate_.get());
  fingerprint_ = security::certificate_fingerprint(certificate_.get());
}

std::variant<CertificateAuthority, std::string> CertificateAuthority::load_or_create(const fs::path& dir) {
  const ossl::ErrorScope errors;
  const fs::path key_file = dir / "ca.key";
  const fs::path certificate_file = dir / "ca.crt";
  std::error_code error;
  const bool has_key = fs::exists(key_file, error);
  if (error) {
    return fmt::format("cannot reach {}: {}", key_file.string(), error.message());
  }
  const bool has_certificate = fs::exists(certificate_file, error);
  if (error) {
    return fmt::format("cannot reach {}: {}", certificate_file.string(), error.message());
  }
  // Half a CA is never completed silently: a new key beside an old
  // certificate (or the reverse) would cut off every enrolled node.
  if (has_key != has_certificate) {
    const fs::path& present = has_key ? key_file : certificate_file;
    const fs::path& missing = has_key ? certificate_file : key_file;
    return fmt::format(
        "{} is missing while {} exists: restore it, or remove both to create a new CA (every node then has to enroll "
        "again)",
        missing.string(), present.string());
  }

  if (has_key) {
    std::string key_text;
    std::string certificate_text;
    if (std::string failed = read_small_file(key_file, key_text); !failed.empty()) {
      return failed;
    }
    if (std::string failed = read_small_file(certificate_file, certificate_text); !failed.empty()) {
      return failed;
    }
    ossl::Pkey key = ossl::parse_private_key(key_text);
    if (!key) {
      return fmt::format("{} holds no unencrypted PEM private key", key_file.string());
    }
    ossl::Certificate certificate = ossl::parse_certificate(certificate_text);
    if (!certificate) {
      return fmt::format("{} holds no PEM certificate", certificate_file.string());
    }
    if (X509_check_private_key(certificate.get(), key.get()) != 1) {
      return fmt::format("{} is not the key of {}", key_file.string(), certificate_file.string());
    }
    if (X509_check_ca(certificate.get()) == 0) {
      return fmt::format("{} is not a CA certificate", certificate_file.string());
    }
    return CertificateAuthority(std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free),
                                std::shared_ptr<X509>(certificate.release(), X509_free));
  }

  fs::create_directories(dir, error);
  if (error) {
    return fmt::format("cannot create {}: {}", dir.string(), error.message());
  }
  // The folder holds the CA key: nobody else lists or enters it.
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, error);
  if (error) {
    return fmt::format("cannot set the mode of {}: {}", dir.string(), error.message());
  }
  ossl::Pkey key = ossl::make_p256_key();
  std::array<unsigned char, kCaNameRandomBytes> name_bytes{};
  if (!key || !ossl::random_bytes(name_bytes)) {
    return fmt::format("cannot generate the CA key: {}", ossl::last_error());
  }
  const std::string name = "honeycomb core CA " + ossl::hex(name_bytes);
  const std::int64_t now = now_unix();
  auto built = build_certificate({
      .common_name = name,
      .subject_key = key.get(),
      .issuer = nullptr,
      .issuer_key = key.get(),
      .not_before = now - kBackdateSeconds,
      .not_after = now + kCaValidity.count(),
      .extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                     {NID_key_usage, "critical,keyCertSign,cRLSign"},
                     {NID_subject_key_identifier, "hash"}},
  });
  if (built.index() == 1) {
    return fmt::format("cannot create the CA certificate: {}", std::get<1>(built));
  }
  ossl::Certificate certificate = std::get<0>(std::move(built));
  // Key first: a crash between the two writes leaves a key without a
  // certificate, which the next start reports instead of overwriting.
  if (std::string failed = write_file(key_file, ossl::private_key_pem(key.get()), true); !failed.empty()) {
    return failed;
  }
  if (std::string failed = write_file(certificate_file, ossl::certificate_pem(certificate.get()), false);
      !failed.empty()) {
    return failed;
  }
  return CertificateAuthority(std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free),
                              std::shared_ptr<X509>(certificate.release(), X509_free));
}

IssuedCertificate CertificateAuthority::issue_server(std::chrono::seconds validity) const {
  const ossl::ErrorScope errors;
  const std::int64_t now = now_unix();
  const auto end = validity_end(now, validity);
  if (end.index() == 1) {
    return {};
  }
  ossl::Pkey key = ossl::make_p256_key();
  if (!key) {
    return {};
  }
  auto built = build_certificate({
      .common_name = kCoreServerName,
      .subject_key = key.get(),
      .issuer = certificate_.get(),
      .issuer_key = key_.get(),
      .not_before = now - kBackdateSeconds,
      .not_after = std::get<0>(end),
      .extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_subject_alt_name, fmt::format("DNS:{}", kCoreServerName)},
                     {NID_subject_key_identifier, "hash"},
                     {NID_authority_key_identifier, "keyid:always"}},
  });
  if (built.index() == 1) {
    return {};
  }
  std::string key_pem = ossl::private_key_pem(key.get());
  if (key_pem.empty()) {
    return {};
  }
  return issued(std::get<0>(built).get(), std::move(key_pem));
}

std::variant<IssuedCertificate, std::string> CertificateAuthority::sign_node_csr(std::string_view csr_pem,
                                                                                 std::uint64_t node_id,
                                                                                 std::string_view node_name,
                                                                                 std::chrono::seconds validity) const {
  const ossl::ErrorScope errors;
  if (node_id == 0) {
    return std::string("node id 0 is not a node");
  }
  const std::string_view name = cut_utf8(node_name, kMaxNodeNameBytes);
  if (name.empty()) {
    return std::string("the node name is empty");
  }
  if (has_control_characters(name)) {
    return std::string("the node name has control characters");
  }
  const std::int64_t now = now_unix();
  const auto end = validity_end(now, validity);
  if (end.index() == 1) {
    return std::get<1>(end);
  }
  if (csr_pem.size() > kMaxPemBytes) {
    return fmt::format("the CSR is larger than {} bytes", kMaxPemBytes);
  }
  const ossl::Request request = ossl::parse_request(csr_pem);
  if (!request) {
    return std::string("not a PEM certificate signing request");
  }
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(request.get());
  if (public_key == nullptr) {
    return std::string("the CSR has no usable public key");
  }
  if (!is_p256(public_key) && EVP_PKEY_is_a(public_key, "ED25519") != 1) {
    return std::string("the CSR's key is neither EC P-256 nor Ed25519");
  }
  // Proof that the requester holds the private key: without it, a node
  // could get a certificate for someone else's public key.
  if (X509_REQ_verify(request.get(), public_key) != 1) {
    return std::string("the CSR's signature does not verify");
  }
  const ossl::PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, public_key, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return std::string("the CSR's public key is not valid");
  }
  auto built = build_certificate({
      .common_name = name,
      .subject_key = public_key,
      .issuer = certificate_.get(),
      .issuer_key = key_.get(),
      .not_before = now - kBackdateSeconds,
      .not_after = std::get<0>(end),
      .extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "clientAuth"},
                     {NID_subject_alt_name, fmt::format("URI:{}{}", kNodeUriPrefix, node_id)},
                     {NID_subject_key_identifier, "hash"},
                     {NID_authority_key_identifier, "keyid:always"}},
  });
  if (built.index() == 1) {
    return std::get<1>(std::move(built));
  }
  IssuedCertificate out = issued(std::get<0>(built).get(), {});
  if (out.certificate_pem.empty()) {
    return std::string("cannot encode the certificate");
  }
  return out;
}

// ---- node side and helpers ----

KeyAndCsr make_node_key_and_csr(std::string_view node_name) {
  const ossl::ErrorScope errors;
  ossl::Pkey key = ossl::make_p256_key();
  const ossl::Request request(X509_REQ_new());
  if (!key || !request) {
    return {};
  }
  const std::string_view name = cut_utf8(node_name, kMaxNodeNameBytes);
  const ossl::Name subject(X509_NAME_new());
  if (!subject) {
    return {};
  }
  // Best effort (invalid UTF-8 is refused, the subject then stays empty):
  // the CA ignores the subject; it only helps an operator reading the CSR.
  if (!name.empty() && !has_control_characters(name) &&
      X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(name.data()), static_cast<int>(name.size()), -1,
                                 0) == 1) {
    X509_REQ_set_subject_name(request.get(), subject.get());
  }
  if (X509_REQ_set_version(request.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_pubkey(request.get(), key.get()) != 1 ||
      X509_REQ_sign(request.get(), key.get(), EVP_sha256()) <= 0) {
    return {};
  }
  const ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), request.get()) != 1) {
    return {};
  }
  KeyAndCsr out{ossl::private_key_pem(key.get()), ossl::bio_text(bio.get())};
  if (out.key_pem.empty() || out.csr_pem.empty()) {
    return {};
  }
  return out;
}

std::optional<NodeIdentity> node_identity(X509* certificate) {
  const ossl::ErrorScope errors;
  if (certificate == nullptr) {
    return std::nullopt;
  }
  // critical == -2: more than one SAN extension, which RFC 5280 forbids;
  // refused rather than reading only one of them.
  int critical = 0;
  const ossl::GeneralNames names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, &critical, nullptr)));
  if (!names) {
    return std::nullopt;
  }
  std::optional<std::uint64_t> id;
  int node_uris = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name == nullptr || name->type != GEN_URI) {
      continue;
    }
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    const std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                                static_cast<std::size_t>(ASN1_STRING_length(uri)));
    if (!text.starts_with(kNodeUriPrefix)) {
      continue;
    }
    ++node_uris;
    id = node_id_of_uri(text);
  }
  if (node_uris != 1 || !id) {
    return std::nullopt;
  }

  const X509_NAME* subject = X509_get_subject_name(certificate);
  const int cn_index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn_index < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, cn_index) >= 0) {
    return std::nullopt;
  }
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn_index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, cn);
  if (length < 0 || utf8 == nullptr) {
    return std::nullopt;
  }
  NodeIdentity identity;
  identity.node_name.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  identity.node_id = *id;
  identity.serial = serial_hex(certificate);
  const auto not_after = unix_time(X509_get0_notAfter(certificate));
  if (identity.serial.empty() || !not_after) {
    return std::nullopt;
  }
  identity.not_after = *not_after;
  return identity;
}

std::optional<NodeIdentity> node_identity_pem(std::string_view certificate_pem) {
  const ossl::ErrorScope errors;
  const ossl::Certificate certificate = ossl::parse_certificate(certificate_pem);
  return node_identity(certificate.get());
}

std::string certificate_fingerprint(std::string_view certificate_pem) {
  const ossl::ErrorScope errors;
  const ossl::Certificate certificate = ossl::parse_certificate(certificate_pem);
  return certificate_fingerprint(certificate.get());
}

std::string certificate_fingerprint(X509* certificate) {
  const ossl::ErrorScope errors;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (certificate == nullptr || X509_digest(certificate, EVP_sha256(), digest.data(), &length) != 1 || length != 32) {
    return {};
  }
  return ossl::base64url(std::span(digest.data(), length));
}

std::string verify_pinned_server(SSL* ssl, std::string_view pinned_ca_fingerprint) {
  const ossl::ErrorScope errors;
  if (ssl == nullptr) {
    return "no TLS session";
  }
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr) {
    return "the core presented no certificate";
  }
  // On the client side the chain starts with the peer's own certificate.
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  X509* pinned = nullptr;
  for (int i = 0; !pinned_ca_fingerprint.empty() && chain != nullptr && i < sk_X509_num(chain); ++i) {
    X509* candidate = sk_X509_value(chain, i);
    if (certificate_fingerprint(candidate) == pinned_ca_fingerprint) {
      pinned = candidate;
      break;
    }
  }
  if (pinned == nullptr) {
    return "the core's certificate chain does not hold the CA of the join token (fingerprint mismatch)";
  }
  // Finding the pinned certificate proves nothing yet (it is public): the
  // core's own certificate must be issued by it, for this purpose and name,
  // and the handshake proved the core holds that certificate's key.
  const ossl::Store store(X509_STORE_new());
  const ossl::StoreCtx context(X509_STORE_CTX_new());
  if (!store || !context || X509_STORE_add_cert(store.get(), pinned) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), leaf, chain) != 1 ||
      X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER) != 1) {
    return fmt::format("cannot set up the verification: {}", ossl::last_error());
  }
  X509_VERIFY_PARAM* parameters = X509_STORE_CTX_get0_param(context.get());
  if (X509_VERIFY_PARAM_set1_host(parameters, kCoreServerName, 0) != 1) {
    return fmt::format("cannot set up the verification: {}", ossl::last_error());
  }
  if (X509_verify_cert(context.get()) != 1) {
    return fmt::format("the core's certificate does not verify against the pinned CA: {}",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get())));
  }
  return {};
}

std::optional<std::int64_t> seconds_left(std::string_view certificate_pem) {
  const ossl::ErrorScope errors;
  const ossl::Certificate certificate = ossl::parse_certificate(certificate_pem);
  if (!certificate) {
    return std::nullopt;
  }
  const auto not_after = unix_time(X509_get0_notAfter(certificate.get()));
  if (!not_after) {
    return std::nullopt;
  }
  return *not_after - now_unix();
}

std::string write_file(const fs::path& file, std::string_view content, bool private_file) {
  const mode_t mode = private_file ? 0600 : 0644;
  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::string temporary = (folder / ("." + file.filename().string() + ".XXXXXX")).string();
  // mkostemp creates the file 0600 and exclusively: the content is never
  // readable by others, not even before the fchmod below.
  const int fd = mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) {
    return fmt::format("cannot write {}: {}", file.string(), errno_text(errno));
  }
  const auto fail = [&](int error) {
    ::close(fd);
    ::unlink(temporary.c_str());
    return fmt::format("cannot write {}: {}", file.string(), errno_text(error));
  };
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(errno);
    }
    done += static_cast<std::size_t>(n);
  }
  // fchmod, not the umask: the mode is part of the contract.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    return fail(errno);
  }
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return fmt::format("cannot write {}: {}", file.string(), errno_text(error));
  }
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return fmt::format("cannot write {}: {}", file.string(), errno_text(error));
  }
  // The rename is durable only once the folder is synced.
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
  return {};
}

std::string use_certificate(SSL_CTX* ctx, std::string_view certificate_pem, std::string_view key_pem,
                            std::string_view chain_pem) {
  const ossl::ErrorScope errors;
  if (ctx == nullptr) {
    return "no TLS context";
  }
  const ossl::Certificate certificate = ossl::parse_certificate(certificate_pem);
  if (!certificate) {
    return "not a PEM certificate";
  }
  const ossl::Pkey key = ossl::parse_private_key(key_pem);
  if (!key) {
    return "not an unencrypted PEM private key";
  }
  if (SSL_CTX_use_certificate(ctx, certificate.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return fmt::format("the certificate and key cannot be used: {}", ossl::last_error());
  }
  if (!chain_pem.empty()) {
    const ossl::Certificate chain = ossl::parse_certificate(chain_pem);
    if (!chain) {
      return "the chain is not a PEM certificate";
    }
    if (SSL_CTX_add1_chain_cert(ctx, chain.get()) != 1) {
      return fmt::format("cannot add the chain certificate: {}", ossl::last_error());
    }
  }
  return {};
}

std::string trust_certificate(SSL_CTX* ctx, std::string_view ca_pem) {
  const ossl::ErrorScope errors;
  if (ctx == nullptr) {
    return "no TLS context";
  }
  const ossl::Certificate certificate = ossl::parse_certificate(ca_pem);
  if (!certificate) {
    return "not a PEM certificate";
  }
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (store == nullptr || X509_STORE_add_cert(store, certificate.get()) != 1) {
    return fmt::format("cannot trust the certificate: {}", ossl::last_error());
  }
  return {};
}

}  // namespace honeycomb::security
