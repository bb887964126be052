// PEM and encodings over OpenSSL memory BIOs. Parsing never prompts: a
// password callback that refuses stands in for OpenSSL's default, which
// would read a passphrase from the terminal when a key is encrypted.
#include "security/ossl.hpp"

#include "security/pki.hpp"

#include <climits>
#include <openssl/pem.h>
#include <openssl/rand.h>

namespace honeycomb::security::ossl {
namespace {

int no_password(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return -1;
}

}  // namespace

std::string last_error() {
  const unsigned long code = ERR_peek_last_error();
  if (code == 0) {
    return {};
  }
  const char* reason = ERR_reason_error_string(code);
  if (reason != nullptr) {
    return reason;
  }
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

Bio memory_bio(std::string_view bytes) {
  if (bytes.size() > kMaxPemBytes) {
    return nullptr;
  }
  return Bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string bio_text(BIO* bio) {
  BUF_MEM* memory = nullptr;
  if (bio == nullptr || BIO_get_mem_ptr(bio, &memory) <= 0 || memory == nullptr) {
    return {};
  }
  return {memory->data, memory->length};
}

Certificate parse_certificate(std::string_view pem) {
  const Bio bio = memory_bio(pem);
  if (!bio) {
    return nullptr;
  }
  return Certificate(PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr));
}

Request parse_request(std::string_view pem) {
  const Bio bio = memory_bio(pem);
  if (!bio) {
    return nullptr;
  }
  return Request(PEM_read_bio_X509_REQ(bio.get(), nullptr, no_password, nullptr));
}

Pkey parse_private_key(std::string_view pem) {
  const Bio bio = memory_bio(pem);
  if (!bio) {
    return nullptr;
  }
  return Pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
}

std::string certificate_pem(X509* certificate) {
  const Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || certificate == nullptr || PEM_write_bio_X509(bio.get(), certificate) != 1) {
    return {};
  }
  return bio_text(bio.get());
}

std::string private_key_pem(EVP_PKEY* key) {
  const Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || key == nullptr || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  return bio_text(bio.get());
}

Pkey make_p256_key() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

bool random_bytes(std::span<unsigned char> out) {
  if (out.size() > INT_MAX) {
    return false;
  }
  return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

std::string base64url(std::span<const unsigned char> bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t bits = 0;
  int count = 0;
  for (const unsigned char byte : bytes) {
    bits = (bits << 8) | byte;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += alphabet[(bits >> count) & 63];
    }
  }
  if (count > 0) {
    out += alphabet[(bits << (6 - count)) & 63];
  }
  return out;
}

std::string hex(std::span<const unsigned char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const unsigned char byte : bytes) {
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

bool sha256(std::string_view bytes, std::span<unsigned char, 32> out) {
  unsigned int length = 0;
  return EVP_Digest(bytes.data(), bytes.size(), out.data(), &length, EVP_sha256(), nullptr) == 1 && length == 32;
}

}  // namespace honeycomb::security::ossl
