#include "honeypot/ssh_hello.hpp"

#include <gtest/gtest.h>

#include <array>
#include <openssl/evp.h>
#include <string>
#include <vector>

namespace honeycomb::honeypot {
namespace {

using namespace std::string_literals;
using State = SshHelloReader::State;

std::string u32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string name_list(const std::string& text) {
  return u32(static_cast<std::uint32_t>(text.size())) + text;
}

/// A KEXINIT payload with the given lists (kex, hostkey, c2s/s2c ciphers,
/// MACs, compression, languages), then first_kex_follows and reserved.
std::string kexinit_payload(const std::vector<std::string>& lists) {
  std::string payload = "\x14"s + std::string(16, 'C');
  for (const auto& list : lists) {
    payload += name_list(list);
  }
  return payload + '\0' + u32(0);
}

/// The binary packet around `payload` (padding to a multiple of 8, as RFC 4253 asks).
std::string packet(const std::string& payload) {
  std::size_t padding = 8 - ((payload.size() + 5) % 8);
  if (padding < 4) {
    padding += 8;
  }
  return u32(static_cast<std::uint32_t>(payload.size() + padding + 1)) + static_cast<char>(padding) + payload +
         std::string(padding, '\0');
}

std::string md5_hex(const std::string& text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_md5(), nullptr);
  std::string hex;
  for (unsigned i = 0; i < length; ++i) {
    hex += "0123456789abcdef"[digest[i] >> 4];
    hex += "0123456789abcdef"[digest[i] & 15];
  }
  return hex;
}

const std::vector<std::string> kOpenSshLists{"curve25519-sha256,ecdh-sha2-nistp256,ext-info-c",
                                             "ssh-ed25519,rsa-sha2-512",
                                             "chacha20-poly1305@openssh.com,aes128-ctr",
                                             "chacha20-poly1305@openssh.com,aes128-ctr",
                                             "umac-64-etm@openssh.com,hmac-sha2-256",
                                             "umac-64-etm@openssh.com,hmac-sha2-256",
                                             "none,zlib@openssh.com",
                                             "none,zlib@openssh.com",
                                             "",
                                             ""};

TEST(SshHello, HasshIsTheMd5OfTheClientToServerLists) {
  SshHelloReader reader;
  const auto stream = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n" + packet(kexinit_payload(kOpenSshLists));
  EXPECT_EQ(reader.feed(stream), State::done);
  const auto expected_algorithms =
      "curve25519-sha256,ecdh-sha2-nistp256,ext-info-c;chacha20-poly1305@openssh.com,aes128-ctr;"
      "umac-64-etm@openssh.com,hmac-sha2-256;none,zlib@openssh.com"s;
  EXPECT_EQ(reader.hello().version, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6");
  EXPECT_EQ(reader.hello().hassh_algorithms, expected_algorithms);
  EXPECT_EQ(reader.hello().hassh, md5_hex(expected_algorithms));
}

TEST(SshHello, BytesMayArriveOneAtATime) {
  SshHelloReader reader;
  const auto stream = "SSH-2.0-libssh_0.10.6\n" + packet(kexinit_payload(kOpenSshLists)) + "encrypted later";
  State state = State::reading;
  std::size_t fed = 0;
  while (state == State::reading && fed < stream.size()) {
    state = reader.feed(stream.substr(fed++, 1));
    if (fed == 22) {
      EXPECT_EQ(reader.hello().version, "SSH-2.0-libssh_0.10.6");  // known before the KEXINIT
    }
  }
  EXPECT_EQ(state, State::done);
  EXPECT_EQ(reader.hello().hassh.size(), 32U);
  EXPECT_EQ(reader.feed("more"), State::done);  // the rest is not looked at
}

TEST(SshHello, AnythingButSshFirstIsNotSsh) {
  SshHelloReader http;
  EXPECT_EQ(http.feed("GET / HTTP/1.1\r\n"), State::not_ssh);
  EXPECT_EQ(http.first_bytes(), "GET / HTTP/1.1\r\n");
  SshHelloReader tls;
  EXPECT_EQ(tls.feed("\x16\x03\x01\x02\x00"s), State::not_ssh);
  SshHelloReader partial;
  EXPECT_EQ(partial.feed("SS"), State::reading);  // could still be SSH
  EXPECT_EQ(partial.feed("X"), State::not_ssh);
}

TEST(SshHello, AnEndlessVersionLineIsNotSsh) {
  SshHelloReader reader;
  EXPECT_EQ(reader.feed("SSH-2.0-" + std::string(300, 'A')), State::not_ssh);
  EXPECT_LE(reader.first_bytes().size(), 256U);
}

TEST(SshHello, ABadPacketAfterTheVersionIsMalformed) {
  SshHelloReader oversized;
  EXPECT_EQ(oversized.feed("SSH-2.0-x\r\n" + u32(1'000'000) + "\x04"), State::malformed);
  SshHelloReader not_kexinit;
  auto payload = kexinit_payload(kOpenSshLists);
  payload[0] = 21;
  EXPECT_EQ(not_kexinit.feed("SSH-2.0-x\r\n" + packet(payload)), State::malformed);
  SshHelloReader list_overrun;
  auto broken = "\x14"s + std::string(16, 'C') + u32(5000) + "short";
  EXPECT_EQ(list_overrun.feed("SSH-2.0-x\r\n" + packet(broken)), State::malformed);
}

TEST(SshHello, AttackerListsAreRecordedPrintable) {
  auto lists = kOpenSshLists;
  lists[0] = "kex\x01\xff";
  SshClientHello hello;
  ASSERT_TRUE(parse_kexinit_payload(kexinit_payload(lists), hello));
  EXPECT_EQ(hello.hassh_algorithms.substr(0, 12), "kex\\x01\\xff;");
  EXPECT_EQ(hello.hassh, md5_hex("kex\x01\xff;" + lists[2] + ";" + lists[4] + ";" + lists[6]));  // over the raw bytes
}

}  // namespace
}  // namespace honeycomb::honeypot
