// Filter parsing is strict (unknown keys and wrong types are errors, so a
// typo does not silently mean "everything"); matching compares bytes and
// prefixes only.
#include "core/ws/stream_filter.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <array>
#include <charconv>
#include <limits>

namespace honeycomb::core::ws {
namespace {

namespace json = boost::json;
namespace ip = boost::asio::ip;
using FilterResult = boost::system::result<StreamFilter, std::string>;

constexpr std::array<StreamItem::Kind, 4> kAllKinds = {StreamItem::Kind::event, StreamItem::Kind::node_status,
                                                       StreamItem::Kind::pot_status, StreamItem::Kind::node_event};

unsigned kind_bit(StreamItem::Kind kind) {
  return 1U << static_cast<unsigned>(kind);
}

bool has_pot_fields(StreamItem::Kind kind) {
  return kind == StreamItem::Kind::event || kind == StreamItem::Kind::pot_status;
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return v;
}

/// A string field: null or "" leave `out` empty.
std::optional<std::string> string_field(const json::value& v, std::string_view key, std::string& out) {
  if (v.is_null()) {
    return std::nullopt;
  }
  if (!v.is_string()) {
    return "filter." + std::string(key) + " must be a string";
  }
  if (v.get_string().size() > kMaxFilterStringLength) {
    return "filter." + std::string(key) + " is longer than " + std::to_string(kMaxFilterStringLength) + " characters";
  }
  out.assign(v.get_string().data(), v.get_string().size());
  return std::nullopt;
}

/// Writes the network part of `bytes` (prefix bits kept, the rest zero).
void clear_host_bits(std::array<unsigned char, 16>& bytes, unsigned prefix, std::size_t length) {
  for (std::size_t i = 0; i < length; ++i) {
    const unsigned bit = static_cast<unsigned>(i) * 8;
    if (bit >= prefix) {
      bytes[i] = 0;
    } else if (prefix - bit < 8) {
      bytes[i] &= static_cast<unsigned char>(0xFF00U >> (prefix - bit));
    }
  }
}

bool prefix_equal(const std::array<unsigned char, 16>& net, const unsigned char* addr, unsigned prefix) {
  const unsigned full = prefix / 8;
  for (unsigned i = 0; i < full; ++i) {
    if (net[i] != addr[i]) {
      return false;
    }
  }
  const unsigned rest = prefix % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<unsigned char>(0xFF00U >> rest);
  return (addr[full] & mask) == net[full];
}

}  // namespace

std::string_view error_quote(std::string_view text) {
  if (text.size() <= kMaxFilterStringLength) {
    return text;
  }
  std::size_t n = kMaxFilterStringLength;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0U) == 0x80U) {
    --n;  // text[n] continues a character: cut before that character
  }
  return text.substr(0, n);
}

boost::system::result<Cidr, std::string> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const std::string address_text(text.substr(0, slash));
  boost::system::error_code ec;
  const auto address = ip::make_address(address_text, ec);
  if (ec || address_text.find('%') != std::string::npos) {
    return "'" + std::string(text) + "' is not an IP address or CIDR network";
  }
  Cidr c;
  c.v6_ = address.is_v6();
  const unsigned max_prefix = c.v6_ ? 128 : 32;
  c.prefix_ = max_prefix;
  if (slash != std::string_view::npos) {
    const auto prefix = parse_u64(text.substr(slash + 1));
    if (!prefix || *prefix > max_prefix) {
      return "'" + std::string(text) + "': the prefix length must be 0 to " + std::to_string(max_prefix);
    }
    c.prefix_ = static_cast<unsigned>(*prefix);
  }
  if (c.v6_) {
    c.bytes_ = address.to_v6().to_bytes();
    clear_host_bits(c.bytes_, c.prefix_, 16);
  } else {
    const auto b = address.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), c.bytes_.begin());
    clear_host_bits(c.bytes_, c.prefix_, 4);
  }
  return c;
}

bool Cidr::contains(const ip::address& address) const {
  if (v6_) {
    const auto b =
        address.is_v6() ? address.to_v6().to_bytes() : ip::make_address_v6(ip::v4_mapped, address.to_v4()).to_bytes();
    return prefix_equal(bytes_, b.data(), prefix_);
  }
  ip::address_v4 v4;
  if (address.is_v4()) {
    v4 = address.to_v4();
  } else if (address.to_v6().is_v4_mapped()) {
    v4 = ip::make_address_v4(ip::v4_mapped, address.to_v6());
  } else {
    return false;
  }
  const auto b = v4.to_bytes();
  return prefix_equal(bytes_, b.data(), prefix_);
}

