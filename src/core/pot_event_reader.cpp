// See pot_event_reader.hpp.
#include "core/pot_event_reader.hpp"

#include "events/normalize.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>

#include <array>
#include <cmath>
#include <functional>

namespace honeycomb::core {
namespace {

namespace json = boost::json;

/// The Framer's parser nests at most this deep (json::parse_options'
/// default); a deeper envelope is an error there, so it is one here too.
constexpr std::size_t kMaxDepth = json::parse_options().max_depth;

/// Which value the parser will report next, at the levels this reader
/// understands. Inside the record, only `field` and `layer` matter; every
/// other value there is just copied.
enum class Slot : std::uint8_t {
  none,
  version,
  message,
  pot_event,
  node_id,
  pot_id,
  pot_type,
  event_type,
  timestamp,
  event_id,
  seq,
  data,
  field,  ///< a member normalize() reads: kept in the small record
  layer,  ///< the record's `data` or `metadata`: its members are read too
};

/// The PotEvent members this reader takes; any other (the Go node's
/// `event`, `metadata`, `message`, or something newer) is left to the
/// general path. A bit each, to turn duplicates away too.
struct PotMember {
  std::string_view name;
  Slot slot;
};
constexpr std::array<PotMember, 8> kPotMembers{{
    {"node_id", Slot::node_id},
    {"pot_id", Slot::pot_id},
    {"pot_type", Slot::pot_type},
    {"event_type", Slot::event_type},
    {"timestamp", Slot::timestamp},
    {"event_id", Slot::event_id},
    {"seq", Slot::seq},
    {"data", Slot::data},
}};

bool within(std::string_view inner, std::string_view outer) {
  const std::less_equal<> le;
  return le(outer.data(), inner.data()) && le(inner.data() + inner.size(), outer.data() + outer.size());
}

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/// Appends valid JSON text without the whitespace outside its strings.
void append_compact(std::string& out, std::string_view text) {
  const std::size_t base = out.size();
  out.resize(base + text.size());
  char* w = out.data() + base;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      *w++ = c;
      if (c == '\\' && i + 1 < text.size()) {
        *w++ = text[++i];  // the escaped character, never the string's end
      } else if (c == '"') {
        in_string = false;
      }
    } else if (!is_json_space(c)) {
      in_string = c == '"';
      *w++ = c;
    }
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
}

/// Reads, as Boost.JSON's push parser reports the envelope: the envelope's
/// fields; where the record's text lies in the input, and how long it is
/// without whitespace; and a small record with only the members normalize()
/// reads. The record's text is then copied as it was sent (one memcpy when
/// it has no whitespace to leave out). Any handler returning false stops the
/// parse: the envelope goes the general way.
class Handler {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  void start(std::string_view input) {
    input_ = input;
    depth_ = 0;
    slot_ = Slot::none;
    envelope_seen_ = 0;
    pot_seen_ = 0;
    message_members_ = 0;
    version_ = 0;
    node_id_ = 0;
    seq_.reset();
    envelope_ = events::Envelope{};
    after_data_key_ = nullptr;
    data_begin_ = nullptr;
    data_closed_ = false;
    closers_after_data_ = 0;
    after_data_ = nullptr;
    compact_size_ = 0;
    escaped_ = false;
    // A parse stopped half-way leaves these behind.
    key_.clear();
    key_split_ = false;
    string_.clear();
    string_split_ = false;
    number_size_ = 0;
    record_.reset();
    memory_.emplace(buffer_.data(), buffer_.size());
    record_.emplace(json::storage_ptr(&*memory_));
    targets_.fill(nullptr);
  }

  /// After a complete parse that ended at `value_end`: the event, or
  /// nullopt when the envelope was not a whole version-2 PotEvent with
  /// everything the general path requires.
  std::optional<ReadPotEvent> finish(const char* value_end, std::int64_t received_us) {
    if (version_ != 2 || !has(pot_seen_, Slot::node_id) || !has(pot_seen_, Slot::pot_id) ||
        !has(pot_seen_, Slot::event_type)) {
      return std::nullopt;
    }
    std::string raw;
    if (data_begin_ == nullptr) {
      raw = "{}";  // no `data`, or null: an empty record
    } else {
      const char* data_end = record_end(after_data_ != nullptr ? after_data_ : value_end);
      if (data_end == nullptr) {
        return std::nullopt;
      }
      const std::string_view text(data_begin_, static_cast<std::size_t>(data_end - data_begin_));
      if (!escaped_ && compact_size_ == text.size()) {
        raw.assign(text);
      } else {
        raw.reserve(text.size());
        append_compact(raw, text);
      }
    }
    envelope_.node_id = node_id_;
    ReadPotEvent out;
    out.event = events::normalize(*record_, envelope_, received_us, std::move(raw));
    out.seq = seq_;
    return out;
  }

