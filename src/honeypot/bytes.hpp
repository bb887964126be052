// Attacker bytes made safe to record, and the small text formats the
// honeypots' parameters use (escaped banners, port lists).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::honeypot {

/// The value of hex digit `c` (either case), or -1.
int hex_digit(char c);

/// Lower-case hex, two digits per byte.
std::string to_hex(std::string_view bytes);

/// Printable ASCII kept as is; `\r`, `\n`, `\t` and `\\` escaped C-style;
/// every other byte as `\xNN`. Always valid UTF-8, reversible by unescape().
std::string to_printable(std::string_view bytes);

/// "\n" -> "\r\n": what a terminal (telnet, an SSH pty) needs to start a
/// new line at the left margin.
std::string to_crlf(std::string_view text);

/// Undoes the C-style escapes a banner parameter may hold: `\r \n \t \0 \\`
/// and `\xNN`. nullopt, with `error` set, on a malformed escape.
std::optional<std::string> unescape(std::string_view text, std::string& error);

/// The names of a comma-separated list ("publickey, password"), spaces
/// around each trimmed, empty items skipped.
std::vector<std::string_view> split_list(std::string_view text);

/// "21,23,8000-8003" as a list of ports (1..65535), in the given order,
/// without duplicates. At most `max_ports`. nullopt, with `error` set, on
/// anything else.
std::optional<std::vector<std::uint16_t>> parse_port_list(std::string_view text, std::size_t max_ports,
                                                          std::string& error);

}  // namespace honeycomb::honeypot