bool Cidr::contains(std::string_view address) const {
  // Longest textual IPv6 address with a zone is well below this.
  if (address.empty() || address.size() > 64) {
    return false;
  }
  boost::system::error_code ec;
  const auto a = ip::make_address(std::string(address), ec);
  return !ec && contains(a);
}

std::string Cidr::text() const {
  std::string out;
  if (v6_) {
    out = ip::address_v6(bytes_).to_string();
  } else {
    out = ip::address_v4(ip::address_v4::bytes_type{bytes_[0], bytes_[1], bytes_[2], bytes_[3]}).to_string();
  }
  return out + "/" + std::to_string(prefix_);
}

bool StreamFilter::matches(const StreamItem& item) const {
  if (kinds != 0 && (kinds & kind_bit(item.kind)) == 0) {
    return false;
  }
  if (node && item.node_id != *node) {
    return false;
  }
  if (has_pot_fields(item.kind)) {
    if (!pot_id.empty() && item.pot_id != pot_id) {
      return false;
    }
    if (!pot_type.empty() && item.pot_type != pot_type) {
      return false;
    }
  }
  if (item.kind == StreamItem::Kind::event) {
    if (!event_type.empty() && item.event_type != event_type) {
      return false;
    }
    if (src && !src->contains(std::string_view(item.src_ip))) {
      return false;
    }
  }
  return true;
}

json::object StreamFilter::to_json() const {
  json::object o;
  if (!pot_type.empty()) {
    o["pot_type"] = pot_type;
  }
  if (!pot_id.empty()) {
    o["pot_id"] = pot_id;
  }
  if (!event_type.empty()) {
    o["event_type"] = event_type;
  }
  if (node) {
    o["node"] = std::to_string(*node);
  }
  if (src) {
    o["src"] = src->text();
  }
  if (kinds != 0) {
    json::array a;
    for (auto k : kAllKinds) {
      if ((kinds & kind_bit(k)) != 0) {
        a.emplace_back(kind_name(k));
      }
    }
    o["kinds"] = std::move(a);
  }
  return o;
}

FilterResult parse_filter(const json::value& value) {
  if (value.is_null()) {
    return StreamFilter{};
  }
  if (!value.is_object()) {
    return std::string("filter must be an object");
  }
  StreamFilter f;
  for (const auto& [key, v] : value.get_object()) {
    std::optional<std::string> error;
    if (key == "pot_type") {
      error = string_field(v, key, f.pot_type);
    } else if (key == "pot_id") {
      error = string_field(v, key, f.pot_id);
    } else if (key == "event_type") {
      error = string_field(v, key, f.event_type);
    } else if (key == "node") {
      if (v.is_null() || (v.is_string() && v.get_string().empty())) {
        f.node.reset();
      } else {
        std::optional<std::uint64_t> node;
        if (v.is_string()) {
          node = parse_u64(std::string_view(v.get_string().data(), v.get_string().size()));
        } else if (v.is_uint64()) {
          node = v.get_uint64();
        } else if (v.is_int64() && v.get_int64() >= 0) {
          node = static_cast<std::uint64_t>(v.get_int64());
        }
        if (!node) {
          error = "filter.node must be a node id (digits)";
        }
        f.node = node;
      }
    } else if (key == "src") {
      std::string text;
      error = string_field(v, key, text);
      if (!error && !text.empty()) {
        auto cidr = Cidr::parse(text);
        if (!cidr) {
          error = "filter.src: " + cidr.error();
        } else {
          f.src = *cidr;
        }
      }
    } else if (key == "kinds") {
      if (v.is_null()) {
        continue;
      }
      if (!v.is_array()) {
        error = "filter.kinds must be an array of strings";
      } else {
        for (const auto& k : v.get_array()) {
          const auto* s = k.if_string();
          bool known = false;
          for (auto kind : kAllKinds) {
            if (s != nullptr && *s == kind_name(kind)) {
              f.kinds |= kind_bit(kind);
              known = true;
            }
          }
          if (!known) {
            error = "filter.kinds: each entry must be one of event, node_status, pot_status, node_event";
            break;
          }
        }
      }
    } else {
      error = "unknown filter key '" + std::string(error_quote(key)) +
              "' (known: pot_type, pot_id, event_type, node, src, kinds)";
    }
    if (error) {
      return std::move(*error);
    }
  }
  return f;
}

}  // namespace honeycomb::core::ws
