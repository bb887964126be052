// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). The spool checks
// every record with it: ~1 byte per cycle with tables, several bytes per
// cycle with the SSE4.2 instruction, so checking costs far less than the
// write() that follows. docs/SPOOL.md says why this CRC.
#include "spool/crc32c.hpp"

#include "spool/spool.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define HONEYCOMB_CRC32C_X86 1
#endif

namespace honeycomb::spool {
namespace detail {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78u;

// tables[k][b]: the CRC of byte b followed by k zero bytes, for slicing-by-8.
constexpr std::array<std::array<std::uint32_t, 256>, 8> make_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> tables{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1u) != 0 ? (crc >> 1) ^ kPolynomial : crc >> 1;
    }
    tables[0][b] = crc;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::uint32_t b = 0; b < 256; ++b) {
      const std::uint32_t previous = tables[k - 1][b];
      tables[k][b] = (previous >> 8) ^ tables[0][previous & 0xFFu];
    }
  }
  return tables;
}

constexpr auto kTables = make_tables();

std::uint64_t load_le64(const unsigned char* p) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) {
    value = (value << 8) | p[i];
  }
  return value;
}

}  // namespace

std::uint32_t crc32c_table(std::string_view bytes, std::uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  crc = ~crc;
  while (n >= 8) {
    const std::uint64_t word = load_le64(p) ^ crc;
    crc = kTables[7][word & 0xFF] ^ kTables[6][(word >> 8) & 0xFF] ^ kTables[5][(word >> 16) & 0xFF] ^
          kTables[4][(word >> 24) & 0xFF] ^ kTables[3][(word >> 32) & 0xFF] ^ kTables[2][(word >> 40) & 0xFF] ^
          kTables[1][(word >> 48) & 0xFF] ^ kTables[0][word >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) {
    crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xFF];
  }
  return ~crc;
}

#ifdef HONEYCOMB_CRC32C_X86

bool crc32c_hardware_available() {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}

__attribute__((target("sse4.2"))) std::uint32_t crc32c_hardware(std::string_view bytes, std::uint32_t crc) {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  std::uint32_t c = ~crc;
#if defined(__x86_64__)
  std::uint64_t wide = c;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);  // x86 is little endian, as the CRC wants
    wide = _mm_crc32_u64(wide, word);
    p += 8;
    n -= 8;
  }
  c = static_cast<std::uint32_t>(wide);
#endif
  while (n-- > 0) {
    c = _mm_crc32_u8(c, static_cast<unsigned char>(*p++));
  }
  return ~c;
}

#else

bool crc32c_hardware_available() {
  return false;
}

std::uint32_t crc32c_hardware(std::string_view bytes, std::uint32_t crc) {
  return crc32c_table(bytes, crc);
}

#endif

}  // namespace detail

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc) {
  return detail::crc32c_hardware_available() ? detail::crc32c_hardware(bytes, crc) : detail::crc32c_table(bytes, crc);
}

}  // namespace honeycomb::spool
