// The core's private certificate authority and what nodes need from it.
//
// The core keeps one CA (EC P-256, <dir>/ca.key and <dir>/ca.crt). It signs
// its own TLS server certificate for the node port (issue_server) and, at
// enrollment, each node's certificate from the node's CSR (sign_node_csr);
// the node's identity is in the certificate it presents (node_identity), so
// the core never trusts what a node says about itself. A joining node has no
// certificate yet: it pins the CA by the fingerprint carried in the join
// token and checks the core against it (verify_pinned_server).
//
// Nothing here throws on bad input: malformed PEM, CSRs and certificates
// give an error text, std::nullopt or an empty string. OpenSSL 3 EVP APIs
// only; every function leaves this thread's OpenSSL error queue as it found
// it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <openssl/types.h>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace honeycomb::security {

/// The name the core's node-port certificate carries (SAN DNS) and that
/// nodes check, whatever address they dial: the core's address may be an IP
/// or change, its identity does not.
inline constexpr const char* kCoreServerName = "honeycomb-core";

/// URI SAN of a node certificate: this prefix + the node id in decimal.
inline constexpr std::string_view kNodeUriPrefix = "urn:honeycomb:node:";

/// Bytes of the subject CN a node certificate keeps of the node's name
/// (X.520 ub-common-name is 64 characters); cut on a UTF-8 boundary.
inline constexpr std::size_t kMaxNodeNameBytes = 64;

/// Above this a PEM text (CSR, certificate) is refused without parsing.
inline constexpr std::size_t kMaxPemBytes = std::size_t{64} * 1024;

/// Longest certificate validity accepted (100 years); keeps time arithmetic in range.
inline constexpr std::chrono::seconds kMaxValidity{std::int64_t{100} * 366 * 24 * 3600};

struct IssuedCertificate {
  std::string certificate_pem;
  std::string key_pem;         ///< private key PEM when we generated the key, empty when we signed a CSR
  std::string serial;          ///< lower-case hex of the serial number (random, 127 bits, positive)
  std::int64_t not_after = 0;  ///< unix seconds
};

/// The core's CA. Cheap to copy (the key and certificate are shared,
/// immutable); the const members may run concurrently on any threads.
class CertificateAuthority {
 public:
  /// Loads <dir>/ca.key and <dir>/ca.crt, or, when neither exists, creates
  /// them: EC P-256 key (file mode 0600, `dir` created if needed and set to
  /// 0700), self-signed CA certificate valid 10 years, CN "honeycomb core CA
  /// <8 random hex>", basicConstraints critical CA:TRUE pathlen:0, keyUsage
  /// critical keyCertSign+cRLSign, subjectKeyIdentifier (ca.crt mode 0644).
  /// One existing without the other, unreadable or malformed files, a key
  /// that does not match the certificate or a certificate that is not a CA:
  /// an error naming the file. Blocking (file I/O).
  static std::variant<CertificateAuthority, std::string> load_or_create(const std::filesystem::path& dir);

  const std::string& certificate_pem() const { return certificate_pem_; }
  /// certificate_fingerprint(certificate_pem()): what join tokens carry.
  const std::string& fingerprint() const { return fingerprint_; }

  /// The core's TLS server certificate for its node port, with a fresh P-256
  /// key: subject CN and SAN DNS kCoreServerName, EKU serverAuth only,
  /// keyUsage critical digitalSignature, basicConstraints CA:FALSE,
  /// subject/authorityKeyIdentifier, not_before = now - 5 min. All fields
  /// empty when `validity` is not in (0, kMaxValidity] or OpenSSL fails.
  IssuedCertificate issue_server(std::chrono::seconds validity) const;

