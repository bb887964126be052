// A WebSocket client's filter on the live stream: which items of the
// StreamHub it receives. Parsed from the client's JSON (untrusted), matched
// against every published item on the publisher's thread, so matching is
// cheap and never throws.
#pragma once

#include "core/stream_hub.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace honeycomb::core::ws {

/// An IPv4 or IPv6 network ("10.0.0.0/8", "2001:db8::/32"; a single address
/// is a /32 or /128). IPv4 networks also match IPv4-mapped IPv6 addresses
/// ("::ffff:10.1.2.3") and the other way round.
class Cidr {
 public:
  /// Parses "address" or "address/prefix"; host bits are cleared.
  static boost::system::result<Cidr, std::string> parse(std::string_view text);
  bool contains(const boost::asio::ip::address& address) const;
  /// Parses `address` (an item's src_ip); false when it is not an IP address.
  bool contains(std::string_view address) const;
  /// Canonical form, always with the prefix ("10.0.0.0/8").
  std::string text() const;

 private:
  bool v6_ = false;
  std::array<unsigned char, 16> bytes_{};  ///< v4 uses the first 4
  unsigned prefix_ = 0;
};

/// Limits on what a client may put in a filter.
inline constexpr std::size_t kMaxFilterStringLength = 256;

/// The start of `text` (a client's, valid UTF-8) quoted in an error reply:
/// at most kMaxFilterStringLength bytes, cut before a character rather than
/// inside one, so the reply stays valid UTF-8 (a text frame must be).
std::string_view error_quote(std::string_view text);

struct StreamFilter {
  /// Only items of these kinds (bit per StreamItem::Kind); 0: every kind.
  unsigned kinds = 0;
  std::optional<std::uint64_t> node;  ///< node_id of any item
  std::string pot_id;                 ///< events and pot status; empty: any
  std::string pot_type;               ///< events and pot status; empty: any
  std::string event_type;             ///< events only; empty: any
  std::optional<Cidr> src;            ///< events' src_ip

  /// A field a kind of item does not have does not filter it out: a
  /// pot_type filter passes node status items (use `kinds` to drop them).
  bool matches(const StreamItem& item) const;
  /// The filter as the client may send it back (canonical: CIDR network,
  /// node as a string, kinds in a fixed order; unset fields left out).
  boost::json::object to_json() const;
};

/// Parses the value of a client's "filter" key: an object with optional
/// pot_type, pot_id, event_type (strings), node (string of digits or a
/// non-negative integer), src (IP or CIDR) and kinds (array of "event",
/// "node_status", "pot_status", "node_event"). Empty strings, empty arrays
/// and null mean "any". The error text tells the client what was wrong.
boost::system::result<StreamFilter, std::string> parse_filter(const boost::json::value& value);

}  // namespace honeycomb::core::ws