  bool on_document_begin(json::error_code& /*ec*/) { return true; }
  bool on_document_end(json::error_code& /*ec*/) { return true; }
  bool on_object_begin(json::error_code& ec) { return open(false, ec); }
  bool on_object_end(std::size_t n, json::error_code& /*ec*/) { return close(n); }
  bool on_array_begin(json::error_code& ec) { return open(true, ec); }
  bool on_array_end(std::size_t n, json::error_code& /*ec*/) { return close(n); }

  bool on_key_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    key_.append(s.data(), s.size());
    key_split_ = true;
    return true;
  }
  bool on_key(json::string_view s, std::size_t /*n*/, json::error_code& ec) {
    std::string_view key(s.data(), s.size());
    const bool as_sent = !key_split_ && within(key, input_);
    if (key_split_) {
      key_.append(s.data(), s.size());
      key = key_;
    }
    const bool ok = depth_ < kRecordDepth ? envelope_key(key, as_sent) : record_key(key, as_sent);
    key_split_ = false;
    key_.clear();
    return ok || bail(ec);
  }

  bool on_string_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    string_.append(s.data(), s.size());
    string_split_ = true;
    return true;
  }
  bool on_string(json::string_view s, std::size_t /*n*/, json::error_code& ec) {
    std::string_view text(s.data(), s.size());
    const bool as_sent = !string_split_ && within(text, input_);
    if (string_split_) {
      string_.append(s.data(), s.size());
      text = string_;
    }
    const bool ok = string_value(text, as_sent);
    string_split_ = false;
    string_.clear();
    return ok || bail(ec);
  }

  bool on_number_part(json::string_view s, json::error_code& /*ec*/) {
    number_size_ += s.size();
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view s, json::error_code& ec) {
    const bool ok = depth_ < kRecordDepth
                        ? envelope_number(i >= 0 ? std::optional(static_cast<std::uint64_t>(i)) : std::nullopt)
                        : record_scalar(json::value(i), number_size(s));
    return ok || bail(ec);
  }
  bool on_uint64(std::uint64_t u, json::string_view s, json::error_code& ec) {
    // A version above INT64_MAX is a mismatch: the general path warns.
    const bool ok = depth_ < kRecordDepth ? slot_ != Slot::version && envelope_number(u)
                                          : record_scalar(json::value(u), number_size(s));
    return ok || bail(ec);
  }
  bool on_double(double d, json::string_view s, json::error_code& ec) {
    // A double where the envelope wants an integer, or a number out of
    // range (the general path writes it as null): general path.
    const bool ok = depth_ >= kRecordDepth && std::isfinite(d) && record_scalar(json::value(d), number_size(s));
    return ok || bail(ec);
  }
  bool on_bool(bool b, json::error_code& ec) {
    return (depth_ >= kRecordDepth && record_scalar(json::value(b), b ? 4 : 5)) || bail(ec);
  }
  bool on_null(json::error_code& ec) {
    if (depth_ >= kRecordDepth) {
      return record_scalar(nullptr, 4) || bail(ec);
    }
    // The general path reads a null member as a missing one.
    switch (std::exchange(slot_, Slot::none)) {
      case Slot::pot_type:
      case Slot::timestamp:
      case Slot::event_id:
      case Slot::seq:
      case Slot::data:
        return true;
      default:
        return bail(ec);
    }
  }
  bool on_comment_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
  bool on_comment(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }

 private:
  /// Depths: 1 the envelope, 2 `message`, 3 the PotEvent, 4 the record.
  static constexpr std::size_t kRecordDepth = 4;
  /// One past the deepest container the parser lets through.
  static constexpr std::size_t kStack = kMaxDepth + 2;

  static constexpr std::uint32_t bit(Slot s) { return std::uint32_t{1} << static_cast<unsigned>(s); }
  static bool has(std::uint32_t seen, Slot s) { return (seen & bit(s)) != 0; }

  static bool bail(json::error_code& ec) {
    ec = json::error::syntax;  // any error: the parse stops, the general path takes over
    return false;
  }

  /// Marks a member seen; false when it was seen before (duplicate).
  static bool first_time(std::uint32_t& seen, Slot s) {
    if (has(seen, s)) {
      return false;
    }
    seen |= bit(s);
    return true;
  }

  bool envelope_key(std::string_view key, bool as_sent) {
    if (data_closed_ && after_data_ == nullptr) {
      // The first token after the record: its text ends before this key's
      // opening quote (record_end()).
      if (!as_sent) {
        return false;
      }
      after_data_ = key.data() - 1;
    }
    switch (depth_) {
      case 1:
        slot_ = key == "version" ? Slot::version : key == "message" ? Slot::message : Slot::none;
        return slot_ != Slot::none && first_time(envelope_seen_, slot_);
      case 2:
        slot_ = Slot::pot_event;
        return key == "PotEvent" && message_members_++ == 0;
      case 3:
        for (const auto& m : kPotMembers) {
          if (m.name == key) {
            slot_ = m.slot;
            if (m.slot == Slot::data) {
              if (!as_sent) {
                return false;
              }
              after_data_key_ = key.data() + key.size();  // its closing quote
            }
            return first_time(pot_seen_, m.slot);
          }
        }
        return false;
      default:
        return false;
    }
  }

  bool record_key(std::string_view key, bool as_sent) {
    account_text(key, as_sent, 3);  // "key":
    slot_ = Slot::none;
    if (targets_[depth_] != nullptr && events::reads_key(key)) {
      slot_ = Slot::field;
      field_key_.assign(key);
    } else if (depth_ == kRecordDepth && (key == "data" || key == "metadata")) {
      slot_ = Slot::layer;
      field_key_.assign(key);
    }
    return true;
  }

  void account_text(std::string_view text, bool as_sent, std::size_t punctuation) {
    if (as_sent) {
      compact_size_ += text.size() + punctuation;
    } else {
      escaped_ = true;  // its size as sent is not known: the copy strips whitespace itself
    }
  }

  bool string_value(std::string_view text, bool as_sent) {
    if (depth_ >= kRecordDepth) {
      account_text(text, as_sent, 2);
      if (slot_ == Slot::field) {
        return keep(json::value(json::string_view(text.data(), text.size()), record_->storage()));
      }
      return keep(nullptr);  // not kept: no copy
    }
    switch (std::exchange(slot_, Slot::none)) {
      case Slot::pot_id:
        envelope_.pot_id.assign(text);
        return true;
      case Slot::pot_type:
        envelope_.pot_type.assign(text);
        return true;
      case Slot::event_type:
        envelope_.event_type.assign(text);
        return true;
      case Slot::timestamp:
        envelope_.timestamp.assign(text);
        return true;
      case Slot::event_id:
        envelope_.event_id.assign(text);
        return true;
      default:
        return false;  // node_id or seq as text, a string version...: general path
    }
  }

  bool envelope_number(std::optional<std::uint64_t> n) {
    number_size_ = 0;
    switch (std::exchange(slot_, Slot::none)) {
      case Slot::version:
        version_ = n.value_or(0);
        return true;
      case Slot::node_id:
        node_id_ = n.value_or(0);
        return n.has_value();
      case Slot::seq:
        seq_ = n;
        return n.has_value();
      default:
        return false;
    }
  }

  std::size_t number_size(json::string_view s) { return std::exchange(number_size_, 0) + s.size(); }

  bool record_scalar(json::value&& v, std::size_t text_size) {
    compact_size_ += text_size;
    return keep(std::move(v));
  }

  /// A scalar of the record: kept when normalize() reads it.
  bool keep(json::value&& v) {
    const Slot slot = std::exchange(slot_, Slot::none);
    if (slot == Slot::field) {
      targets_[depth_]->insert_or_assign(field_key_, std::move(v));
    } else if (slot == Slot::layer) {
      record_->erase(field_key_);  // `data` that is not an object: no layer (the last one counts)
    }
    return true;
  }

  bool open(bool array, json::error_code& ec) {
    const Slot slot = std::exchange(slot_, Slot::none);
    if (depth_ + 1 >= kStack) {
      return bail(ec);
    }
    if (depth_ < kRecordDepth - 1) {
      const Slot wanted = depth_ == 0 ? Slot::none : depth_ == 1 ? Slot::message : Slot::pot_event;
      if (array || slot != wanted) {
        return bail(ec);
      }
    } else if (depth_ == kRecordDepth - 1) {
      if (array || slot != Slot::data || !find_record_begin()) {
        return bail(ec);
      }
      targets_[kRecordDepth] = &*record_;
    } else {
      if (slot == Slot::field) {
        return bail(ec);  // a list or object where the table wants text: general path
      }
      targets_[depth_ + 1] = nullptr;
      if (slot == Slot::layer) {
        if (array) {
          record_->erase(field_key_);
        } else {
          auto& layer = record_->insert_or_assign(field_key_, json::object(record_->storage())).first->value();
          targets_[depth_ + 1] = &layer.get_object();
        }
      }
    }
    ++depth_;
    if (depth_ >= kRecordDepth) {
      compact_size_ += 1;
    }
    return true;
  }

  bool close(std::size_t n) {
    if (depth_ >= kRecordDepth) {
      compact_size_ += 1 + (n > 0 ? n - 1 : 0);  // the bracket and the commas
      if (depth_ == kRecordDepth) {
        data_closed_ = true;
      }
    } else if (data_closed_ && after_data_ == nullptr) {
      ++closers_after_data_;
    }
    --depth_;
    return true;
  }

  /// The record's '{': after the `data` key's closing quote, JSON
  /// whitespace and the colon.
  bool find_record_begin() {
    const char* p = after_data_key_ + 1;
    const char* const end = input_.data() + input_.size();
    while (p != end && (is_json_space(*p) || *p == ':')) {
      ++p;
    }
    if (p == end || *p != '{') {
      return false;
    }
    data_begin_ = p;
    return true;
  }

  /// One past the record's '}', found back from `next`, the first byte
  /// after the record the parser told us the place of (the next key's
  /// quote, or the envelope's end): in between lie only whitespace, commas
  /// and the brackets of the objects closed after the record.
  const char* record_end(const char* next) const {
    std::size_t brackets = closers_after_data_ + 1;
    const char* p = next;
    while (p > data_begin_) {
      const char c = *(p - 1);
      if (c == '}') {
        if (--brackets == 0) {
          return p;
        }
      } else if (!is_json_space(c) && c != ',') {
        return nullptr;
      }
      --p;
    }
    return nullptr;
  }

  std::string_view input_;
  std::size_t depth_ = 0;
  std::size_t message_members_ = 0;
  std::uint64_t version_ = 0;
  std::uint64_t node_id_ = 0;
  std::optional<std::uint64_t> seq_;
  std::uint32_t envelope_seen_ = 0;
  std::uint32_t pot_seen_ = 0;
  Slot slot_ = Slot::none;
  bool data_closed_ = false;   ///< the record's '}' has been parsed
  bool escaped_ = false;       ///< a key or string of the record had escapes: compact_size_ is not known
  bool key_split_ = false;     ///< key_ holds the key's first parts
  bool string_split_ = false;  ///< string_ holds the string's first parts
  events::Envelope envelope_;

  // Where the record's text lies.
  const char* after_data_key_ = nullptr;  ///< the closing quote of the PotEvent's `data` key
  const char* data_begin_ = nullptr;      ///< the record's '{'
  std::size_t closers_after_data_ = 0;    ///< objects closed after the record, before after_data_
  const char* after_data_ = nullptr;      ///< the opening quote of the first key after the record
  std::size_t compact_size_ = 0;          ///< the record's size without whitespace

  std::string key_;              ///< a key reported in parts (escapes)
  std::string string_;           ///< a string reported in parts
  std::size_t number_size_ = 0;  ///< a number's text reported in parts so far
  std::string field_key_;        ///< the record member whose value comes next

  /// Per depth, the small record object that takes the members normalize()
  /// reads (the record itself, its `data` or `metadata`), or null.
  std::array<json::object*, kStack> targets_{};

  /// The small record lives in this buffer (spilling to the heap only for
  /// unusual records); made anew per envelope (see protocol::Framer on
  /// monotonic_resource::release()).
  alignas(16) std::array<unsigned char, 2048> buffer_{};
  std::optional<json::monotonic_resource> memory_;
  std::optional<json::object> record_;
};

json::basic_parser<Handler>& parser() {
  thread_local json::basic_parser<Handler> p{json::parse_options()};
  return p;
}

}  // namespace

std::optional<ReadPotEvent> read_pot_event(std::string_view envelope, std::int64_t received_us) {
  auto& p = parser();
  p.reset();
  p.handler().start(envelope);
  json::error_code ec;
  std::size_t used = 0;
  try {
    used = p.write_some(false, envelope.data(), envelope.size(), ec);
  } catch (const std::exception&) {  // allocation failure: the general path reports it
    return std::nullopt;
  }
  const char* value_end = envelope.data() + used;
  while (used < envelope.size() && is_json_space(envelope[used])) {
    ++used;
  }
  if (ec || !p.done() || used != envelope.size()) {
    return std::nullopt;
  }
  return p.handler().finish(value_end, received_us);
}

}  // namespace honeycomb::core