  /// Signs a node's CSR. The CSR's own signature must verify and its key be
  /// EC P-256 or Ed25519; its subject and extensions are ignored: the
  /// certificate has subject CN = `node_name` (cut to kMaxNodeNameBytes; an
  /// empty name or one with control characters or invalid UTF-8 is refused),
  /// SAN URI kNodeUriPrefix + node_id (node_id != 0), EKU clientAuth only,
  /// keyUsage critical digitalSignature, basicConstraints critical CA:FALSE,
  /// subject/authorityKeyIdentifier, not_before = now - 5 min, a random
  /// serial. `csr_pem` may be hostile: any defect gives an error text.
  std::variant<IssuedCertificate, std::string> sign_node_csr(std::string_view csr_pem, std::uint64_t node_id,
                                                             std::string_view node_name,
                                                             std::chrono::seconds validity) const;

 private:
  CertificateAuthority(std::shared_ptr<EVP_PKEY> key, std::shared_ptr<X509> certificate);

  std::shared_ptr<EVP_PKEY> key_;
  std::shared_ptr<X509> certificate_;
  std::string certificate_pem_;
  std::string fingerprint_;
};

struct KeyAndCsr {
  std::string key_pem;
  std::string csr_pem;
};
/// A node's new EC P-256 key and a CSR for it (subject CN = `node_name`
/// when it makes a valid CN, else an empty subject: the CA ignores it anyway).
/// Both empty when OpenSSL fails.
KeyAndCsr make_node_key_and_csr(std::string_view node_name);

/// Who a node certificate says the node is.
struct NodeIdentity {
  std::uint64_t node_id = 0;
  std::string node_name;  ///< the subject CN (UTF-8)
  std::string serial;     ///< lower-case hex, as IssuedCertificate::serial
  std::int64_t not_after = 0;
};
/// From a certificate OpenSSL has already verified (the TLS peer): the node
/// id from the SAN URI kNodeUriPrefix + id (exactly one such URI, decimal,
/// no sign, no leading zero, no other characters, fits u64, != 0) and the
/// subject CN as name (exactly one CN). nullopt when absent or malformed.
/// Does not verify anything itself.
std::optional<NodeIdentity> node_identity(X509* certificate);
std::optional<NodeIdentity> node_identity_pem(std::string_view certificate_pem);

/// Base64url (no padding, 43 characters) of SHA-256 over the DER
/// certificate; "" for unparsable PEM or a null certificate.
std::string certificate_fingerprint(std::string_view certificate_pem);
std::string certificate_fingerprint(X509* certificate);

/// The TLS client side of enrollment, after a handshake done with
/// SSL_VERIFY_NONE (the node has no trust anchor yet): the peer's chain
/// (SSL_get_peer_cert_chain; the core must send its CA after its own
/// certificate, see use_certificate) must contain a certificate whose
/// fingerprint equals `pinned_ca_fingerprint`, and the peer's certificate
/// must verify against exactly that CA (a store holding only it, purpose
/// sslserver, host kCoreServerName, current time). "" on success, else why not.
std::string verify_pinned_server(SSL* ssl, std::string_view pinned_ca_fingerprint);

/// Seconds until notAfter of a PEM certificate (negative once expired);
/// nullopt when unparsable.
std::optional<std::int64_t> seconds_left(std::string_view certificate_pem);

/// Writes `file` atomically (a temporary file in the same folder, fsync,
/// rename, fsync of the folder) with mode 0600, or 0644 when
/// `private_file` is false, whatever the umask. The folder must exist.
/// "" on success, else an error naming the file.
std::string write_file(const std::filesystem::path& file, std::string_view content, bool private_file = true);

/// Makes `ctx` present `certificate_pem` with `key_pem` (checked to match)
/// and, when `chain_pem` is not empty, send that certificate after it (the
/// core sends its CA so that a joining node finds the pinned one).
/// "" on success, else why not.
std::string use_certificate(SSL_CTX* ctx, std::string_view certificate_pem, std::string_view key_pem,
                            std::string_view chain_pem = {});
/// Adds `ca_pem` to the certificates `ctx` trusts when verifying its peer.
/// Verification mode, purpose and host stay the caller's choice.
/// "" on success, else why not.
std::string trust_certificate(SSL_CTX* ctx, std::string_view ca_pem);

}  // namespace honeycomb::security
