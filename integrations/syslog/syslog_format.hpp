// Pure formatting of alerts as syslog messages: RFC 5424 lines, CEF payloads,
// RFC 6587 octet-counting frames. No sockets here, so unit tests can check
// every byte.
#pragma once

#include "pipeline/alert_record.hpp"
#include "plugin/config.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace honeycomb::integrations::syslog {

/// The largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP); longer
/// messages are cut to this many bytes (on a UTF-8 character boundary).
inline constexpr std::size_t max_udp_message = 65507;

/// Limits of RFC 5424 header fields (section 6).
inline constexpr std::size_t max_hostname = 255;
inline constexpr std::size_t max_app_name = 48;
inline constexpr std::size_t max_procid = 128;
inline constexpr std::size_t max_msgid = 32;

/// The SD-ID of the structured-data element every message carries. 32473 is
/// the private enterprise number reserved for documentation (RFC 5612).
inline constexpr std::string_view sd_id = "honeycomb@32473";

/// Everything the formatter needs besides the alert.
struct FormatOptions {
  int facility = 1;                  ///< 0..23; 1 = user
  std::string hostname = "-";        ///< as sent (use header_field() on raw input)
  std::string app_name = "honeycomb";
  std::string procid = "-";
  bool cef = false;                  ///< MSG is a CEF line instead of the alert JSON
  std::string product_version = "-";  ///< CEF Device Version
};

/// Syslog severity of an alert: Alert -> 4 (warning), Mute -> 5 (notice),
/// Ignore -> 6 (informational).
int syslog_severity(plugin::Policy policy);
/// CEF severity (0..10): Alert -> 7, Mute -> 3, Ignore -> 1.
int cef_severity(plugin::Policy policy);
/// The facility code of an RFC 5424 facility name ("user", "local0", ...).
std::optional<int> facility_code(std::string_view name);

/// An RFC 5424 header field: printable US-ASCII without spaces (others
/// become '_'), at most `max_len` bytes, "-" (NILVALUE) when empty.
std::string header_field(std::string_view s, std::size_t max_len);
/// Escapes an SD-PARAM value: '"', '\' and ']' get a backslash.
std::string escape_sd_value(std::string_view s);
/// Escapes a CEF header field: '\' and '|' get a backslash; CR and LF
/// (not allowed in the header) become spaces.
std::string escape_cef_header(std::string_view s);
/// Escapes a CEF extension value: '\' and '=' get a backslash, LF becomes
/// "\n" and CR "\r".
std::string escape_cef_value(std::string_view s);

/// Milliseconds since the epoch of an ISO 8601 UTC timestamp as stamped by
/// the host ("2024-05-01T12:34:56.123456Z"), or nullopt.
std::optional<std::int64_t> epoch_millis(std::string_view iso8601);

/// The alert as one CEF line:
/// `CEF:0|Honeycomb|<service>|<version>|<event_type>|<event_description>|<severity>|<extension>`.
/// See README.md for the field mapping.
std::string format_cef(const pipeline::AlertRecord& record, std::string_view product_version);

/// The alert as one RFC 5424 message (no framing, no trailing newline):
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`.
std::string format_rfc5424(const pipeline::AlertRecord& record, const FormatOptions& options);

/// Appends one RFC 6587 octet-counted frame: `LEN SP MSG`.
void append_octet_counted(std::string& out, std::string_view message);

/// The longest prefix of `s` of at most `max_bytes` bytes that does not cut
/// a UTF-8 sequence in two.
std::string_view truncate_utf8(std::string_view s, std::size_t max_bytes);

}  // namespace honeycomb::integrations::syslog
