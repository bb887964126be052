// What a node (or anyone reaching the node port) hands the core's security
// code: the certificate request of an Enroll (signed by the CA only when
// valid; its subject ignored), a join token's text, TOTP codes and keys,
// and PEM certificates read back for their node identity. Nothing may
// crash, leak or accept a request that is not a well-formed CSR.
#include "security/join_token.hpp"
#include "security/pki.hpp"
#include "security/totp.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

const honeycomb::security::CertificateAuthority& authority() {
  static const auto ca = [] {
    const auto dir = std::filesystem::temp_directory_path() / ("honeycomb-security-fuzz-" + std::to_string(::getpid()));
    auto loaded = honeycomb::security::CertificateAuthority::load_or_create(dir);
    require(loaded.index() == 0);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return std::get<honeycomb::security::CertificateAuthority>(std::move(loaded));
  }();
  return ca;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace honeycomb::security;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto& ca = authority();

  auto signed_or_error = ca.sign_node_csr(text, 42, "fuzz-node", std::chrono::hours(1));
  if (auto* issued = std::get_if<IssuedCertificate>(&signed_or_error)) {
    // Whatever the request said, the certificate names the node we chose.
    auto identity = node_identity_pem(issued->certificate_pem);
    require(identity && identity->node_id == 42 && identity->node_name == "fuzz-node");
    require(identity->serial == issued->serial);
  }
  if (auto identity = node_identity_pem(text)) {
    require(identity->node_id != 0);
  }
  (void)certificate_fingerprint(text);
  (void)seconds_left(text);

  if (auto token = parse_join_token(text)) {
    require(parse_join_token(format_join_token(*token)).has_value());
  }
  if (auto key = base32_decode(text)) {
    require(base32_decode(base32_encode(*key)) == key);
  }
  // A code checked against a fuzzed key and a fuzzed code against a fixed key.
  const std::string_view half = text.substr(0, size / 2);
  std::int64_t last_step = -1;
  (void)totp_verify(half, text.substr(size / 2), 1'800'000'000, &last_step);
  (void)totp_verify("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", text, 1'800'000'000, &last_step);
  return 0;
}
