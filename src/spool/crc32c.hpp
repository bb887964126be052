// CRC-32C implementations behind spool::crc32c(), exposed so tests can check
// that the hardware path and the portable one agree.
#pragma once

#include <cstdint>
#include <string_view>

namespace honeycomb::spool::detail {

/// Portable slicing-by-8 table implementation (any CPU).
std::uint32_t crc32c_table(std::string_view bytes, std::uint32_t crc);

/// True when this CPU has the SSE4.2 `crc32` instruction.
bool crc32c_hardware_available();

/// SSE4.2 implementation; call only when crc32c_hardware_available().
std::uint32_t crc32c_hardware(std::string_view bytes, std::uint32_t crc);

}  // namespace honeycomb::spool::detail
