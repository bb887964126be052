// Internal to src/security: OpenSSL objects owned by unique_ptr, PEM in and
// out of memory, and the small encodings the component shares (base64url,
// hex, random bytes). Not part of the component's API; other components use
// pki.hpp, join_token.hpp and totp.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <span>
#include <string>
#include <string_view>

namespace honeycomb::security::ossl {

/// Deleter calling an OpenSSL free function; works for every type in one line.
template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* object) const noexcept {
    Free(object);
  }
};

using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using Certificate = std::unique_ptr<X509, Deleter<X509_free>>;
using Request = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using Name = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using Integer = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using GeneralNames = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

/// Everything OpenSSL pushes onto this thread's error queue while the scope
/// lives is dropped when it ends. A stale error left behind would make a
/// later, unrelated SSL_get_error() on the same thread report SSL_ERROR_SSL,
/// so every public function of the component opens one.
class ErrorScope {
 public:
  ErrorScope() { ERR_set_mark(); }
  ~ErrorScope() { ERR_pop_to_mark(); }
  ErrorScope(const ErrorScope&) = delete;
  ErrorScope& operator=(const ErrorScope&) = delete;
};

/// The reason of the most recent OpenSSL error on this thread ("" when none).
std::string last_error();

/// A read-only memory BIO over `bytes` (which must outlive it); null when
/// larger than kMaxPemBytes (pki.hpp).
Bio memory_bio(std::string_view bytes);
/// Whatever was written into a memory BIO.
std::string bio_text(BIO* bio);

/// The first PEM certificate of `pem`; null when there is none or it is malformed.
Certificate parse_certificate(std::string_view pem);
/// A PEM certificate signing request; null when malformed.
Request parse_request(std::string_view pem);
/// An unencrypted PEM private key; null when malformed or encrypted (never prompts for a passphrase).
Pkey parse_private_key(std::string_view pem);

std::string certificate_pem(X509* certificate);
/// PKCS#8, unencrypted: the file's mode protects it.
std::string private_key_pem(EVP_PKEY* key);

/// A fresh EC P-256 key; null on failure.
Pkey make_p256_key();

/// Fills `out` from OpenSSL's CSPRNG; false when it fails (it then must not be used).
[[nodiscard]] bool random_bytes(std::span<unsigned char> out);

/// RFC 4648 section 5, without padding.
std::string base64url(std::span<const unsigned char> bytes);
/// Lower-case hex.
std::string hex(std::span<const unsigned char> bytes);

/// SHA-256 of `bytes`.
bool sha256(std::string_view bytes, std::span<unsigned char, 32> out);

}  // namespace honeycomb::security::ossl
